/**
 * The compiler's intermediate representation: plain data, fully resolved and validated, in final
 * order. Translators turn it into Envoy resources without making any further decisions about
 * grouping, weights, ordering or naming. Private to the compiler.
 */

import type { ServiceTarget } from '../sources/service-ref.ts';
import type {
  CircuitBreaker,
  CorsSettings,
  HashKey,
  HeaderToAdd,
  HealthCheck,
  Keepalive,
  LoadBalancer,
  RateLimitAction,
  RedirectSpec,
  RetryPolicy,
  SourceRef,
} from '../sources/types.ts';
import type { AmbassadorModule } from '../sources/types-module.ts';

/**
 * Parsed settings the IR carries unchanged from sources/ (a Mapping's retry policy, CORS, health
 * check, added headers and rate-limit actions; the Module's connection-manager settings). They are
 * part of the IR's vocabulary: translators name them from here, never from sources/.
 */
export type {
  CorsSettings,
  HeaderToAdd,
  HealthCheck,
  RateLimitAction,
  RetryPolicy,
} from '../sources/types.ts';
export type { AmbassadorModule, IpRule } from '../sources/types-module.ts';

/** Everything the Envoy translators need for one group. */
export interface IR {
  /** HTTP route groups in evaluation order (highest ordering tuple first). */
  groups: RouteGroup[];
  /** Upstream clusters referenced by at least one route, sorted by name. */
  clusters: UpstreamCluster[];
  /** One endpoint set per EDS service name referenced by a cluster, sorted by service name. */
  endpointSets: EndpointSet[];
  /** Exact (non-glob) hostnames of the route groups, sorted: one API listener each for proxyless gRPC. */
  apiHosts: string[];
  /** The effective `ambassador` Module (built-in defaults when there is none). */
  module: AmbassadorModule;
}

/**
 * Lookups into resources other engineers' passes own (resolvers, TLSContexts, RateLimitService).
 * buildIR works without them (the defaults below); compile.ts passes real ones when it has them.
 */
export interface EdgeLookups {
  /** Whether a resolver of this name exists (the implicit Kubernetes resolvers always do). */
  resolverExists(name: string): boolean;
  /**
   * Client TLS for a TLSContext name used by a Mapping's `tls` (origination): the
   * CommonTlsContext to put in the UpstreamTlsContext (proto field names), or undefined when no
   * such TLSContext exists.
   */
  originationTls(name: string, namespace: string): { commonTlsContext: object } | undefined;
  /** The RateLimitService domain; undefined when there is no RateLimitService (labels are then unused). */
  rateLimitDomain: string | undefined;
}

/** Resolver names that exist without a resolver resource (emissary.md §1.1). */
export const IMPLICIT_RESOLVERS = ['kubernetes-service', 'kubernetes-endpoint', 'endpoint'];

export const DEFAULT_EDGE_LOOKUPS: EdgeLookups = {
  resolverExists: (name) => IMPLICIT_RESOLVERS.includes(name),
  originationTls: () => undefined,
  rateLimitDomain: undefined,
};

/** A header (or query-parameter) condition on a route. */
export interface HeaderMatch {
  /** Header name, lowercase (`:authority` for the Mapping hostname, `:method` for its method). */
  name: string;
  /** How the value is compared: equal, starts with, ends with, RE2 full match, or merely present. */
  match: 'exact' | 'prefix' | 'suffix' | 'present' | 'regex';
  /** The value compared against; empty for `present`. */
  value: string;
}

/** Mappings that share prefix, headers (incl. hostname), query conditions and precedence, and so split traffic. */
export interface RouteGroup {
  /** Canonical identity of the group (prefix, header and query conditions, precedence). */
  key: string;
  /** Emissary ordering tuple (emissary.md §2.3); groups are sorted by it, descending. */
  order: readonly (string | number)[];
  /** Path every route of the group matches. */
  prefix: string;
  /** How `prefix` matches: Envoy `prefix`, `safe_regex` or `path`. */
  pathMatch: 'prefix' | 'regex' | 'exact';
  /** Header conditions every route of the group requires, including `:authority` from the hostname. */
  headers: HeaderMatch[];
  /** Query-parameter conditions (`exact`, `regex` or `present`). */
  queryParameters: HeaderMatch[];
  /** The Mappings' hostname (`*` when unconstrained); a regex when `hostRegex`. */
  hostname: string;
  /** True when the hostname is an RE2 regex (`host_regex`). */
  hostRegex: boolean;
  /**
   * Set when the group's Mappings name no host. `selector`: Emissary 2.0+ — only a Host whose
   * mappingSelector matches `labels` takes the group; `every-host`: Ambassador 1.x — every Host
   * takes it (Module `hostless_mappings: every_host`).
   */
  hostless?: 'selector' | 'every-host';
  /** Union of the forwarding Mappings' `metadata.labels` (later members win), for Host mappingSelectors. */
  labels: Record<string, string>;
  /** One route per Mapping: weighted Mappings first (insertion order), then unweighted ones. Empty for a redirect group. */
  routes: HttpRoute[];
  /** For a `host_redirect` group: its single redirect route. */
  redirect?: RedirectRoute;
  /** Group-wide route settings flattened from the Mappings (emissary.md §2.1 table). */
  policy: GroupPolicy;
}

