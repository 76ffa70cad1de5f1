/**
 * `attache explain`: which route of a snapshot takes a request, where it sends it, the objects
 * behind it, and why each earlier route did not match; or, for a resource name, the resource and
 * the objects that produced it.
 */
import type { ProvenanceObject } from '../../shared/snapshot/provenance.ts';
import { sourcesOf } from '../../shared/snapshot/provenance.ts';
import { ROUTE_TYPE, shortName } from '../../shared/xds/type-urls.ts';
import { evaluateRouteTable, type HttpRequest, type TableVerdict } from './route-match.ts';
import { describeAction, formatObject, objects } from './route-table.ts';
import type { SnapshotView, ViewResource } from './snapshot-view.ts';

export interface RequestExplanation {
  request: HttpRequest;
  routeConfig: string;
  virtualHost?: string;
  verdict: TableVerdict;
  /** Per evaluated route: its sources. */
  sources: ProvenanceObject[][];
  hostSources: ProvenanceObject[];
}

/** The RouteConfiguration a listener uses for cleartext HTTP (`<listener>-routes`), or an API listener's (`api:<name>`). */
export function routeConfigFor(view: SnapshotView, listener: string): ViewResource | undefined {
  const routes = view.resources.filter((r) => r.typeUrl === ROUTE_TYPE);
  return (
    routes.find((r) => r.name === `${listener}-routes`) ?? routes.find((r) => r.name === `api:${listener}`)
  );
}

export function explainRequest(view: SnapshotView, req: HttpRequest, listener: string): RequestExplanation {
  const rc = routeConfigFor(view, listener);
  if (!rc) {
    return {
      request: req,
      routeConfig: '',
      verdict: {
        virtualHost: -1,
        domainMatch: `no route configuration for listener ${listener}`,
        routes: [],
        targets: [],
      },
      sources: [],
      hostSources: [],
    };
  }
  const verdict = evaluateRouteTable(rc.json, req);
  const vhosts = (rc.json.virtual_hosts ?? []) as { name?: string }[];
  const vhName = verdict.virtualHost >= 0 ? (vhosts[verdict.virtualHost]?.name ?? '') : undefined;
  const perRoute = vhName !== undefined ? (view.provenance.routes[rc.name]?.[vhName] ?? []) : [];
  return {
    request: req,
    routeConfig: rc.name,
    ...(vhName !== undefined ? { virtualHost: vhName } : {}),
    verdict,
    sources: verdict.routes.map((r) => objects(view, perRoute[r.index] ?? [])),
    hostSources:
      vhName !== undefined ? objects(view, view.provenance.virtualHosts[rc.name]?.[vhName] ?? []) : [],
  };
}

/** The clusters a request goes to, as `cluster share%` sorted (bisect compares these). */
export function answerOf(e: RequestExplanation): string {
  if (e.verdict.targets.length === 0) {
    const taken = e.verdict.routes.find((r) => r.share > 0);
    return taken ? describeAction(taken.route) : 'no route';
  }
  const byCluster = new Map<string, number>();
  for (const t of e.verdict.targets)
    byCluster.set(t.target.cluster, (byCluster.get(t.target.cluster) ?? 0) + t.target.percent);
  return [...byCluster]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([c, p]) => (Math.abs(p - 100) < 1e-9 ? c : `${c} ${round(p)}%`))
    .join(', ');
}

export function formatExplanation(e: RequestExplanation, at: string): string {
  const r = e.request;
  const lines = [`${r.method} ${r.authority}${r.path}${headerText(r.headers)}  at ${at}`];
  if (!e.routeConfig) return `${lines[0]}\n  ${e.verdict.domainMatch}\n`;
  lines.push(`  route configuration ${e.routeConfig}`);
  if (e.virtualHost === undefined) {
    lines.push(`  ${e.verdict.domainMatch}`);
    return `${lines.join('\n')}\n`;
  }
  lines.push(`  virtual host ${e.virtualHost}: ${e.verdict.domainMatch}`);
  for (const h of e.hostSources) lines.push(`    from ${formatObject(h)}`);
  e.verdict.routes.forEach((v, i) => {
    const m = JSON.stringify(matchOf(v.route));
    if (v.mismatch.length > 0) {
      lines.push(`  route #${v.index} ${m}: no match — ${v.mismatch.join('; ')}`);
    } else if (v.share === 0) {
      lines.push(`  route #${v.index} ${m}: matches, but earlier routes already take every such request`);
    } else {
      lines.push(`  route #${v.index} ${m}: MATCH, takes ${round(v.share)}% → ${describeAction(v.route)}`);
      const action = (v.route.route ?? {}) as Record<string, unknown>;
      for (const k of [
        'prefix_rewrite',
        'regex_rewrite',
        'host_rewrite_literal',
        'auto_host_rewrite',
        'timeout',
      ]) {
        if (action[k] !== undefined) lines.push(`      ${k}: ${JSON.stringify(action[k])}`);
      }
    }
    for (const s of e.sources[i] ?? []) lines.push(`      from ${formatObject(s)}`);
  });
  lines.push(`  answer: ${answerOf(e)}`);
  return `${lines.join('\n')}\n`;
}

/** A resource by name (any type), with the objects behind it. */
export function explainName(view: SnapshotView, name: string): string {
  const found = view.resources.filter((r) => r.name === name);
  if (found.length === 0) return `no resource named ${name} in ${view.group} at version ${view.version}\n`;
  const lines: string[] = [];
  for (const r of found) {
    lines.push(`${shortName(r.typeUrl)} ${r.name} (hash ${r.hash.slice(0, 12)})`);
    for (const o of sourcesOf(view.provenance, r.typeUrl, r.name)) lines.push(`  from ${formatObject(o)}`);
    const diags = view.diagnostics.filter((d) =>
      sourcesOf(view.provenance, r.typeUrl, r.name).some(
        (o) => o.kind === d.source.kind && o.name === d.source.name && o.namespace === d.source.namespace,
      ),
    );
    for (const d of diags)
      lines.push(
        `  ${d.severity}: ${d.source.kind} ${d.source.name}: ${d.field ? `${d.field}: ` : ''}${d.message}`,
      );
    lines.push(JSON.stringify(r.json, null, 2).replace(/^/gm, '  '));
  }
  return `${lines.join('\n')}\n`;
}

function matchOf(route: Record<string, unknown>): unknown {
  const { runtime_fraction: _rf, ...m } = (route.match ?? {}) as Record<string, unknown>;
  return m;
}

function headerText(h: Record<string, string>): string {
  const entries = Object.entries(h);
  return entries.length === 0 ? '' : ` [${entries.map(([k, v]) => `${k}=${v}`).join(' ')}]`;
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}
