/**
 * Pass 2: validated sources → IR. Applies the `ambassador` Module, groups Mappings with Emissary's
 * CoreMappingKeys, shadow and host_redirect rules (emissary.md §2.1), flattens group settings,
 * normalises canary weights (§2.2), orders groups (§2.3), names clusters (§2.2) and resolves
 * endpoints (§4). Pure and order-independent: Mappings are processed in Emissary's order, by the
 * resource key string `name.namespace` (then source cluster), so the input record order never
 * shows in the output. That order is each group's member order: it decides who gets the rounding
 * remainder of an even split and which Mapping wins last-wins merges (`app-v2` sorts before `app`).
 */
import type { Diagnostic } from '../contracts.ts';
import type { ParsedSources } from '../sources/parsed-sources.ts';
import type { MappingSpec, SourceRef } from '../sources/types.ts';
import { type AmbassadorModule, DEFAULT_MODULE } from '../sources/types-module.ts';
import { assignClusterNames } from './cluster-name.ts';
import { separateVariants, variantId } from './cluster-variants.ts';
import { edsServiceName, indexKube, resolveEndpoints } from './endpoints.ts';
import { flattenGroupPolicy } from './group-policy.ts';
import { groupLabels, hostSelectorLabels } from './host-selection.ts';
import { groupMappings, type MappingGroup } from './mapping-groups.ts';
import { withinRegexLimits } from './regex-limits.ts';
import { compareTuples, groupKey, orderedHeaders, orderTuple } from './route-order.ts';
import {
  DEFAULT_EDGE_LOOKUPS,
  type EdgeLookups,
  type HeaderMatch,
  type HttpRoute,
  type IR,
  type RouteGroup,
  type UpstreamCluster,
} from './types.ts';
import { type ClusterPlan, clusterInputsKey, planCluster } from './upstream.ts';
import { normalizeWeights } from './weights.ts';

