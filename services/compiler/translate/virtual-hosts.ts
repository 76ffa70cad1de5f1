/**
 * Per-listener virtual hosts (emissary.md §2.3; v3listener.py `compute_routes`, v3route.py route
 * variants). Each Host bound to a listener gets one virtual host holding, in group order, every
 * route of the groups associated with it, each turned into the variants the listener's
 * securityModel and the Host's insecure action call for:
 *
 * - matcher `xfp-https` adds `x-forwarded-proto: https`; `xfp-http` drops any XFP condition
 *   (it means "not known to be https"); `always` leaves the match alone;
 * - action Route keeps the route; Redirect replaces its action with an HTTPS redirect (and turns
 *   ext_authz off); Reject answers 404 directly. ACME challenges are always routed.
 *
 * When both variants would Route, one unconditioned route is emitted instead of two (same
 * behaviour, half the routes; Emissary emits both).
 *
 * Host ↔ group association is Emissary's strict mode (`hostTakesGroup`).
 */
import type { Route } from '../../../proto/gen/envoy/config/route/v3/Route.ts';
import type { VirtualHost } from '../../../proto/gen/envoy/config/route/v3/VirtualHost.ts';
import type { Diagnostic } from '../contracts.ts';
import { hostGlobsOverlap, labelsMatch } from '../ir/host-match.ts';
import type { IR, RouteGroup } from '../ir/types.ts';
import type { EdgeIR, HostIR, SocketListener } from '../ir/types-edge.ts';
import { extAuthzDisabled } from './ext-authz.ts';
import { cumulativeFraction, translateRedirect, translateRoute } from './route.ts';

const XFP = 'x-forwarded-proto';
const ACME_PREFIX = '/.well-known/acme-challenge/';

type Matcher = 'always' | 'xfp-https' | 'xfp-http';
type Action = HostIR['insecureAction'];

/** One route group with its socket routes, in evaluation order. */
export interface RouteEntry {
  group: RouteGroup;
  routes: Route[];
}

/** The socket routes of every group (the same routes route.ts `socketRoutes` lists), with their group. */
export function routeEntries(ir: IR): RouteEntry[] {
  return ir.groups.map((g) => ({
    group: g,
    routes: g.redirect
      ? [translateRedirect(g, g.redirect)]
      : g.routes.map((r) =>
          translateRoute(g, r, { headers: g.headers, fraction: cumulativeFraction(r), grpcTimeout: false }),
        ),
  }));
}

/**
 * Whether a Host takes a route group: irhost.py `matches_httpgroup` in its default strict mode.
 * - The Mapping hostname glob must overlap the Host's hostname (`host_regex` matches every Host).
 * - A Host with a mappingSelector also requires it to match the group's labels.
 * - A group whose Mappings name no host is taken only through a matching mappingSelector
 *   ("A Mapping that specifies no host can never match a Host that specifies no
 *   mappingSelector"), unless Module `hostless_mappings: every_host` asks for Ambassador 1.x's
 *   behaviour, where it matches every Host's hostname.
 */
export function hostTakesGroup(
  host: Pick<HostIR, 'hostname' | 'mappingSelector'>,
  group: RouteGroup,
): boolean {
  const selected = host.mappingSelector ? labelsMatch(host.mappingSelector, group.labels) : undefined;
  if (group.hostless === 'selector') return selected === true;
  const hostMatch =
    group.hostless === 'every-host' || group.hostRegex || hostGlobsOverlap(host.hostname, group.hostname);
  return hostMatch && selected !== false;
}

/**
 * Warnings on Mappings that name no host, saying which rule applied: not routed at all (Emissary
 * 2.0+, when no Host's mappingSelector selects them) or routed on every Host (the Ambassador 1.x
 * opt-in), and how to change it.
 */
export function hostlessDiagnostics(ir: IR, listeners: readonly SocketListener[]): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const g of ir.groups) {
    if (!g.hostless) continue;
    const what = g.redirect ? `redirect for prefix ${g.prefix}` : `prefix ${g.prefix}`;
    let message: string;
    if (g.hostless === 'every-host') {
      message =
        `this Mapping names no host; ambassador Module hostless_mappings: every_host routes its ${what} on every Host ` +
        '(Ambassador 1.x behaviour). Emissary 2.0+ would not route it: add hostname: "*" to keep it routed without the setting';
    } else {
      const taken = listeners.some((l) =>
        l.hosts.some((h) => listenerServesHost(l, h) && hostTakesGroup(h, g)),
      );
      if (taken) continue;
      message =
        `this Mapping names no host (no hostname or host) and no Host's mappingSelector matches its labels, so, as in ` +
        `Emissary 2.0+, it is associated with no Host and its ${what} answers 404. Add hostname: "*" to route it on ` +
        'every Host (or a hostname, or labels a Host mappingSelector selects); ambassador Module ' +
        'hostless_mappings: every_host restores Ambassador 1.x behaviour (host-less Mappings on every Host)';
    }
    const sources = g.redirect ? [g.redirect.source] : g.routes.map((r) => r.source);
    for (const source of sources) out.push({ severity: 'warning', source, field: 'hostname', message });
  }
  return out;
}

