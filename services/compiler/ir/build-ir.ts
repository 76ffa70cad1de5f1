/**
 * Pass 2: validated sources → IR. Groups Mappings (emissary.md §2.1), normalises canary weights
 * (§2.2), orders groups (§2.3), names clusters and resolves endpoints (§4). Pure and
 * order-independent: Mappings are processed sorted by (namespace, name, source cluster), so the
 * input record order never shows in the output.
 */
import type { Diagnostic } from '../compile.ts';
import type { MappingSpec, ParsedSources } from '../sources/types.ts';
import { assignClusterNames, baseClusterName } from './cluster-name.ts';
import { edsServiceName, indexKube, resolveEndpoints } from './endpoints.ts';
import { compareTuples, groupKey, orderTuple } from './route-order.ts';
import type { HeaderMatch, HttpRoute, IR, RouteGroup, UpstreamCluster } from './types.ts';
import { normalizeWeights } from './weights.ts';

/** Emissary's default cluster connect timeout. */
const CONNECT_TIMEOUT_MS = 3000;

export function buildIR(sources: ParsedSources): { ir: IR; diagnostics: Diagnostic[] } {
  const diagnostics: Diagnostic[] = [];
  const mappings = dedupeMirrored([...sources.mappings].sort(compareMappings));

  // Group in a deterministic insertion order.
  const grouped = new Map<string, MappingSpec[]>();
  for (const m of mappings) {
    const key = groupKey(m);
    const members = grouped.get(key);
    if (members) members.push(m);
    else grouped.set(key, [m]);
  }

  // One cluster per (service string, Mapping namespace); names are assigned once all are known.
  const clusterBases = new Map<string, string>();
  const clusterTargets = new Map<string, MappingSpec['target']>();
  const pending: {
    key: string;
    first: MappingSpec;
    routes: (Omit<HttpRoute, 'cluster'> & { clusterId: string })[];
  }[] = [];
  for (const [key, members] of grouped) {
    const weights = normalizeWeights(members.map((m) => m.weight));
    if (!weights.ok) {
      for (const m of members) {
        diagnostics.push({
          severity: 'error',
          source: m.source,
          field: 'weight',
          message: `${weights.message}; no route is generated for prefix ${m.prefix} (${members.length} Mappings)`,
        });
      }
      continue;
    }
    const routes = weights.order.map((index, i) => {
      const m = members[index]!;
      const clusterId = JSON.stringify([m.service, m.source.namespace]);
      clusterBases.set(clusterId, baseClusterName(m.service, m.target.tls, m.source.namespace));
      clusterTargets.set(clusterId, m.target);
      return {
        source: m.source,
        sourceHash: m.sourceHash,
        cumulativeWeight: weights.cumulative[i]!,
        clusterId,
        prefixRewrite: m.rewrite,
        timeoutMs: m.timeoutMs,
      };
    });
    pending.push({ key, first: members[0]!, routes });
  }

  const names = assignClusterNames(clusterBases);
  const groups: RouteGroup[] = pending.map(({ key, first, routes }) => ({
    key,
    order: orderTuple(first),
    prefix: first.prefix,
    headers: headerMatches(first),
    hostname: first.hostname,
    routes: routes.map(({ clusterId, ...r }) => ({ ...r, cluster: names.get(clusterId)! })),
  }));
  groups.sort((a, b) => compareTuples(b.order, a.order) || (a.key < b.key ? 1 : a.key > b.key ? -1 : 0));

  const clusters: UpstreamCluster[] = [...clusterTargets]
    .map(([id, target]) => ({
      name: names.get(id)!,
      edsServiceName: edsServiceName(target),
      target,
      originateTls: target.tls,
      connectTimeoutMs: CONNECT_TIMEOUT_MS,
    }))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const tlsClusters = new Set(clusters.filter((c) => c.originateTls).map((c) => c.name));
  for (const r of groups.flatMap((g) => g.routes)) {
    if (!tlsClusters.has(r.cluster)) continue;
    diagnostics.push({
      severity: 'warning',
      source: r.source,
      field: 'service',
      message: 'TLS origination (https://) is not implemented yet: the upstream is reached in plaintext',
    });
  }

  const index = indexKube(sources.services, sources.endpoints);
  const byServiceName = new Map<string, MappingSpec['target']>();
  for (const c of clusters)
    if (!byServiceName.has(c.edsServiceName)) byServiceName.set(c.edsServiceName, c.target);
  const resolved = [...byServiceName.values()].map((t) => resolveEndpoints(t, index));
  const endpointSets = resolved
    .map((r) => r.set)
    .sort((a, b) => (a.serviceName < b.serviceName ? -1 : a.serviceName > b.serviceName ? 1 : 0));
  const edsOf = new Map(clusters.map((c) => [c.name, c.edsServiceName]));
  const endpointWarnings = new Map(resolved.map((r) => [r.set.serviceName, r.warnings]));
  for (const r of groups.flatMap((g) => g.routes)) {
    for (const message of endpointWarnings.get(edsOf.get(r.cluster) ?? '') ?? []) {
      diagnostics.push({ severity: 'warning', source: r.source, field: 'service', message });
    }
  }

  const apiHosts = [...new Set(groups.map((g) => g.hostname).filter((h) => !h.includes('*')))].sort();
  return { ir: { groups, clusters, endpointSets, apiHosts }, diagnostics };
}

function compareMappings(a: MappingSpec, b: MappingSpec): number {
  const x = a.source;
  const y = b.source;
  return cmp(x.namespace, y.namespace) || cmp(x.name, y.name) || cmp(x.cluster, y.cluster);
}

/**
 * The same Mapping (namespace, name and content) applied to several source clusters is one
 * Mapping, not several canaries: only the copy from the first source cluster is kept.
 */
function dedupeMirrored(sorted: MappingSpec[]): MappingSpec[] {
  const seen = new Set<string>();
  return sorted.filter((m) => {
    const { source, sourceHash: _hash, ...content } = m;
    const key = JSON.stringify([source.namespace, source.name, content]);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** The group's header conditions: the Mapping's headers, then `:authority` from a non-`*` hostname. */
function headerMatches(m: MappingSpec): HeaderMatch[] {
  const out: HeaderMatch[] = m.headers.map((h) =>
    h.value === true
      ? { name: h.name, match: 'present', value: '' }
      : { name: h.name, match: 'exact', value: h.value },
  );
  const host = m.hostname;
  if (host === '*') return out;
  if (host.startsWith('*')) out.push({ name: ':authority', match: 'suffix', value: host.slice(1) });
  else if (host.endsWith('*')) out.push({ name: ':authority', match: 'prefix', value: host.slice(0, -1) });
  else out.push({ name: ':authority', match: 'exact', value: host });
  return out;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
