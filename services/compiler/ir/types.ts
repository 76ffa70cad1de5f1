/**
 * The compiler's intermediate representation: plain data, fully resolved and validated, in final
 * order. Translators turn it into Envoy resources without making any further decisions about
 * grouping, weights, ordering or naming. Private to the compiler.
 */
import type { ServiceTarget } from '../sources/service-ref.ts';
import type { SourceRef } from '../sources/types.ts';

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
}

/** A header condition on a route. */
export interface HeaderMatch {
  /** Header name, lowercase (`:authority` for the Mapping hostname). */
  name: string;
  /** How the header is compared: equal, starts with, ends with, or merely present. */
  match: 'exact' | 'prefix' | 'suffix' | 'present';
  /** The value compared against; empty for `present`. */
  value: string;
}

/** Mappings that share prefix, headers (incl. hostname) and precedence, and so split traffic. */
export interface RouteGroup {
  /** Canonical identity of the group (prefix, header conditions, precedence). */
  key: string;
  /** Emissary ordering tuple (emissary.md §2.3); groups are sorted by it, descending. */
  order: readonly (string | number)[];
  /** Path prefix every route of the group matches. */
  prefix: string;
  /** Header conditions every route of the group requires, including `:authority` from the hostname. */
  headers: HeaderMatch[];
  /** The Mappings' hostname (`*` when unconstrained). */
  hostname: string;
  /** One route per Mapping: weighted Mappings first (insertion order), then unweighted ones. */
  routes: HttpRoute[];
}

/** One Envoy route produced by one Mapping. */
export interface HttpRoute {
  /** The Mapping this route comes from. */
  source: SourceRef;
  /** Content hash of that Mapping's source object. */
  sourceHash: string;
  /** Cumulative traffic threshold (percent, 0–100) of this route within its group (emissary.md §2.2). */
  cumulativeWeight: number;
  /** Name of the upstream cluster the route forwards to. */
  cluster: string;
  /** Envoy `prefix_rewrite`; undefined when rewriting is disabled. */
  prefixRewrite: string | undefined;
  /** Route timeout in milliseconds; 0 disables it. */
  timeoutMs: number;
}

/** An upstream cluster: one per (service string, Mapping namespace), as Emissary names them. */
export interface UpstreamCluster {
  /** Envoy cluster name (`cluster_<service>[_otls]_<namespace>`, shortened when long). */
  name: string;
  /** The EDS resource name the cluster's endpoints are published under. */
  edsServiceName: string;
  /** The upstream the cluster points at. */
  target: ServiceTarget;
  /** True when TLS must be originated to the upstream (`https://`); the transport socket is not emitted yet. */
  originateTls: boolean;
  /** Connection timeout in milliseconds. */
  connectTimeoutMs: number;
}

/** Backend addresses for one EDS service name. */
export interface EndpointSet {
  /** EDS resource name (`k8s/<ns>/<svc>/<port>` or `static/<ip>:<port>`). */
  serviceName: string;
  /** Localities sorted by (region, zone); empty when the service has no ready endpoints. */
  localities: LocalityEndpoints[];
}

/** The ready backends of one (source cluster, zone). */
export interface LocalityEndpoints {
  /** Source cluster the endpoints were observed in (empty for compiler-generated endpoints). */
  region: string;
  /** Kubernetes zone of the endpoints (empty when unknown). */
  zone: string;
  /** Backend addresses, sorted, each appearing once in the whole endpoint set. */
  addresses: { ip: string; port: number }[];
}
