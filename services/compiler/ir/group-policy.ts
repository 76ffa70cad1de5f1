/**
 * Group flattening (emissary.md §2.1, `IRHTTPMappingGroup.finalize`): route settings Emissary takes
 * from the group rather than from each Mapping. Keys are flattened over the group's Mappings in
 * insertion order (they share one route weight), so the last Mapping that sets a key wins;
 * `add_*_headers` are merged instead. Module defaults fill what no Mapping sets.
 */

import type { HeaderToAdd, MappingSpec, RateLimitAction, RateLimitLabels } from '../sources/types.ts';
import type { AmbassadorModule } from '../sources/types-module.ts';
import type { GroupPolicy } from './types.ts';

export function flattenGroupPolicy(
  mappings: readonly MappingSpec[],
  module: AmbassadorModule,
  rateLimitDomain: string | undefined,
): GroupPolicy {
  // The last member's value of each flattened field: one pass with a plain property read per
  // field (a keyed read per field and member was a visible cost at 10,000 groups).
  let loadBalancer: MappingSpec['loadBalancer'];
  let removeRequestHeaders: MappingSpec['removeRequestHeaders'];
  let removeResponseHeaders: MappingSpec['removeResponseHeaders'];
  let labels: MappingSpec['labels'];
  let allowUpgrade: MappingSpec['allowUpgrade'];
  let cors: MappingSpec['cors'];
  let retryPolicy: MappingSpec['retryPolicy'];
  let regexRewrite: MappingSpec['regexRewrite'];
  let priority: MappingSpec['priority'];
  const defaults = module.mappingDefaults;
  const requestAdd = new Map<string, HeaderToAdd>();
  const responseAdd = new Map<string, HeaderToAdd>();
  for (const m of mappings) {
    if (m.loadBalancer !== undefined) loadBalancer = m.loadBalancer;
    if (m.removeRequestHeaders !== undefined) removeRequestHeaders = m.removeRequestHeaders;
    if (m.removeResponseHeaders !== undefined) removeResponseHeaders = m.removeResponseHeaders;
    if (m.labels !== undefined) labels = m.labels;
    if (m.allowUpgrade !== undefined) allowUpgrade = m.allowUpgrade;
    if (m.cors !== undefined) cors = m.cors;
    if (m.retryPolicy !== undefined) retryPolicy = m.retryPolicy;
    if (m.regexRewrite !== undefined) regexRewrite = m.regexRewrite;
    if (m.priority !== undefined) priority = m.priority;
    for (const h of m.addRequestHeaders ?? defaults.addRequestHeaders ?? []) requestAdd.set(h.name, h);
    if (m.addLinkerdHeaders ?? module.addLinkerdHeaders) {
      requestAdd.set('l5d-dst-override', {
        name: 'l5d-dst-override',
        value: linkerdAuthority(m),
        append: true,
      });
    }
    for (const h of m.addResponseHeaders ?? defaults.addResponseHeaders ?? []) responseAdd.set(h.name, h);
  }
  const lb = loadBalancer ?? module.loadBalancer;
  const policy: GroupPolicy = {
    requestHeadersToAdd: [...requestAdd.values()],
    responseHeadersToAdd: [...responseAdd.values()],
    requestHeadersToRemove: removeRequestHeaders ?? defaults.removeRequestHeaders ?? [],
    responseHeadersToRemove: removeResponseHeaders ?? defaults.removeResponseHeaders ?? [],
    rateLimits: rateLimitDomain === undefined ? [] : rateLimits(labels, module, rateLimitDomain),
    upgrades: allowUpgrade ?? [],
    regexMaxSize: module.regexMaxSize,
  };
  const effectiveCors = cors ?? module.cors;
  if (effectiveCors) policy.cors = effectiveCors;
  const retry = retryPolicy ?? module.retryPolicy;
  if (retry) policy.retryPolicy = retry;
  if (lb?.hash && (lb.policy === 'ring_hash' || lb.policy === 'maglev')) policy.hash = lb.hash;
  if (regexRewrite) policy.regexRewrite = regexRewrite;
  if (priority) policy.priority = priority;
  return policy;
}

/**
 * Label groups of the RateLimitService domain, with the Module's `default_labels` prepended to each
 * (or, when the group has no labels, the defaults of `default_label_domain` as one group).
 */
function rateLimits(
  labels: RateLimitLabels | undefined,
  module: AmbassadorModule,
  domain: string,
): RateLimitAction[][] {
  if (!labels || Object.keys(labels).length === 0) {
    const defaults = module.defaultLabels[module.defaultLabelDomain];
    return defaults && module.defaultLabelDomain === domain && defaults.length > 0 ? [defaults] : [];
  }
  const prepend = module.defaultLabels[domain] ?? [];
  return (labels[domain] ?? []).map((g) =>
    g.name.startsWith('v0_ratelimit_') ? g.actions : [...prepend, ...g.actions],
  );
}

/** Linkerd's `l5d-dst-override`: the qualified service host and port Emissary computes. */
function linkerdAuthority(m: MappingSpec): string {
  const t = m.target;
  if (!t) return m.service;
  if (t.kind === 'ip') return `${t.address.includes(':') ? `[${t.address}]` : t.address}:${t.port}`;
  return `${t.name}.${t.namespace}:${t.port}`;
}
