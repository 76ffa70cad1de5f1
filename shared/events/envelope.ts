/**
 * The event envelope: one observed change of one source object, as published by an ingestor and
 * folded by the compiler. Encoded with msgpackr using plain maps (no shared structure tables), so
 * every message decodes on its own, forever, whichever producer wrote it.
 */
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { packr } from './msgpack.ts';

/** Envelope schema version; bump on incompatible changes and keep decoding old ones. */
export const ENVELOPE_VERSION = 1;

/**
 * What happened to the object. `resync` marks the end of a full relist by one ingestor. `reject`
 * says the ingestor saw a version of the object it could not publish (too large for the log even
 * compressed, not UTF-8, …): it carries no object, only `reason`; the compiler keeps serving the
 * last version it has, if any, and reports the object as invalid. Readers that predate `reject`
 * ignore it (no object to fold).
 */
export type EventOp = 'upsert' | 'delete' | 'resync' | 'reject';

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
  /**
   * Set on the upserts and deletes a full (re)list publishes: until this cluster's next `resync`
   * marker the log holds only part of the cluster's state, and the compiler holds its commits
   * (sync barrier, services/compiler/sync-barrier.ts). Absent on watch events.
   */
  relist?: true;
  /** Where a YAML-sourced object came from (file path relative to the directory, document index). */
  origin?: { file: string; document: number };
  /** Why the observed version could not be published; present on `reject` only. */
  reason?: string;
}

/**
 * Objects whose msgpack encoding is larger than this travel deflated, in `objectZ` instead of
 * `object`: large annotations and ConfigMap-like payloads compress several times over, which keeps
 * them under the log's message size limit. Readers that predate `objectZ` see an upsert without an
 * object and ignore it.
 */
export const COMPRESS_OVER_BYTES = 64 * 1024;

/** Bound on an inflated object, so a hostile compressed payload cannot exhaust memory. */
const MAX_INFLATED_BYTES = 64 * 1024 * 1024;

/** Encodes an envelope for the wire. */
export function encodeEvent(event: EventEnvelope): Uint8Array {
  const codec = packr();
  if (event.object) {
    const object = codec.pack(event.object);
    if (object.length > COMPRESS_OVER_BYTES) {
      const { object: _, ...rest } = event;
      return codec.pack({ ...rest, objectZ: deflateRawSync(object) });
    }
  }
  return codec.pack(event);
}

const OPS: ReadonlySet<string> = new Set<EventOp>(['upsert', 'delete', 'resync', 'reject']);

/**
 * Decodes an envelope, rejecting anything that is not a well-formed v1 event: every field a reader
 * folds has its documented type, and an object is a map with a kind and a metadata map naming it,
 * so a hostile or corrupt message fails here rather than deep inside a reader.
 */
export function decodeEvent(bytes: Uint8Array): EventEnvelope {
  const value: unknown = packr().unpack(bytes);
  if (!isMap(value)) throw new Error('event is not a map');
  const e = value as Partial<EventEnvelope> & { objectZ?: unknown };
  if (e.v !== ENVELOPE_VERSION) throw new Error(`unsupported event envelope version ${String(e.v)}`);
  if (typeof e.cluster !== 'string' || typeof e.kind !== 'string' || typeof e.op !== 'string') {
    throw new Error('event is missing cluster, kind or op');
  }
  if (!OPS.has(e.op)) throw new Error(`unknown event op ${JSON.stringify(e.op).slice(0, 40)}`);
  if (typeof e.namespace !== 'string' || typeof e.name !== 'string') {
    throw new Error('event namespace and name must be strings');
  }
  if (e.reason !== undefined && typeof e.reason !== 'string')
    throw new Error('event reason must be a string');
  if (
    e.origin !== undefined &&
    !(isMap(e.origin) && typeof e.origin.file === 'string' && Number.isInteger(e.origin.document))
  ) {
    throw new Error('event origin must be {file, document}');
  }
  let event = e as EventEnvelope;
  if (e.objectZ !== undefined) {
    const { objectZ, ...rest } = e;
    if (!(objectZ instanceof Uint8Array)) throw new Error('event objectZ must be bytes');
    event = {
      ...rest,
      object: packr().unpack(inflateRawSync(objectZ, { maxOutputLength: MAX_INFLATED_BYTES })),
    } as EventEnvelope;
  }
  if (event.object !== undefined) {
    const o: unknown = event.object;
    if (
      !isMap(o) ||
      typeof o.kind !== 'string' ||
      !isMap(o.metadata) ||
      typeof o.metadata.name !== 'string'
    ) {
      throw new Error('event object must be a map with a kind and metadata.name');
    }
  }
  return event;
}

function isMap(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

/**
 * A problem an ingestor found in its source that names no publishable object (a YAML document that
 * does not parse, a file that is not UTF-8, a duplicate identity), carried as an object of its own
 * so it reaches the compiler's diagnostics, `/debug/status` and `attache status`: upserted while
 * the problem lasts, deleted when it is gone. `metadata.name` is `<file>#<document>` (or the file).
 */
export const INGEST_ERROR_API_VERSION = 'attache.io/v1';
export const INGEST_ERROR_KIND = 'IngestError';

export interface IngestErrorSpec {
  file: string;
  document?: number;
  line?: number;
  /** Kind and name of the object concerned, when the problem is about one. */
  kind?: string;
  name?: string;
  message: string;
}

/** The `reject` event standing for an upsert that could not be published, and why. */
export function rejectEventFor(upsert: EventEnvelope, reason: string): EventEnvelope {
  const { object: _, ...rest } = upsert;
  return { ...rest, op: 'reject', reason: reason.length > 1000 ? `${reason.slice(0, 1000)}…` : reason };
}

/** Kinds whose changes travel on the endpoint subjects and may take the compiler's fast path. */
export const ENDPOINT_KINDS: ReadonlySet<string> = new Set(['Endpoints', 'EndpointSlice']);

/** The identity of an object in the world state: (cluster, kind, namespace, name). */
export function objectKey(e: Pick<EventEnvelope, 'cluster' | 'kind' | 'namespace' | 'name'>): string {
  return `${e.cluster}/${e.kind}/${e.namespace}/${e.name}`;
}