/** Whether a listener serves a Host at all: an INSECURE listener drops Hosts that reject insecure requests. */
export function listenerServesHost(l: SocketListener, host: HostIR): boolean {
  return !(l.securityModel === 'INSECURE' && host.insecureAction === 'Reject');
}

/**
 * Where each route group's routes sit in one virtual host: group key → [first index, count]. The
 * incremental compiler (mapping-fast-path.ts) replaces a changed group's routes there.
 */
export type GroupSpans = Map<string, readonly [number, number]>;

/**
 * Which route entries each Host takes ({@link hostTakesGroup}, which reads only the Host): decided
 * once per Host and shared by every listener that binds it.
 */
export type HostTakes = WeakMap<HostIR, Uint8Array>;

export function virtualHost(
  l: SocketListener,
  host: HostIR,
  entries: readonly RouteEntry[],
  edge: EdgeIR,
  spans?: GroupSpans,
  takes?: HostTakes,
): VirtualHost {
  let taken = takes?.get(host);
  if (!taken) {
    taken = new Uint8Array(entries.length);
    for (let i = 0; i < entries.length; i++) taken[i] = hostTakesGroup(host, entries[i]!.group) ? 1 : 0;
    takes?.set(host, taken);
  }
  const variants = routeVariants(l, host);
  const authOn = edge.extAuthz !== undefined;
  const routes: Route[] = [];
  for (let i = 0; i < entries.length; i++) {
    if (taken[i] === 0) continue;
    const entry = entries[i]!;
    const start = routes.length;
    for (const route of entry.routes) {
      for (const c of variants) {
        const action = route.match?.prefix === ACME_PREFIX ? 'Route' : c.action;
        routes.push(variant(route, c.matcher, action, authOn));
      }
    }
    spans?.set(entry.group.key, [start, routes.length - start]);
  }
  return { name: `${l.name}-${host.hostname}`, domains: [host.hostname], routes };
}

/** The variants of every route of a group taken by `host` on listener `l`, in order. */
function routeVariants(l: SocketListener, host: HostIR): readonly { matcher: Matcher; action: Action }[] {
  const candidates: { matcher: Matcher; action: Action }[] = [];
  if (l.securityModel !== 'INSECURE')
    candidates.push({ matcher: l.securityModel === 'SECURE' ? 'always' : 'xfp-https', action: 'Route' });
  if (l.securityModel !== 'SECURE') {
    candidates.push({
      matcher: l.securityModel === 'INSECURE' ? 'always' : 'xfp-http',
      action: host.insecureAction,
    });
  }
  return candidates.length === 2 && candidates[1]!.action === 'Route'
    ? [{ matcher: 'always', action: 'Route' }]
    : candidates;
}

function variant(route: Route, matcher: Matcher, action: Action, authOn: boolean): Route {
  let match = route.match;
  if (matcher !== 'always' && match) {
    const headers = (match.headers ?? []).filter((h) => h.name?.toLowerCase() !== XFP);
    if (matcher === 'xfp-https') headers.push({ name: XFP, string_match: { exact: 'https' } });
    const { headers: _old, ...rest } = match;
    match = headers.length > 0 ? { ...rest, headers } : rest;
  }
  if (action === 'Route') return match === route.match ? route : { ...route, match };
  const { route: _r, redirect: _d, direct_response: _x, typed_per_filter_config: perFilter, ...rest } = route;
  if (action === 'Redirect') {
    const filters = { ...(perFilter ?? {}), ...(authOn ? extAuthzDisabled() : {}) };
    return {
      ...rest,
      match,
      redirect: { https_redirect: true },
      ...(Object.keys(filters).length > 0 ? { typed_per_filter_config: filters } : {}),
    };
  }
  return { ...rest, match, direct_response: { status: 404 } };
}
