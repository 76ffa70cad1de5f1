/**
 * Fleet convergence from the fan-out nodes' status reports: per group and type, how many client
 * nodes ACKed each version, and the NACKs that still stand with their error and the source objects
 * behind the rejected resources. `attache status` prints it; the diagnostics page shows it.
 */
import type { ProvenanceObject } from '../../../shared/snapshot/provenance.ts';
import type { NackEvent, StatusEvent } from './fleet-messages.ts';

/** One version of one type across the fleet. */
export interface VersionShare {
  version: string;
  nodes: number;
  /** nodes / (nodes that ACKed any version of this type), 0–1. */
  share: number;
}

export interface TypeConvergence {
  /** Most ACKed first. */
  versions: VersionShare[];
  nacking: number;
  nacksTotal: number;
}

export interface GroupConvergence {
  group: string;
  /** Fan-out node ids that reported, sorted. */
  fanouts: string[];
  streams: number;
  types: Record<string, TypeConvergence>;
  /** NACKs that still stand, on every fan-out node, oldest first. */
  nacks: NackEvent[];
}

/** Sums the latest report of each (group, fan-out node) into per-group convergence. */
export function aggregateStatus(reports: readonly StatusEvent[]): GroupConvergence[] {
  const latest = new Map<string, StatusEvent>();
  for (const r of reports) {
    const key = `${r.group}\u0000${r.fanout}`;
    const prev = latest.get(key);
    if (!prev || prev.at <= r.at) latest.set(key, r);
  }
  const groups = new Map<
    string,
    {
      fanouts: Set<string>;
      streams: number;
      types: Map<string, { acked: Map<string, number>; nacking: number; nacksTotal: number }>;
      nacks: NackEvent[];
    }
  >();
  for (const r of latest.values()) {
    let g = groups.get(r.group);
    if (!g) {
      g = { fanouts: new Set(), streams: 0, types: new Map(), nacks: [] };
      groups.set(r.group, g);
    }
    g.fanouts.add(r.fanout);
    g.streams += r.streams;
    g.nacks.push(...(r.nacks ?? []));
    for (const [type, t] of Object.entries(r.types)) {
      let agg = g.types.get(type);
      if (!agg) {
        agg = { acked: new Map(), nacking: 0, nacksTotal: 0 };
        g.types.set(type, agg);
      }
      for (const [v, n] of Object.entries(t.acked)) agg.acked.set(v, (agg.acked.get(v) ?? 0) + n);
      agg.nacking += t.nacking;
      agg.nacksTotal += t.nacksTotal;
    }
  }
  return [...groups.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([group, g]) => ({
      group,
      fanouts: [...g.fanouts].sort(),
      streams: g.streams,
      types: Object.fromEntries(
        [...g.types.entries()]
          .sort(([a], [b]) => (a < b ? -1 : 1))
          .map(([type, t]) => {
            const total = [...t.acked.values()].reduce((s, n) => s + n, 0);
            const versions = [...t.acked.entries()]
              .map(([version, nodes]) => ({ version, nodes, share: total ? nodes / total : 0 }))
              .sort((a, b) => b.nodes - a.nodes || (a.version < b.version ? -1 : 1));
            return [type, { versions, nacking: t.nacking, nacksTotal: t.nacksTotal }];
          }),
      ),
      nacks: g.nacks.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0)),
    }));
}

/** Human-readable convergence table. */
export function formatStatus(groups: readonly GroupConvergence[]): string {
  if (groups.length === 0) return 'no fan-out node reported status\n';
  const lines: string[] = [];
  for (const g of groups) {
    lines.push(
      `group ${g.group}: ${g.streams} streams on ${g.fanouts.length} fan-out node(s) (${g.fanouts.join(', ')})`,
    );
    for (const [type, t] of Object.entries(g.types)) {
      const nack = t.nacking || t.nacksTotal ? `  nacking ${t.nacking}, NACKs ${t.nacksTotal}` : '';
      if (t.versions.length === 0) lines.push(`  ${type.padEnd(4)} (no ACK yet)${nack}`);
      t.versions.forEach((v, i) => {
        const pct = `${(v.share * 100).toFixed(1)}%`;
        lines.push(
          `  ${(i === 0 ? type : '').padEnd(4)} ${v.version.padEnd(18)} ${String(v.nodes).padStart(6)} nodes ${pct.padStart(7)}${i === 0 ? nack : ''}`,
        );
      });
    }
    for (const n of g.nacks) lines.push(...formatNack(n));
  }
  return `${lines.join('\n')}\n`;
}

/**
 * One standing NACK: who rejected which resources, the client's error, and per resource the
 * objects behind it (kind namespace/name, source cluster, resourceVersion, file#document).
 */
export function formatNack(n: NackEvent): string[] {
  const lines = [
    `  NACK ${n.type} from node ${n.node} (fan-out ${n.fanout}) at ${n.at}, rejected version ${n.rejectedVersion}: ${n.errorDetail.message}`,
  ];
  const named = new Set<string>();
  for (const s of n.sources ?? []) {
    if (s.objects.length === 0) continue;
    named.add(s.resource);
    lines.push(`    ${s.resource} ← ${s.objects.map(describeObject).join('; ')}`);
  }
  const unnamed = n.resources.filter((r) => !named.has(r));
  if (unnamed.length > 0 && named.size === 0)
    lines.push(`    resources ${unnamed.join(', ')} (source objects unknown)`);
  return lines;
}

/** `Mapping default/api (cluster site, resourceVersion 12, api.yaml#0)`. */
export function describeObject(o: ProvenanceObject): string {
  const where = [
    `cluster ${o.cluster}`,
    ...(o.resourceVersion ? [`resourceVersion ${o.resourceVersion}`] : []),
    ...(o.file !== undefined ? [`${o.file}#${o.document ?? 0}`] : []),
  ];
  return `${o.kind} ${o.namespace ? `${o.namespace}/` : ''}${o.name} (${where.join(', ')})`;
}
