/**
 * `attache status --nats URL [--group G] [--json] [--wait-ms N]`: listens to the fan-out nodes'
 * status reports (`attache.fleet.<group>.status`) for a few seconds and prints, per group and
 * type, how many nodes have ACKed each version, summed over every fan-out node that reported.
 * Each fan-out node reports every 2 s, so the default 3 s window hears every live one.
 * Exit code 0 when at least one report arrived, 1 when none did.
 */
import { connect } from '@nats-io/transport-node';
import { type FlagValue, flag } from '../../shared/runtime/config.ts';
import {
  type NatsSecurity,
  natsSecurityFromFlags,
  natsServers,
} from '../../shared/runtime/connection-flags.ts';
import { fleetFilter, type StatusEvent } from './fleet/fleet-messages.ts';

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
    }
  >();
  for (const r of latest.values()) {
    let g = groups.get(r.group);
    if (!g) {
      g = { fanouts: new Set(), streams: 0, types: new Map() };
      groups.set(r.group, g);
    }
    g.fanouts.add(r.fanout);
    g.streams += r.streams;
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
  }
  return `${lines.join('\n')}\n`;
}

/** Collects status reports for `waitMs`. */
export async function collectStatus(
  url: string,
  group: string | undefined,
  waitMs: number,
  security?: NatsSecurity,
): Promise<StatusEvent[]> {
  const nc = await connect({
    ...security,
    servers: natsServers(url),
    name: 'attache-status',
  });
  const out: StatusEvent[] = [];
  try {
    const sub = nc.subscribe(fleetFilter('status', group), {
      callback: (err, msg) => {
        if (err) return;
        try {
          const body = JSON.parse(Buffer.from(msg.data).toString('utf8')) as StatusEvent;
          if (body.kind === 'status') out.push(body);
        } catch {
          // Not a status report.
        }
      },
    });
    await new Promise((r) => setTimeout(r, waitMs));
    sub.unsubscribe();
  } finally {
    await nc.close();
  }
  return out;
}

export async function runStatus(flags: Record<string, FlagValue>): Promise<number> {
  const reports = await collectStatus(
    flag.str(flags, 'nats') ?? '',
    flag.str(flags, 'group'),
    typeof flags['wait-ms'] === 'number' ? flags['wait-ms'] : 3000,
    natsSecurityFromFlags(flags),
  );
  const groups = aggregateStatus(reports);
  process.stdout.write(
    flag.bool(flags, 'json') ? `${JSON.stringify(groups, null, 2)}\n` : formatStatus(groups),
  );
  return reports.length > 0 ? 0 : 1;
}