export function buildIR(
  sources: ParsedSources,
  edge: EdgeLookups = DEFAULT_EDGE_LOOKUPS,
): { ir: IR; diagnostics: Diagnostic[] } {
  const diagnostics: Diagnostic[] = [];
  const module = effectiveModule(sources.modules ?? [], diagnostics);
  const sorted = sortMappings(withinRegexLimits(sources.mappings, module.regexMaxSize, diagnostics));
  const mappings = dedupeMirrored(sorted).filter((m) => {
    const resolver = m.resolver ?? module.resolver;
    if (edge.resolverExists(resolver)) return true;
    diagnostics.push({
      severity: 'error',
      source: m.source,
      field: 'resolver',
      message: `resolver ${resolver} is unknown; the Mapping is not routed`,
    });
    return false;
  });

  warnArgoWeightedBase(mappings, diagnostics);
  const selectorHosts = sources.edge.hosts;
  const labels = sources.edge.mappingLabels;
  const groups = groupMappings(mappings, module, diagnostics, (m) =>
    groupKey(m, hostSelectorLabels(m, selectorHosts, labels)),
  );

  // Clusters: one per distinct name-determining configuration and cluster-level settings. Where
  // Emissary would refuse to merge two Mappings' clusters (`IRCluster.merge`: different grpc,
  // timeouts, TLS, …), each settings variant gets its own cluster (cluster-variants.ts), so one
  // Mapping's settings never change a cluster that other Mappings use.
  const plans = new Map<string, ClusterPlan>();
  // Many Mappings share one cluster (10,000 Mappings over 2,000 Services): equal planning inputs
  // give the same cluster id, so each distinct input is planned once per compile.
  const planned = new Map<string, string>();
  const clusterFor = (m: MappingSpec, marker: string | undefined): string => {
    const inputs = clusterInputsKey(m, marker);
    const known = inputs === undefined ? undefined : planned.get(inputs);
    if (known !== undefined) {
      (plans.get(known) as ClusterPlan).cluster.sources.push(m.source);
      return known;
    }
    const plan = planCluster(m, marker, module, edge, diagnostics);
    const id = variantId(plan);
    const existing = plans.get(id);
    if (!existing) plans.set(id, { ...plan, id });
    else existing.cluster.sources.push(m.source);
    if (inputs !== undefined) planned.set(inputs, id);
    return id;
  };

  // A group before its cluster names are known: `group` becomes the RouteGroup (its routes' and
  // `policy` keys added last, in place), its routes' `cluster` holds the cluster id until then.
  interface Pending {
    group: Omit<RouteGroup, 'routes' | 'policy'>;
    routes: HttpRoute[];
    mirrorId?: { id: string; percent: number; source: SourceRef };
    members: MappingSpec[];
  }
  const pending: Pending[] = [];
  for (const g of groups) {
    const first = g.mappings[0] ?? g.redirect ?? g.shadow!;
    const base: Omit<RouteGroup, 'routes' | 'policy'> = {
      key: g.key,
      order: orderTuple(first),
      prefix: first.prefix,
      pathMatch: first.pathMatch,
      headers: headerMatches(first),
      queryParameters: first.queryParameters.map(toMatch),
      hostname: first.hostname,
      hostRegex: first.hostRegex,
      ...(first.hostless
        ? {
            hostless:
              module.hostlessMappings === 'every_host' ? ('every-host' as const) : ('selector' as const),
          }
        : {}),
      labels: groupLabels(g.mappings, labels),
    };
    if (g.redirect) {
      const r = g.redirect;
      base.redirect = {
        ...r.hostRedirect,
        source: r.source,
        host: r.service,
        caseSensitive: r.caseSensitive,
      };
      pending.push({ group: base, routes: [], members: g.mappings });
      continue;
    }
    if (g.mappings.length === 0) continue; // a lone shadow mirrors nothing
    const weights = normalizeWeights(g.mappings.map((m) => m.weight));
    if (!weights.ok) {
      for (const m of g.mappings) {
        diagnostics.push({
          severity: 'error',
          source: m.source,
          field: 'weight',
          message: `${weights.message}; no route is generated for prefix ${m.prefix} (${g.mappings.length} Mappings)`,
        });
      }
      continue;
    }
    // case_sensitive is flattened onto the group (last member that sets it wins) and inherited
    // by every route without its own value (irhttpmappinggroup.py finalize, v3route.py).
    const groupCaseSensitive = g.mappings.reduce<boolean | undefined>(
      (acc, m) => m.caseSensitive ?? acc,
      undefined,
    );
    const routes = weights.order.map((index, i): HttpRoute => {
      const m = g.mappings[index]!;
      const caseSensitive = m.caseSensitive ?? groupCaseSensitive;
      const clusterId = clusterFor(m, m.clusterTag);
      // Keys in this order (cluster last), as IR routes have always had them.
      const route = {
        source: m.source,
        cumulativeWeight: weights.cumulative[i]!,
        prefixRewrite: m.rewrite,
        timeoutMs: m.timeoutMs ?? module.clusterRequestTimeoutMs,
        bypassAuth: m.bypassAuth ?? false,
      } as HttpRoute;
      if (m.idleTimeoutMs !== undefined) route.idleTimeoutMs = m.idleTimeoutMs;
      if (m.hostRewrite !== undefined) route.hostRewrite = m.hostRewrite;
      if (m.autoHostRewrite !== undefined) route.autoHostRewrite = m.autoHostRewrite;
      if (caseSensitive !== undefined) route.caseSensitive = caseSensitive;
      if (m.authContextExtensions) route.authContextExtensions = m.authContextExtensions;
      route.cluster = clusterId;
      return route;
    });
    const entry: Pending = { group: base, routes, members: g.mappings };
    if (g.shadow) {
      entry.mirrorId = {
        id: clusterFor(g.shadow, 'shadow'),
        percent: g.shadow.weight ?? 100,
        source: g.shadow.source,
      };
    }
    pending.push(entry);
  }

  const variants = separateVariants(plans);
  const byKey = assignClusterNames(new Map([...plans].map(([id, p]) => [variants.nameKey(id), p.base])));
  const names = new Map([...plans.keys()].map((id) => [id, byKey.get(variants.nameKey(id))!]));
  diagnostics.push(...variants.report((id) => names.get(id)!));
  const routeGroups: RouteGroup[] = pending.map(({ group, routes, mirrorId, members }) => {
    const policy = flattenGroupPolicy(members, module, edge.rateLimitDomain);
    if (mirrorId)
      policy.mirror = {
        cluster: names.get(mirrorId.id)!,
        percent: mirrorId.percent,
        source: mirrorId.source,
      };
    for (const r of routes) r.cluster = names.get(r.cluster)!;
    const out = group as RouteGroup;
    out.routes = routes;
    out.policy = policy;
    return out;
  });
  routeGroups.sort((a, b) => compareTuples(b.order, a.order) || (a.key < b.key ? 1 : a.key > b.key ? -1 : 0));

  const clusters: UpstreamCluster[] = [...plans]
    .map(([id, p]) => ({ ...p.cluster, name: names.get(id)! }))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));

  const index = indexKube(sources.services, sources.endpoints);
  const byServiceName = new Map<string, UpstreamCluster['target']>();
  for (const c of clusters)
    if (!byServiceName.has(c.edsServiceName)) byServiceName.set(c.edsServiceName, c.target);
  const resolved = [...byServiceName.values()].map((t) => resolveEndpoints(t, index));
  const endpointSets = resolved
    .map((r) => r.set)
    .sort((a, b) => (a.serviceName < b.serviceName ? -1 : a.serviceName > b.serviceName ? 1 : 0));
  const endpointWarnings = new Map(resolved.map((r) => [r.set.serviceName, r.warnings]));
  for (const c of clusters) {
    for (const message of endpointWarnings.get(edsServiceName(c.target)) ?? []) {
      for (const source of c.sources)
        diagnostics.push({ severity: 'warning', source, field: 'service', message });
    }
  }

  const apiHosts = [
    ...new Set(
      routeGroups
        .filter((g) => !g.hostRegex)
        .map((g) => g.hostname)
        .filter((h) => !h.includes('*')),
    ),
  ].sort();
  return { ir: { groups: routeGroups, clusters, endpointSets, apiHosts, module }, diagnostics };
}

