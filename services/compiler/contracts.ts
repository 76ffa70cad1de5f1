/**
 * The compiler's contracts: what every pass and every caller of `compile()` share. The ground floor
 * of services/compiler: it imports no pass, so passes never import from their caller.
 */
import type { SourceObject } from '../../shared/events/envelope.ts';
import type { Provenance } from '../../shared/snapshot/provenance.ts';
import type { TypeUrl } from '../../shared/xds/type-urls.ts';

/** How remote (non-local) source clusters' endpoints are used; see ir/endpoint-policy.ts. */
export type RemoteEndpointsMode = 'prefer-local' | 'local-only' | 'merge';

/** One live source object, as folded from the event log. */
export interface SourceRecord {
  /** The source it came from (Kubernetes cluster or YAML directory name). */
  cluster: string;
  object: SourceObject;
  /** Where a YAML-sourced object was defined, for diagnostics. */
  origin?: { file: string; document: number };
  /** The event's resourceVersion (provenance only; compile output never depends on it). */
  resourceVersion?: string;
  /** Sequence of the event that last changed the object (provenance only). */
  seq?: number;
  /**
   * Why the object's latest version could not be ingested (a `reject` event); compile reports it
   * as an error on the object. `object` is then the last version that could, if any.
   */
  rejected?: string;
  /** True when `object` only names the object (no version was ever ingested); it is not parsed. */
  stub?: true;
}

export interface CompileOptions {
  /** The configuration group: the Emissary `ambassador_id` this output is for, e.g. `default`. */
  group: string;
  /** Source clusters local to this group's clients: their endpoints are priority 0 (ir/endpoint-policy.ts). */
  localClusters?: readonly string[];
  /** How other clusters' endpoints are used; default `prefer-local` (ir/endpoint-policy.ts). */
  remoteEndpoints?: RemoteEndpointsMode;
  /**
   * Namespace → the groups its Secrets belong to (`--secret-namespace GROUP=NAMESPACE`); a
   * namespace absent here keeps its Secrets to objects in that namespace (ir/secret-access.ts).
   */
  secretNamespaces?: Readonly<Record<string, readonly string[]>>;
}

/** One chunk of a resource stored in chunks (shared/snapshot/resource-chunks.ts). */
export interface ResourceChunk {
  /** sha256 of the chunk's bytes: its blob key. */
  hash: string;
  /** Where the chunk lies in the resource's bytes: [start, end). */
  start: number;
  end: number;
}

/** One encoded Envoy resource of the output. */
export interface CompiledResource {
  typeUrl: TypeUrl;
  /** xDS resource name, unique per type. */
  name: string;
  /** Canonical protobuf encoding. */
  bytes: Uint8Array;
  /**
   * The resource's identity in the snapshot store: resourceHash(typeUrl, bytes), or for a large
   * route configuration stored in chunks the hash over its chunks (route-chunks.ts).
   */
  hash: string;
  /** Set when the resource is stored in chunks: where they lie in `bytes`, in order. */
  chunks?: readonly ResourceChunk[];
  /** Served only when asked for by name (API listeners for proxyless gRPC clients). */
  onDemand?: true;
  /** The plain object that was encoded (proto field names), for JSON dumps. */
  message: object;
}

/** A problem with one source object: an error skips the object, a warning only reports. */
export interface Diagnostic {
  severity: 'error' | 'warning';
  source: {
    cluster: string;
    kind: string;
    namespace: string;
    name: string;
    file?: string;
    document?: number;
  };
  field?: string;
  message: string;
}

export interface CompileResult {
  resources: CompiledResource[];
  diagnostics: Diagnostic[];
  /** Which source objects produced each resource, virtual host and route. */
  provenance: Provenance;
  /** Set when objects were left out to fit the size limits: the endpoint fast path cannot build on it. */
  sizeRejected?: true;
}
