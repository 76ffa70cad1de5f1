/**
 * The validated source objects the IR is built from. Each carries the content hash of the record
 * it came from, so a later incremental compiler can reuse per-object results whose hash is unchanged.
 */
import type { Diagnostic } from '../contracts.ts';
import type { ServiceTarget } from './service-ref.ts';

/** The identity of a source object, as it appears in diagnostics. */
export type SourceRef = Diagnostic['source'];

/** One header or query-parameter condition of a Mapping, normalised. */
export interface MappingHeader {
  /** Header name, lowercased (HTTP/2 header names are lowercase); query names keep their case. */
  name: string;
  /** The value required, or `true` when only presence is required (v2 `true`). */
  value: string | true;
  /** True when `value` is an RE2 regular expression (`regex_headers`, `host_regex`, `method_regex`). */
  regex?: boolean;
}

/** Ring-hash / Maglev hash key of a load balancer. */
export type HashKey =
  | { kind: 'cookie'; name: string; path?: string; ttlMs?: number }
  | { kind: 'header'; name: string }
  | { kind: 'source_ip'; enabled: boolean };

/** `load_balancer`: the policy, plus the hash key for ring_hash and maglev. */
export interface LoadBalancer {
  /** Emissary policy name. */
  policy: 'round_robin' | 'least_request' | 'ring_hash' | 'maglev';
  /** The request attribute hashed (ring_hash and maglev only). */
  hash?: HashKey;
}

/** One `circuit_breakers` entry. */
export interface CircuitBreaker {
  /** Envoy routing priority the thresholds apply to. */
  priority: 'DEFAULT' | 'HIGH';
  /** Emissary's cluster-name marker for this breaker (`cbdc100`, `cbnr5`, …). */
  name: string;
  maxConnections?: number;
  maxPendingRequests?: number;
  maxRequests?: number;
  maxRetries?: number;
}

/** `retry_policy`. */
export interface RetryPolicy {
  /** Envoy retry_on tokens, comma-separated. */
  retryOn: string;
  /** Number of retries (Envoy default 1 when absent). */
  numRetries?: number;
  /** Per-try timeout in milliseconds. */
  perTryTimeoutMs?: number;
}

/** `cors`, with list values already split. */
export interface CorsSettings {
  /** Allowed origins, matched exactly. */
  origins: string[];
  methods: string[];
  headers: string[];
  exposedHeaders: string[];
  credentials?: boolean;
  /** Seconds, as text (Envoy's field is a string). */
  maxAge?: string;
}

/** `keepalive`: TCP keepalive on upstream connections. */
export interface Keepalive {
  probes?: number;
  idleTime?: number;
  interval?: number;
}

/** One header to add to requests or responses. */
export interface HeaderToAdd {
  name: string;
  value: string;
  /** Append to an existing value (default) rather than overwrite it. */
  append: boolean;
}

/** One active health check (`health_checks[]`). */
export interface HealthCheck {
  timeoutMs: number;
  intervalMs: number;
  healthyThreshold: number;
  unhealthyThreshold: number;
  http?: {
    path: string;
    host?: string;
    addHeaders: HeaderToAdd[];
    removeHeaders: string[];
    /** Half-open [start, end) status ranges. */
    expectedStatuses: { start: number; end: number }[];
  };
  grpc?: { authority: string; serviceName?: string };
}

/** One rate-limit descriptor entry of a label group. */
export type RateLimitAction =
  | { kind: 'source_cluster' | 'destination_cluster' | 'remote_address' }
  | { kind: 'generic_key'; value: string; key?: string }
  | { kind: 'request_headers'; header: string; key: string; omitIfNotPresent: boolean };

/** `labels`: rate-limit domain → ordered label groups. */
export type RateLimitLabels = Record<string, { name: string; actions: RateLimitAction[] }[]>;

/** Redirect settings of a `host_redirect` Mapping. */
export interface RedirectSpec {
  /** Envoy path_redirect (wins over the other two). */
  path?: string;
  /** Envoy prefix_rewrite of the redirect. */
  prefix?: string;
  /** Envoy regex_rewrite of the redirect. */
  regex?: { pattern: string; substitution: string };
  /** HTTP status of the redirect (301 when absent). */
  responseCode?: 301 | 302 | 303 | 307 | 308;
}

