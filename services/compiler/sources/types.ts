/**
 * The validated source objects the IR is built from. Each carries the content hash of the record
 * it came from, so a later incremental compiler can reuse per-object results whose hash is unchanged.
 */
import type { Diagnostic } from '../compile.ts';
import type { ServiceTarget } from './service-ref.ts';

/** The identity of a source object, as it appears in diagnostics. */
export type SourceRef = Diagnostic['source'];

/** One header condition of a Mapping (the `headers` map), normalised. */
export interface MappingHeader {
  /** Header name, lowercased (HTTP/2 header names are lowercase). */
  name: string;
  /** The exact value required, or `true` when only presence is required (v2 `true`). */
  value: string | true;
}

/** A Mapping that passed validation and belongs to the group being compiled. */
export interface MappingSpec {
  /** The object this Mapping came from (source cluster, kind, namespace, name, origin). */
  source: SourceRef;
  /** Content hash of the source record (sha256 over cluster and object). */
  sourceHash: string;
  /** Path prefix to match (`spec.prefix`). */
  prefix: string;
  /** The `service` string exactly as written; part of the cluster name. */
  service: string;
  /** The parsed upstream target. */
  target: ServiceTarget;
  /** `spec.weight` (integer 0–100) when given; undefined for unweighted Mappings. */
  weight: number | undefined;
  /** Header conditions from `spec.headers`, sorted by name. */
  headers: MappingHeader[];
  /** `spec.hostname` (or the deprecated `host`), `*` when absent. */
  hostname: string;
  /** Value for Envoy `prefix_rewrite`; undefined when rewriting is disabled (`rewrite: ""`). */
  rewrite: string | undefined;
  /** Route timeout in milliseconds (`timeout_ms`, default 3000); 0 disables the timeout. */
  timeoutMs: number;
  /** `spec.precedence` (default 0); higher sorts earlier. */
  precedence: number;
}

/** A port of a Kubernetes Service (`spec.ports[]`). */
export interface ServicePort {
  /** Port name; empty when unnamed (only allowed for single-port Services). */
  name: string;
  /** The Service port number clients (and Mappings) use. */
  port: number;
  /** Transport protocol, `TCP` unless stated. */
  protocol: string;
}

/** A Kubernetes Service: only its ports matter here. */
export interface KubeService {
  /** Source cluster the Service was observed in. */
  cluster: string;
  /** Namespace of the Service. */
  namespace: string;
  /** Name of the Service. */
  name: string;
  /** Declared ports (malformed entries dropped). */
  ports: ServicePort[];
}

/** A named port on an endpoint subset (EndpointSlice `ports[]`, Endpoints `subsets[].ports[]`). */
export interface EndpointPort {
  /** Name of the Service port this endpoint port serves; empty when unnamed. */
  name: string;
  /** The port the backends listen on. */
  port: number;
  /** Transport protocol, `TCP` unless stated. */
  protocol: string;
}

/** A set of ready backend addresses sharing one port list: one EndpointSlice or one Endpoints subset. */
export interface EndpointSubset {
  /** Ports every address in the subset serves. */
  ports: EndpointPort[];
  /** Ready addresses (IP literals) with their zone (empty when unknown). */
  addresses: { ip: string; zone: string }[];
}

/** Endpoints of one Service in one source cluster, from one EndpointSlice or Endpoints object. */
export interface KubeEndpoints {
  /** Source cluster the object was observed in. */
  cluster: string;
  /** Namespace of the Service the endpoints belong to. */
  namespace: string;
  /** Name of the Service the endpoints belong to. */
  service: string;
  /** Which Kubernetes API the object came from; slices are preferred over Endpoints. */
  via: 'EndpointSlice' | 'Endpoints';
  /** The object's name (for deterministic ordering). */
  objectName: string;
  /** Subsets of ready addresses. */
  subsets: EndpointSubset[];
}

/** Everything parsed from the records for one group. */
export interface ParsedSources {
  /** Valid Mappings of this group. */
  mappings: MappingSpec[];
  /** Every Service, any namespace. */
  services: KubeService[];
  /** Every EndpointSlice and Endpoints object. */
  endpoints: KubeEndpoints[];
  /** Problems found while parsing (invalid objects are skipped). */
  diagnostics: Diagnostic[];
}
