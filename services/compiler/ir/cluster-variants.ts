/**
 * Cluster settings variants. Emissary names a Mapping's cluster from its service and a few
 * name-determining parts (cluster-name.ts) and refuses to merge two Mappings whose clusters share
 * a name but differ in cluster-level settings (`IRCluster.merge`: grpc, timeouts, TLS, …). Here
 * such Mappings get separate clusters instead, so that no Mapping's settings can change a cluster
 * other Mappings already use: the variant used by the most Mappings keeps the Emissary name (ties:
 * the smaller settings key, so the result never depends on input order) and every other variant
 * is named `<name>_s<hash of its settings>`, with a warning on each of its Mappings.
 */
import { canonicalJson } from '../../../shared/snapshot/manifest.ts';
import { sha256Hex } from '../../../shared/xds/encoding.ts';
import type { Diagnostic } from '../contracts.ts';
import type { ClusterPlan } from './upstream.ts';

/** The identity of a plan's cluster: its name-determining parts plus its cluster-level settings. */
export function variantId(plan: ClusterPlan): string {
  return JSON.stringify([plan.id, canonicalJson(plan.mergeKeys)]);
}

function partsOf(id: string): { parts: string; settings: string } {
  const [parts, settings] = JSON.parse(id) as [string, string];
  return { parts, settings };
}

/**
 * Gives every minority variant its own base name (in place). Returns `nameKey`, the identity to
 * name a cluster by (the majority variant keeps the plain name-determining identity, so its final
 * name is exactly what it was before any variant appeared), and `report`, a warning per Mapping of
 * a minority variant once final names are known.
 */
export function separateVariants(plans: Map<string, ClusterPlan>): {
  nameKey: (id: string) => string;
  report: (finalName: (id: string) => string) => Diagnostic[];
} {
  const byParts = new Map<string, string[]>();
  for (const id of plans.keys()) {
    const { parts } = partsOf(id);
    byParts.set(parts, [...(byParts.get(parts) ?? []), id]);
  }
  const minority: { id: string; main: string }[] = [];
  for (const ids of byParts.values()) {
    if (ids.length < 2) continue;
    ids.sort((a, b) => {
      const diff = plans.get(b)!.cluster.sources.length - plans.get(a)!.cluster.sources.length;
      return diff !== 0 ? diff : a < b ? -1 : a > b ? 1 : 0;
    });
    const main = ids[0]!;
    for (const id of ids.slice(1)) {
      const plan = plans.get(id)!;
      plan.base = `${plan.base}_s${sha256Hex(partsOf(id).settings).slice(0, 8)}`;
      minority.push({ id, main });
    }
  }
  const minorityIds = new Set(minority.map((m) => m.id));
  const nameKey = (id: string) => (minorityIds.has(id) ? id : partsOf(id).parts);
  const report = (finalName: (id: string) => string): Diagnostic[] =>
    minority.flatMap(({ id, main }) => {
      const plan = plans.get(id)!;
      const other = plans.get(main)!;
      const mismatched = Object.keys(plan.mergeKeys).filter(
        (k) => canonicalJson(plan.mergeKeys[k]) !== canonicalJson(other.mergeKeys[k]),
      );
      const n = other.cluster.sources.length;
      return plan.cluster.sources.map(
        (source): Diagnostic => ({
          severity: 'warning',
          source,
          message:
            `cluster settings ${mismatched.join(', ')} differ from those of the ${n} Mapping${n === 1 ? '' : 's'} ` +
            `using cluster ${finalName(main)} (first: ${other.cluster.sources[0]!.namespace}/${other.cluster.sources[0]!.name}); ` +
            `this Mapping gets its own cluster ${finalName(id)}`,
        }),
      );
    });
  return { nameKey, report };
}
