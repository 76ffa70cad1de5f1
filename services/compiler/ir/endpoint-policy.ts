/**
 * Multi-cluster endpoint policy: which source clusters' endpoints a group's clients use, and in
 * which Envoy priority. The rule, for each endpoint set and one group:
 *
 * - `merge`, or no local cluster configured: every locality is priority 0 (one pool, weighted by
 *   endpoint count), which is the single-cluster behaviour.
 * - `prefer-local` (the default once a local cluster is named): localities of the local clusters
 *   are priority 0 and every other cluster's are priority 1, so Envoy and gRPC fail over to remote
 *   clusters only when no local endpoint is left. When the local clusters have no endpoints at all
 *   for this set, the remote localities become priority 0, because clients reject a priority 1
 *   without a priority 0 ("priorities must be contiguous").
 * - `local-only`: remote localities are dropped; a set with no local endpoints is empty.
 *
 * Endpoints with no source cluster (IP-literal targets) always count as local. An address appears
 * once per set (gRPC rejects duplicates): the copy in the lowest priority, then the first
 * (region, zone) locality, is kept. Pure; the IR is not mutated.
 */
import type { RemoteEndpointsMode } from '../contracts.ts';
import type { EndpointSet, IR, LocalityEndpoints } from './types.ts';

export const REMOTE_ENDPOINTS_MODES: readonly RemoteEndpointsMode[] = ['prefer-local', 'local-only', 'merge'];

export interface EndpointPolicy {
  /** Source clusters whose endpoints are local to this group's clients; empty means "all are". */
  localClusters?: readonly string[];
  /** Default `prefer-local`. */
  remoteEndpoints?: RemoteEndpointsMode;
}

/** The IR with every endpoint set's priorities assigned (and remote localities filtered) by `policy`. */
export function applyEndpointPolicy(ir: IR, policy: EndpointPolicy): IR {
  return { ...ir, endpointSets: ir.endpointSets.map((s) => prioritize(s, policy)) };
}

export function prioritize(set: EndpointSet, policy: EndpointPolicy): EndpointSet {
  const local = new Set(policy.localClusters ?? []);
  const mode = policy.remoteEndpoints ?? 'prefer-local';
  const isLocal = (loc: LocalityEndpoints) => local.size === 0 || loc.region === '' || local.has(loc.region);
  let localities = set.localities;
  if (mode === 'local-only') localities = localities.filter(isLocal);
  const split = mode === 'prefer-local' && localities.some(isLocal) && !localities.every(isLocal);
  const withPriority = localities.map((loc) => ({
    ...loc,
    priority: split && !isLocal(loc) ? 1 : 0,
  }));
  return { serviceName: set.serviceName, localities: dedupe(withPriority) };
}

/** Sorts by (priority, region, zone) and keeps each address once; drops localities left empty. */
function dedupe(localities: LocalityEndpoints[]): LocalityEndpoints[] {
  const sorted = [...localities].sort(
    (a, b) => a.priority - b.priority || cmp(a.region, b.region) || cmp(a.zone, b.zone),
  );
  const seen = new Set<string>();
  const out: LocalityEndpoints[] = [];
  for (const loc of sorted) {
    const addresses = loc.addresses.filter((a) => {
      const key = `${a.ip}|${a.port}`;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    });
    if (addresses.length > 0) out.push({ ...loc, addresses });
  }
  return out;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
