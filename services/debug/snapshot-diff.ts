/**
 * `attache diff` / `attache plan`: what changed between two snapshots of a group — resources
 * added, removed and changed (field by field), routing differences (per virtual host and route
 * condition: where matching requests went before and go now), and for each change the events
 * between the two points that touched an object behind it.
 */
import type { LoggedEvent } from '../../shared/events/event-log.ts';
import { objectId } from '../../shared/snapshot/provenance.ts';
import { shortName } from '../../shared/xds/type-urls.ts';
import { diffJson, type FieldChange, formatChanges } from './json-diff.ts';
import { asArray, routeTargets } from './route-table.ts';
import type { SnapshotView } from './snapshot-view.ts';

/** An event as the tools print it. */
export interface EventSummary {
  seq: number;
  time?: string;
  op: string;
  cluster: string;
  kind: string;
  namespace: string;
  name: string;
  resourceVersion: string;
  ingestor: string;
}

export interface ResourceChange {
  typeUrl: string;
  name: string;
  change: 'added' | 'removed' | 'changed';
  fields: FieldChange[];
  /** Events between the two points on objects behind the resource (before or after). */
  causes: EventSummary[];
}

export interface RoutingChange {
  routeConfig: string;
  virtualHost: string;
  /** The route condition (Envoy match without runtime_fraction), as JSON. */
  match: string;
  /** Where matching requests went / go: `cluster share%, …`; undefined when no such route. */
  before?: string;
  after?: string;
  causes: EventSummary[];
}

export interface SnapshotDiff {
  from: number;
  to: number;
  resources: ResourceChange[];
  routing: RoutingChange[];
  /** Every event between the two points (from < seq ≤ to). */
  events: EventSummary[];
}

export function summarizeEvent(e: LoggedEvent): EventSummary {
  const ev = e.event;
  return {
    seq: e.seq,
    ...(e.time ? { time: e.time } : {}),
    op: ev.op,
    cluster: ev.cluster,
    kind: ev.kind,
    namespace: ev.namespace,
    name: ev.name,
    resourceVersion: ev.resourceVersion,
    ingestor: ev.ingestor,
  };
}

export function diffViews(a: SnapshotView, b: SnapshotView, between: readonly LoggedEvent[]): SnapshotDiff {
  const events = between.map(summarizeEvent);
  const eventsOn = (ids: Iterable<string>) => {
    const set = new Set(ids);
    return events.filter((e) => set.has(objectId(e)));
  };
  const key = (r: { typeUrl: string; name: string }) => `${r.typeUrl}\u0000${r.name}`;
  const before = new Map(a.resources.map((r) => [key(r), r]));
  const after = new Map(b.resources.map((r) => [key(r), r]));
  const resources: ResourceChange[] = [];
  for (const k of [...new Set([...before.keys(), ...after.keys()])].sort()) {
    const x = before.get(k);
    const y = after.get(k);
    const r = (y ?? x) as NonNullable<typeof x>;
    if (x && y && x.hash === y.hash) continue;
    const ids = [
      ...(a.provenance.resources[r.typeUrl]?.[r.name] ?? []),
      ...(b.provenance.resources[r.typeUrl]?.[r.name] ?? []),
    ];
    resources.push({
      typeUrl: r.typeUrl,
      name: r.name,
      change: !x ? 'added' : !y ? 'removed' : 'changed',
      fields: x && y ? diffJson(x.json, y.json) : [],
      causes: eventsOn(ids),
    });
  }
  const ra = routing(a);
  const rb = routing(b);
  const routingChanges: RoutingChange[] = [];
  for (const k of [...new Set([...ra.keys(), ...rb.keys()])].sort()) {
    const x = ra.get(k);
    const y = rb.get(k);
    if (x?.answer === y?.answer) continue;
    const r = (y ?? x) as NonNullable<typeof x>;
    routingChanges.push({
      routeConfig: r.routeConfig,
      virtualHost: r.virtualHost,
      match: r.match,
      ...(x ? { before: x.answer } : {}),
      ...(y ? { after: y.answer } : {}),
      causes: eventsOn([...(x?.ids ?? []), ...(y?.ids ?? [])]),
    });
  }
  return { from: a.version, to: b.version, resources, routing: routingChanges, events };
}

interface RoutingEntry {
  routeConfig: string;
  virtualHost: string;
  match: string;
  answer: string;
  ids: string[];
}