/** A Mapping that passed validation and belongs to the group being compiled. */
export interface MappingSpec {
  /** The object this Mapping came from (source cluster, kind, namespace, name, origin). */
  source: SourceRef;
  /** apiVersion the object was written in. */
  apiVersion: string;
  /** Path to match (`spec.prefix`). */
  prefix: string;
  /** How `prefix` is matched: as a prefix, an RE2 regex (`prefix_regex`) or exactly (`prefix_exact`). */
  pathMatch: 'prefix' | 'regex' | 'exact';
  /** Which of `prefix_regex` / `prefix_exact` were written, with their value (CoreMappingKeys). */
  pathFlags: { prefix_regex?: boolean; prefix_exact?: boolean };
  /** `case_sensitive` when given. */
  caseSensitive: boolean | undefined;
  /** The `service` string exactly as written; part of the cluster name (the redirect host for host_redirect). */
  service: string;
  /** The parsed upstream target (undefined for host_redirect Mappings, whose service is a host name). */
  target: ServiceTarget | undefined;
  /** `spec.weight` (integer 0–100) when given; undefined for unweighted Mappings. */
  weight: number | undefined;
  /** Header conditions in Emissary order: `headers` (sorted), `regex_headers` (sorted), `:authority`, `:method`. */
  headers: MappingHeader[];
  /** Query conditions: `query_parameters` (sorted), then `regex_query_parameters` (sorted). */
  queryParameters: MappingHeader[];
  /** `spec.hostname` (or the deprecated `host`), `*` when absent; a regex when `hostRegex`. */
  hostname: string;
  /**
   * True when the Mapping names no host at all (no `hostname`, `host` or exact `:authority`
   * header). Emissary 2.0+ associates such a Mapping with no Host unless a Host's
   * `mappingSelector` matches its labels (irhost.py `matches_httpgroup`); `hostname` is then `*`.
   */
  hostless: boolean;
  /** True when `host_regex` made the host an RE2 regex. */
  hostRegex: boolean;
  /** Value for Envoy `prefix_rewrite`; undefined when rewriting is disabled (`rewrite: ""`) or regex_rewrite wins. */
  rewrite: string | undefined;
  /** `regex_rewrite`. */
  regexRewrite: { pattern: string; substitution: string } | undefined;
  /** `host_rewrite`. */
  hostRewrite: string | undefined;
  /** `auto_host_rewrite`. */
  autoHostRewrite: boolean | undefined;
  /** `host_redirect: true`: the route redirects to `service` instead of forwarding. */
  hostRedirect: RedirectSpec | undefined;
  /** `shadow: true`: the Mapping mirrors its group's traffic instead of taking a share. */
  shadow: boolean;
  /** `resolver` when given. */
  resolver: string | undefined;
  /** `tls`: a TLSContext name (v2 also `true`: originate TLS without a context). */
  tls: string | true | undefined;
  /** `grpc: true`: HTTP/2 to the upstream. */
  grpc: boolean;
  /** `load_balancer` when given. */
  loadBalancer: LoadBalancer | undefined;
  /** Route timeout in milliseconds (`timeout_ms`); undefined takes the Module default. 0 disables it. */
  timeoutMs: number | undefined;
  /** `idle_timeout_ms` (route idle timeout). */
  idleTimeoutMs: number | undefined;
  /** `connect_timeout_ms`. */
  connectTimeoutMs: number | undefined;
  /** `cluster_idle_timeout_ms`. */
  clusterIdleTimeoutMs: number | undefined;
  /** `cluster_max_connection_lifetime_ms`. */
  clusterMaxConnectionLifetimeMs: number | undefined;
  /** `retry_policy`. */
  retryPolicy: RetryPolicy | undefined;
  /** `circuit_breakers`. */
  circuitBreakers: CircuitBreaker[] | undefined;
  /** `cors`. */
  cors: CorsSettings | undefined;
  /** `add_request_headers` (undefined when absent, so Module defaults apply). */
  addRequestHeaders: HeaderToAdd[] | undefined;
  /** `add_response_headers`. */
  addResponseHeaders: HeaderToAdd[] | undefined;
  /** `remove_request_headers`. */
  removeRequestHeaders: string[] | undefined;
  /** `remove_response_headers`. */
  removeResponseHeaders: string[] | undefined;
  /** `add_linkerd_headers`. */
  addLinkerdHeaders: boolean | undefined;
  /** `allow_upgrade` plus `websocket` for `use_websocket`. */
  allowUpgrade: string[] | undefined;
  /** `spec.precedence` (default 0); higher sorts earlier. */
  precedence: number;
  /** `priority` → Envoy route priority. */
  priority: 'DEFAULT' | 'HIGH' | undefined;
  /** `labels` (rate limiting). */
  labels: RateLimitLabels | undefined;
  /** `bypass_auth` when given. */
  bypassAuth: boolean | undefined;
  /** `auth_context_extensions`. */
  authContextExtensions: Record<string, string> | undefined;
  /** `keepalive`. */
  keepalive: Keepalive | undefined;
  /** `cluster_tag`: extra cluster-name marker. */
  clusterTag: string | undefined;
  /** `stats_name`. */
  statsName: string | undefined;
  /** `health_checks`. */
  healthChecks: HealthCheck[] | undefined;
  /** `dns_type` (recorded; EDS clusters ignore it). */
  dnsType: 'strict_dns' | 'logical_dns' | undefined;
  /** `enable_ipv4` (recorded; EDS clusters ignore it). */
  enableIpv4: boolean | undefined;
  /** `enable_ipv6` (recorded; EDS clusters ignore it). */
  enableIpv6: boolean | undefined;
  /** `metadata.labels` of the object. */
  metadataLabels: Record<string, string>;
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