/**
 * Argo Rollouts (emissary.md §8) manages `<base>-canary` and refuses a base Mapping with a weight
 * (AmbassadorMappingConfigError). Emissary itself routes it, and so do we; the base gets a warning.
 */
function warnArgoWeightedBase(mappings: readonly MappingSpec[], diagnostics: Diagnostic[]): void {
  const names = new Set(mappings.map((m) => `${m.source.namespace}/${m.source.name}`));
  for (const m of mappings) {
    if (m.weight === undefined || m.weight === 0) continue;
    const canary = `${m.source.name.slice(0, 246)}-canary`;
    if (!names.has(`${m.source.namespace}/${canary}`)) continue;
    diagnostics.push({
      severity: 'warning',
      source: m.source,
      field: 'weight',
      message:
        `Mapping ${canary} looks like an Argo Rollouts canary of this Mapping, which has weight ${m.weight}: ` +
        'Argo refuses weighted base Mappings (AmbassadorMappingConfigError "can not define weight") and will not ' +
        'update the canary; traffic is split as Emissary would split it',
    });
  }
}

/** The `ambassador` Module: the first by source identity; any other is reported and ignored. */
function effectiveModule(modules: readonly AmbassadorModule[], diagnostics: Diagnostic[]): AmbassadorModule {
  const sorted = [...modules].sort((a, b) => compareRefs(a.source!, b.source!));
  for (const extra of sorted.slice(1)) {
    const s = sorted[0]!.source!;
    diagnostics.push({
      severity: 'error',
      source: extra.source!,
      message: `only one ambassador Module may exist; ${s.namespace}/${s.name} (source cluster ${s.cluster}) is used and this one is ignored`,
    });
  }
  return sorted[0] ?? DEFAULT_MODULE;
}

/**
 * Emissary's resource order: the key string `name.namespace` (so `-` sorts before `.`), then
 * source cluster. Each key string is built once, not once per comparison.
 */
function sortMappings(mappings: readonly MappingSpec[]): MappingSpec[] {
  const keyed = mappings.map((m) => ({ m, key: `${m.source.name}.${m.source.namespace}` }));
  keyed.sort((a, b) => cmp(a.key, b.key) || cmp(a.m.source.cluster, b.m.source.cluster));
  return keyed.map((k) => k.m);
}

function compareRefs(x: SourceRef, y: SourceRef): number {
  return cmp(x.namespace, y.namespace) || cmp(x.name, y.name) || cmp(x.cluster, y.cluster);
}

/**
 * The same Mapping (namespace, name and content) applied to several source clusters is one
 * Mapping, not several canaries: only the copy from the first source cluster is kept.
 */
function dedupeMirrored(sorted: MappingSpec[]): MappingSpec[] {
  // Only Mappings sharing a namespace and name can be copies: the rest skip the stringifying
  // (which, for every Mapping, was the largest cost of this pass at 10,000 Mappings).
  const named = new Map<string, number>();
  for (const m of sorted) {
    const id = `${m.source.namespace}/${m.source.name}`;
    named.set(id, (named.get(id) ?? 0) + 1);
  }
  const seen = new Set<string>();
  return sorted.filter((m) => {
    if (named.get(`${m.source.namespace}/${m.source.name}`) === 1) return true;
    const { source, ...content } = m;
    const key = JSON.stringify([source.namespace, source.name, content]);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/**
 * The group's header conditions in Emissary order; `:authority: *` (which counts in ordering)
 * matches everything and is left out, as v3route.py `generate_headers` does.
 */
function headerMatches(m: MappingSpec): HeaderMatch[] {
  const conditions = orderedHeaders(m).filter(
    (h) => !(h.name === ':authority' && !h.regex && h.value === '*'),
  );
  return conditions.map((h) => {
    if (h.name === ':authority' && !h.regex && typeof h.value === 'string') {
      const host = h.value;
      if (host.startsWith('*')) return { name: h.name, match: 'suffix', value: host.slice(1) };
      if (host.endsWith('*')) return { name: h.name, match: 'prefix', value: host.slice(0, -1) };
    }
    return toMatch(h);
  });
}

function toMatch(h: MappingSpec['headers'][number]): HeaderMatch {
  if (h.value === true) return { name: h.name, match: 'present', value: '' };
  return { name: h.name, match: h.regex ? 'regex' : 'exact', value: h.value };
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export type { MappingGroup };