interface RouteGroupShares {
  covered: number;
  shares: Map<string, number>;
  ids: string[];
}

/** Per (route configuration, virtual host, route condition): where matching requests go. */
function routing(view: SnapshotView): Map<string, RoutingEntry> {
  const out = new Map<string, RoutingEntry>();
  for (const rc of view.resources.filter((r) => r.typeUrl.endsWith('RouteConfiguration'))) {
    for (const vh of asArray(rc.json.virtual_hosts)) {
      const vhName = String(vh.name ?? '');
      const perRoute = view.provenance.routes[rc.name]?.[vhName] ?? [];
      const groups = new Map<string, RouteGroupShares>();
      asArray(vh.routes).forEach((route, i) => {
        const { runtime_fraction: rf, ...match } = (route.match ?? {}) as Record<string, unknown>;
        const m = JSON.stringify(match);
        const g: RouteGroupShares = groups.get(m) ?? {
          covered: 0,
          shares: new Map<string, number>(),
          ids: [],
        };
        groups.set(m, g);
        const f = fraction(rf);
        const share = Math.max(0, f - g.covered);
        g.covered = Math.max(g.covered, f);
        g.ids.push(...(perRoute[i] ?? []));
        if (share <= 0) return;
        const targets = routeTargets(route);
        if (targets.length === 0) {
          const what = route.redirect ? 'redirect' : route.direct_response ? 'direct response' : 'none';
          g.shares.set(what, (g.shares.get(what) ?? 0) + share);
        }
        for (const t of targets)
          g.shares.set(t.cluster, (g.shares.get(t.cluster) ?? 0) + (share * t.percent) / 100);
      });
      for (const [m, g] of groups) {
        const answer = [...g.shares]
          .sort(([x], [y]) => (x < y ? -1 : 1))
          .map(([c, p]) => (Math.abs(p - 100) < 1e-9 ? c : `${c} ${Math.round(p * 100) / 100}%`))
          .join(', ');
        out.set(`${rc.name}\u0000${vhName}\u0000${m}`, {
          routeConfig: rc.name,
          virtualHost: vhName,
          match: m,
          answer,
          ids: g.ids,
        });
      }
    }
  }
  return out;
}

function fraction(rf: unknown): number {
  const d = (rf as { default_value?: { numerator?: number; denominator?: string } } | undefined)
    ?.default_value;
  if (!d) return 100;
  const den = d.denominator === 'MILLION' ? 1_000_000 : d.denominator === 'TEN_THOUSAND' ? 10_000 : 100;
  return Math.min(100, (100 * Number(d.numerator ?? 0)) / den);
}

export function formatEvent(e: EventSummary): string {
  return `#${e.seq}${e.time ? ` ${e.time}` : ''} ${e.op} ${e.kind} ${e.namespace ? `${e.namespace}/` : ''}${e.name} (cluster ${e.cluster}, rv ${e.resourceVersion || '-'}, by ${e.ingestor})`;
}

export function formatDiff(d: SnapshotDiff, fromLabel: string, toLabel: string): string {
  const lines = [`diff ${fromLabel} → ${toLabel}`];
  if (d.resources.length === 0 && d.routing.length === 0) lines.push('  no changes');
  if (d.routing.length > 0) lines.push('', 'routing:');
  for (const r of d.routing) {
    lines.push(`  ${r.routeConfig} / ${r.virtualHost} ${r.match}`);
    lines.push(`    before: ${r.before ?? '(no such route)'}`);
    lines.push(`    after:  ${r.after ?? '(no such route)'}`);
    for (const c of r.causes) lines.push(`    caused by ${formatEvent(c)}`);
  }
  if (d.resources.length > 0) lines.push('', 'resources:');
  for (const r of d.resources) {
    const sign = r.change === 'added' ? '+' : r.change === 'removed' ? '-' : '~';
    lines.push(`  ${sign} ${shortName(r.typeUrl)} ${r.name}`);
    lines.push(...formatChanges(r.fields));
    for (const c of r.causes) lines.push(`    caused by ${formatEvent(c)}`);
  }
  if (d.events.length > 0) {
    lines.push('', `events ${d.from + 1}..${d.to}:`);
    for (const e of d.events) lines.push(`  ${formatEvent(e)}`);
  }
  return `${lines.join('\n')}\n`;
}