/** Route settings Emissary takes from the group (the last Mapping that sets each wins). */
export interface GroupPolicy {
  requestHeadersToAdd: HeaderToAdd[];
  responseHeadersToAdd: HeaderToAdd[];
  requestHeadersToRemove: string[];
  responseHeadersToRemove: string[];
  /** CORS policy (group's, else the Module's). */
  cors?: CorsSettings;
  /** Retry policy (group's, else the Module's). */
  retryPolicy?: RetryPolicy;
  /** Hash key for ring_hash / maglev load balancing. */
  hash?: HashKey;
  /** Traffic mirroring to the group's shadow Mapping. */
  mirror?: { cluster: string; percent: number; source: SourceRef };
  /** Rate-limit descriptors for the RateLimitService domain (label groups, defaults prepended). */
  rateLimits: RateLimitAction[][];
  /** Protocols the route may upgrade to (`allow_upgrade`, `use_websocket`). */
  upgrades: string[];
  /** `regex_rewrite` (wins over the Mappings' `rewrite`). */
  regexRewrite?: { pattern: string; substitution: string };
  /** Envoy routing priority. */
  priority?: 'DEFAULT' | 'HIGH';
  /** RE2 max_program_size for every regex of the group (Module `regex_max_size`). */
  regexMaxSize: number;
}

/** A redirect route (`host_redirect: true`). */
export interface RedirectRoute extends RedirectSpec {
  /** The Mapping this route comes from. */
  source: SourceRef;
  /** Host to redirect to (the Mapping's `service` as written). */
  host: string;
  /** Path matching case sensitivity (undefined: Envoy's default, sensitive). */
  caseSensitive: boolean | undefined;
}

/** One Envoy route produced by one Mapping. */
export interface HttpRoute {
  /** The Mapping this route comes from. */
  source: SourceRef;
  /** Cumulative traffic threshold (percent, 0–100) of this route within its group (emissary.md §2.2). */
  cumulativeWeight: number;
  /** Name of the upstream cluster the route forwards to. */
  cluster: string;
  /** Envoy `prefix_rewrite`; undefined when rewriting is disabled. */
  prefixRewrite: string | undefined;
  /** Route timeout in milliseconds; 0 disables it. */
  timeoutMs: number;
  /** Route idle timeout in milliseconds (`idle_timeout_ms`). */
  idleTimeoutMs?: number;
  /** `host_rewrite` (Envoy host_rewrite_literal). */
  hostRewrite?: string;
  /** `auto_host_rewrite`. */
  autoHostRewrite?: boolean;
  /** Path matching case sensitivity (undefined: sensitive). */
  caseSensitive?: boolean;
  /** `bypass_auth`: ext_authz is disabled for this route. */
  bypassAuth: boolean;
  /** `auth_context_extensions` for ext_authz. */
  authContextExtensions?: Record<string, string>;
}

/** An upstream cluster, named as Emissary names it (emissary.md §2.2). */
export interface UpstreamCluster {
  /** Envoy cluster name (`cluster_[marker_]<service>[_otls…]_<namespace>[_<cb>][_er-<lb>]`, shortened when long). */
  name: string;
  /** The EDS resource name the cluster's endpoints are published under. */
  edsServiceName: string;
  /** The upstream the cluster points at. */
  target: ServiceTarget;
  /** True when TLS must be originated to the upstream (`https://` or `tls`). */
  originateTls: boolean;
  /** SNI for originated TLS: `host_rewrite`, else the service host. */
  sni?: string;
  /** CommonTlsContext of the Mapping's TLSContext (client certificate), when one is named. */
  tlsContext?: object;
  /** Connection timeout in milliseconds. */
  connectTimeoutMs: number;
  /** Upstream connection idle timeout (`cluster_idle_timeout_ms`). */
  idleTimeoutMs?: number;
  /** Upstream connection max lifetime (`cluster_max_connection_lifetime_ms`). */
  maxConnectionLifetimeMs?: number;
  /** Load-balancing policy (round robin when absent). */
  loadBalancer?: LoadBalancer;
  /** Circuit breakers. */
  circuitBreakers: CircuitBreaker[];
  /** HTTP/2 to the upstream (`grpc: true`). */
  http2: boolean;
  /** TCP keepalive. */
  keepalive?: Keepalive;
  /** Active health checks. */
  healthChecks: HealthCheck[];
  /** Envoy alt_stat_name (`stats_name`, else the service with non-alphanumerics as `_`). */
  statsName: string;
  /** Per-connection buffer limit (Module `buffer_limit_bytes`). */
  bufferLimitBytes?: number;
  /** Resolver name (recorded; every cluster resolves through EDS). */
  resolver: string;
  /** `dns_type`, `enable_ipv4`, `enable_ipv6` as given (recorded; EDS clusters do not use them). */
  dns: { type?: string; ipv4: boolean; ipv6: boolean };
  /** The Mappings whose routes use this cluster (for diagnostics). */
  sources: SourceRef[];
}

/** Backend addresses for one EDS service name. */
export interface EndpointSet {
  /** EDS resource name (`k8s/<ns>/<svc>/<port>` or `static/<ip>:<port>`). */
  serviceName: string;
  /** Localities sorted by (priority, region, zone); empty when the service has no ready endpoints. */
  localities: LocalityEndpoints[];
}

/** The ready backends of one (source cluster, zone). */
export interface LocalityEndpoints {
  /** Source cluster the endpoints were observed in (empty for compiler-generated endpoints). */
  region: string;
  /** Kubernetes zone of the endpoints (empty when unknown). */
  zone: string;
  /** Envoy priority: 0 for local clusters, 1 for remote fallback (ir/endpoint-policy.ts); contiguous from 0. */
  priority: number;
  /** Backend addresses, sorted, each appearing once in the whole endpoint set. */
  addresses: { ip: string; port: number }[];
}
