/**
 * The event envelope: one observed change of one source object, as published by an ingestor and
 * folded by the compiler. Encoded with msgpackr using plain maps (no shared structure tables), so
 * every message decodes on its own, forever, whichever producer wrote it.
 */
import { Packr } from 'msgpackr';

/** Envelope schema version; bump on incompatible changes and keep decoding old ones. */
export const ENVELOPE_VERSION = 1;

/** What happened to the object. `resync` marks the end of a full relist by one ingestor. */
export type EventOp = 'upsert' | 'delete' | 'resync';

/** The object metadata the compiler needs. Never includes managedFields. */
export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

/** A Kubernetes-style object as carried in an event (spec and kind-specific top-level fields). */
export interface SourceObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  [field: string]: unknown;
}

/** One change to one object from one source cluster (or YAML directory). */
export interface EventEnvelope {
  /** Envelope schema version ({@link ENVELOPE_VERSION}). */
  v: number;
  /** Name of the source: a Kubernetes cluster name or the name given to a YAML directory. */
  cluster: string;
  /** Object kind, e.g. `Mapping`, `Service`, `EndpointSlice`; empty for `resync`. */
  kind: string;
  /** Object namespace; empty for cluster-scoped objects and `resync`. */
  namespace: string;
  /** Object name; empty for `resync`. */
  name: string;
  op: EventOp;
  /** The source's resourceVersion (Kubernetes) or a content-derived version (YAML). */
  resourceVersion: string;
  /** metadata.generation, 0 when the source has none. */
  generation: number;
  /** When the ingestor observed the change (ISO-8601). Informational only: compilers never read it. */
  observedAt: string;
  /** Identity of the publishing ingestor process (`<kind>/<cluster>/<host>`). */
  ingestor: string;
  /** The object as observed; present on `upsert`, absent on `delete` and `resync`. */
  object?: SourceObject;
  /** Where a YAML-sourced object came from (file path relative to the directory, document index). */
  origin?: { file: string; document: number };
}

const packr = new Packr({ useRecords: false, moreTypes: false, structuredClone: false });

/** Encodes an envelope for the wire. */
export function encodeEvent(event: EventEnvelope): Uint8Array {
  return packr.pack(event);
}

/** Decodes an envelope, rejecting anything that is not a well-formed v1 event. */
export function decodeEvent(bytes: Uint8Array): EventEnvelope {
  const value: unknown = packr.unpack(bytes);
  if (!value || typeof value !== 'object') throw new Error('event is not a map');
  const e = value as Partial<EventEnvelope>;
  if (e.v !== ENVELOPE_VERSION) throw new Error(`unsupported event envelope version ${String(e.v)}`);
  if (typeof e.cluster !== 'string' || typeof e.kind !== 'string' || typeof e.op !== 'string') {
    throw new Error('event is missing cluster, kind or op');
  }
  return e as EventEnvelope;
}

/** Kinds whose changes travel on the endpoint subjects and may take the compiler's fast path. */
export const ENDPOINT_KINDS: ReadonlySet<string> = new Set(['Endpoints', 'EndpointSlice']);

/** The identity of an object in the world state: (cluster, kind, namespace, name). */
export function objectKey(e: Pick<EventEnvelope, 'cluster' | 'kind' | 'namespace' | 'name'>): string {
  return `${e.cluster}/${e.kind}/${e.namespace}/${e.name}`;
}
