/**
 * A snapshot's HTTP routing as rows: every route of every virtual host of every
 * RouteConfiguration, in Envoy's evaluation order, with the listener that uses it, its targets
 * and the source objects behind it (provenance).
 */
import type { ProvenanceObject } from '../../shared/snapshot/provenance.ts';
import { LISTENER_TYPE, ROUTE_TYPE } from '../../shared/xds/type-urls.ts';
import type { SnapshotView } from './snapshot-view.ts';

/** A target of a route: a cluster with its share of matching requests (percent). */
export interface RouteTarget {
  cluster: string;
  percent: number;
}

export interface RouteRow {
  /** The listener whose HTTP connection manager uses the RouteConfiguration. */
  listener: string;
  routeConfig: string;
  virtualHost: string;
  domains: string[];
  /** Position in the virtual host (Envoy evaluates routes in this order). */
  index: number;
  /** The Envoy route as JSON. */
  route: Record<string, unknown>;
  /** Where it sends traffic: clusters (with weighted_clusters shares), or a redirect / direct response. */
  action: string;
  sources: ProvenanceObject[];
  /** Ids of the objects behind the virtual host (its Host). */
  hostSources: ProvenanceObject[];
}

/** Every route of the snapshot, grouped by RouteConfiguration and virtual host, in order. */
export function routeTable(view: SnapshotView): RouteRow[] {
  const listeners = view.resources.filter((r) => r.typeUrl === LISTENER_TYPE).map((r) => r.name);
  const rows: RouteRow[] = [];
  for (const rc of view.resources.filter((r) => r.typeUrl === ROUTE_TYPE)) {
    const listener = listenerOf(rc.name, listeners);
    for (const vh of asArray(rc.json.virtual_hosts)) {
      const vhName = String(vh.name ?? '');
      const perRoute = view.provenance.routes[rc.name]?.[vhName] ?? [];
      const hostIds = view.provenance.virtualHosts[rc.name]?.[vhName] ?? [];
      asArray(vh.routes).forEach((route, index) => {
        rows.push({
          listener,
          routeConfig: rc.name,
          virtualHost: vhName,
          domains: asArray<string>(vh.domains as unknown),
          index,
          route,
          action: describeAction(route),
          sources: objects(view, perRoute[index] ?? []),
          hostSources: objects(view, hostIds),
        });
      });
    }
  }
  return rows;
}

/** The RouteConfiguration names follow the listener: `<listener>-routes[-<host>]`, or `api:<authority>`. */
function listenerOf(routeConfig: string, listeners: readonly string[]): string {
  if (routeConfig.startsWith('api:')) return routeConfig.slice(4);
  const owner = listeners
    .filter((l) => routeConfig.startsWith(`${l}-routes`))
    .sort((a, b) => b.length - a.length)[0];
  return owner ?? '';
}

/** The clusters of a route with their share of its matching traffic. */
export function routeTargets(route: Record<string, unknown>): RouteTarget[] {
  const action = route.route as Record<string, unknown> | undefined;
  if (!action) return [];
  if (typeof action.cluster === 'string') return [{ cluster: action.cluster, percent: 100 }];
  const weighted = action.weighted_clusters as { clusters?: { name: string; weight?: number }[] } | undefined;
  const clusters = weighted?.clusters ?? [];
  const total = clusters.reduce((n, c) => n + Number(c.weight ?? 0), 0) || 1;
  return clusters.map((c) => ({ cluster: c.name, percent: (100 * Number(c.weight ?? 0)) / total }));
}

export function describeAction(route: Record<string, unknown>): string {
  if (route.redirect) return `redirect ${JSON.stringify(route.redirect)}`;
  if (route.direct_response) return `direct response ${JSON.stringify(route.direct_response)}`;
  const targets = routeTargets(route);
  if (targets.length === 0) return 'no action';
  return targets.map((t) => (t.percent === 100 ? t.cluster : `${t.cluster} ${t.percent}%`)).join(', ');
}

export function objects(view: SnapshotView, ids: readonly string[]): ProvenanceObject[] {
  return ids.flatMap((id) => {
    const o = view.provenance.objects[id];
    return o ? [o] : [];
  });
}

/** `Mapping default/api (local, mappings.yaml#0, rv 12, seq 40)`. */
export function formatObject(o: ProvenanceObject): string {
  const where = [
    o.cluster,
    o.file !== undefined ? `${o.file}#${o.document ?? 0}` : undefined,
    o.resourceVersion !== undefined ? `rv ${o.resourceVersion}` : undefined,
    o.seq !== undefined ? `seq ${o.seq}` : undefined,
  ].filter((x) => x !== undefined);
  return `${o.kind} ${o.namespace ? `${o.namespace}/` : ''}${o.name} (${where.join(', ')})`;
}

export function asArray<T = Record<string, unknown>>(v: unknown): T[] {
  return Array.isArray(v) ? (v as T[]) : [];
}
