/**
 * Resolvers and the clusters of edge features (TCPMapping, AuthService, RateLimitService): which
 * resolver an object uses, and the planner that names those clusters apart from the HTTP ones and
 * builds their endpoint sets. Used by buildEdge and its TCP part.
 */
import type { Diagnostic } from '../contracts.ts';
import type { ParsedSources } from '../sources/parsed-sources.ts';
import type { ServiceTarget } from '../sources/service-ref.ts';
import type { SourceRef } from '../sources/types.ts';
import type { ResolverKind } from '../sources/types-edge.ts';
import { assignClusterNames } from './cluster-name.ts';
import { edsServiceName, indexKube, resolveEndpoints } from './endpoints.ts';
import type { EndpointSet, IR } from './types.ts';
import type { EdgeCluster } from './types-edge.ts';

const CONNECT_TIMEOUT_MS = 3000;

/** How a resolver name finds backends, or why it cannot be used. */
export type ResolverLookup =
  | { ok: true; kind: 'endpoint' | 'service'; name: string }
  | { ok: false; message: string };

/**
 * The resolver a Mapping (or TCPMapping, AuthService, …) uses. `name` is the object's `resolver`;
 * when absent the Module's `resolver` applies. `endpoint` and `kubernetes-endpoint` are implicit
 * endpoint resolvers (as in Emissary). `kubernetes-service`, unless a KubernetesServiceResolver
 * of that name exists, also resolves through endpoints (EDS): Attaché's default, which differs
 * from Emissary's DNS default (see FEATURES.md).
 */
export function resolverFor(
  sources: Pick<ParsedSources, 'edge' | 'modules'>,
  name: string | undefined,
): ResolverLookup {
  const wanted = name ?? sources.modules[0]?.resolver ?? 'kubernetes-service';
  const declared = [...sources.edge.resolvers]
    .filter((r) => r.name === wanted)
    .sort((a, b) => cmp(a.source.namespace, b.source.namespace))[0];
  const kind: ResolverKind | undefined =
    declared?.kind ??
    (wanted === 'endpoint' || wanted === 'kubernetes-endpoint' || wanted === 'kubernetes-service'
      ? 'endpoint'
      : undefined);
  if (!kind) return { ok: false, message: `resolver ${wanted} does not exist` };
  if (kind === 'consul')
    return { ok: false, message: `resolver ${wanted} is a ConsulResolver, which is not supported` };
  return { ok: true, kind, name: wanted };
}

/** DNS name a KubernetesServiceResolver cluster resolves: `<service>.<namespace>` (as Emissary writes it). */
export function serviceDnsName(target: Extract<ServiceTarget, { kind: 'kubernetes' }>): string {
  return `${target.name}.${target.namespace}`;
}

/**
 * Names and discovers the clusters of edge features. Names follow Emissary's
 * `cluster_<marker>_<service>_<namespace>` with a feature marker (`tcp`, `extauth`, `ratelimit`),
 * kept apart from the HTTP clusters' names.
 */
export class ClusterPlanner {
  private readonly wanted = new Map<
    string,
    { base: string; target: ServiceTarget; resolver: 'endpoint' | 'service'; http2: boolean }
  >();
  private names = new Map<string, string>();

  constructor(
    private readonly sources: ParsedSources,
    private readonly ir: IR,
    private readonly diagnostics: Diagnostic[],
  ) {}

  /** Registers a cluster and returns its id, or undefined (with an error) when its resolver is unusable. */
  add(
    marker: string,
    service: string,
    target: ServiceTarget,
    resolver: string | undefined,
    http2: boolean,
    source: SourceRef,
  ): string | undefined {
    const lookup = resolverFor(this.sources, resolver);
    if (!lookup.ok) {
      this.diagnostics.push({
        severity: 'error',
        source,
        field: 'resolver',
        message: `${lookup.message}; ignored`,
      });
      return undefined;
    }
    const kind = target.kind === 'ip' ? 'endpoint' : lookup.kind;
    const id = JSON.stringify([marker, service, source.namespace, kind, http2]);
    const base = ['cluster', marker, service, ...(target.tls ? ['otls'] : []), source.namespace]
      .join('_')
      .replace(/[^0-9A-Za-z_]/g, '_');
    this.wanted.set(id, { base, target, resolver: kind, http2 });
    if (target.tls) {
      this.diagnostics.push({
        severity: 'warning',
        source,
        field: 'service',
        message: 'TLS origination (https://) is not generated yet: the upstream is reached in plaintext',
      });
    }
    return id;
  }

  /** Final cluster name of an id returned by `add` (valid after `finish`). */
  name(id: string): string {
    return this.names.get(id)!;
  }

  /** Assigns names (avoiding the HTTP clusters'), builds the clusters and their endpoint sets. */
  finish(): { clusters: EdgeCluster[]; endpointSets: EndpointSet[] } {
    const taken = new Set(this.ir.clusters.map((c) => c.name));
    const bases = new Map([...this.wanted].map(([id, w]) => [id, w.base]));
    this.names = assignClusterNames(bases);
    for (const [id, name] of this.names) if (taken.has(name)) this.names.set(id, `${name}_edge`);

    const sets = new Map(this.ir.endpointSets.map((s) => [s.serviceName, s]));
    const index = indexKube(this.sources.services, this.sources.endpoints);
    const clusters: EdgeCluster[] = [];
    for (const [id, w] of this.wanted) {
      const name = this.names.get(id)!;
      if (w.resolver === 'service' && w.target.kind === 'kubernetes') {
        clusters.push({
          name,
          discovery: { kind: 'dns', address: serviceDnsName(w.target), port: w.target.port },
          http2: w.http2,
          connectTimeoutMs: CONNECT_TIMEOUT_MS,
        });
        continue;
      }
      const serviceName = edsServiceName(w.target);
      if (!sets.has(serviceName)) sets.set(serviceName, resolveEndpoints(w.target, index).set);
      clusters.push({
        name,
        discovery: { kind: 'eds', serviceName },
        http2: w.http2,
        connectTimeoutMs: CONNECT_TIMEOUT_MS,
      });
    }
    return {
      clusters: clusters.sort((a, b) => cmp(a.name, b.name)),
      endpointSets: [...sets.values()].sort((a, b) => cmp(a.serviceName, b.serviceName)),
    };
  }
}

export function compareSource(a: SourceRef, b: SourceRef): number {
  return cmp(a.namespace, b.namespace) || cmp(a.name, b.name) || cmp(a.cluster, b.cluster);
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
