/**
 * Proxyless gRPC output: per exact Mapping hostname H, an on-demand API listener named H and the
 * RouteConfiguration `api:H` holding exactly the routes an Envoy would apply to `:authority: H`.
 *
 * grpc-js differences handled here (grpc-js-xds.md §3–4):
 * - grpc-js draws a fresh random number for every route's runtime_fraction, so Envoy's cumulative
 *   thresholds are turned into conditional probabilities: (c_i − c_{i−1}) / (100 − c_{i−1}),
 *   denominator MILLION, which reproduces Envoy's split exactly.
 * - Redirect and non_forwarding_action routes crash or are NACKed by grpc-js: they are never emitted;
 *   nor are routes that need query parameters (gRPC requests have none; grpc-js would ignore them).
 * - Server-side per-route settings (ext_authz, CORS, rate limits, mirroring, upgrades) are left out.
 * - No HCM idle timeout: grpc-js would use it as every RPC's deadline.
 */
import type { Listener } from '../../../proto/gen/envoy/config/listener/v3/Listener.ts';
import type { Route } from '../../../proto/gen/envoy/config/route/v3/Route.ts';
import type { RouteConfiguration } from '../../../proto/gen/envoy/config/route/v3/RouteConfiguration.ts';
import type { HttpConnectionManager } from '../../../proto/gen/envoy/extensions/filters/network/http_connection_manager/v3/HttpConnectionManager.ts';
import type { FractionalPercent } from '../../../proto/gen/envoy/type/v3/FractionalPercent.ts';
import { packAny } from '../../../shared/xds/encoding.ts';
import { LISTENER_TYPE, ROUTE_TYPE } from '../../../shared/xds/type-urls.ts';
import type { Diagnostic } from '../contracts.ts';
import type { IR, RouteGroup } from '../ir/types.ts';
import { evaluateAuthority } from './authority.ts';
import {
  API_ROUTE_CONFIG_PREFIX,
  adsConfigSource,
  type EnvoyResource,
  HCM_TYPE,
  routerFilter,
  SOCKET_LISTENER_NAME,
} from './common.ts';
import { apiVirtualHostKey, type RouteLayout } from './listener.ts';
import { translateRoute } from './route.ts';
import type { GroupSpans } from './virtual-hosts.ts';

const MILLION = 1_000_000;

export function translateApiListeners(
  ir: IR,
  layout?: RouteLayout,
): { resources: EnvoyResource[]; diagnostics: Diagnostic[] } {
  const resources: EnvoyResource[] = [];
  const diagnostics: Diagnostic[] = [];
  // By name, once: a lookup per route through every cluster was quadratic (10,000 routes × 2,000
  // clusters at the benchmark's size).
  const policies = new Map(ir.clusters.map((c) => [c.name, c.loadBalancer?.policy]));
  const candidates = groupsByAuthority(ir.groups);
  for (const host of ir.apiHosts) {
    if (host === SOCKET_LISTENER_NAME) {
      for (const g of ir.groups.filter((g) => g.hostname === host)) {
        for (const r of g.routes) {
          diagnostics.push({
            severity: 'warning',
            source: r.source,
            field: 'hostname',
            message: `hostname ${host} is the name of the Envoy listener; no API listener is generated for it`,
          });
        }
      }
      continue;
    }
    const routes: Route[] = [];
    const spans: GroupSpans = new Map();
    for (const g of candidates(host)) {
      const start = routes.length;
      for (const r of apiRoutes(policies, g, host, diagnostics)) routes.push(r);
      if (layout && routes.length > start) spans.set(g.key, [start, routes.length - start]);
    }
    layout?.set(apiVirtualHostKey(host), { apiHost: host, spans });
    resources.push(apiListener(host), apiRouteConfiguration(host, routes));
  }
  return { resources, diagnostics };
}

/**
 * The groups that may apply to an API host, in their order: those without an exact `:authority`
 * condition (a Mapping's hostname), and those whose first one is the host. Every other group
 * contributes no route and no diagnostic ({@link apiRoutes} finds its authority does not match), so
 * an API host costs its own groups instead of every group (5 hosts × 10,000 groups at the
 * benchmark's size).
 */
function groupsByAuthority(groups: readonly RouteGroup[]): (host: string) => RouteGroup[] {
  const unbound: number[] = [];
  const byAuthority = new Map<string, number[]>();
  for (let i = 0; i < groups.length; i++) {
    const exact = (groups[i] as RouteGroup).headers.find(
      (h) => h.name === ':authority' && h.match === 'exact',
    );
    if (exact === undefined) unbound.push(i);
    else {
      const list = byAuthority.get(exact.value);
      if (list) list.push(i);
      else byAuthority.set(exact.value, [i]);
    }
  }
  return (host) => {
    // Two ascending index lists merged, so the groups keep their order.
    const bound = byAuthority.get(host) ?? [];
    const out: RouteGroup[] = [];
    let a = 0;
    let b = 0;
    while (a < unbound.length || b < bound.length) {
      const i =
        b >= bound.length || (a < unbound.length && (unbound[a] as number) < (bound[b] as number))
          ? (unbound[a++] as number)
          : (bound[b++] as number);
      out.push(groups[i] as RouteGroup);
    }
    return out;
  };
}

/** The routes one group contributes to the API route configuration of `host` (its problems to `diagnostics`). */
export function apiRoutes(
  policies: ReadonlyMap<string, string | undefined>,
  group: RouteGroup,
  host: string,
  diagnostics: Diagnostic[],
): Route[] {
  // A host-less Mapping routes only where a Host's mappingSelector takes it (Emissary 2.0+); an
  // API listener stands for no Host, so it never carries one (unless hostless_mappings: every_host).
  if (group.hostless === 'selector') return [];
  const verdict = evaluateAuthority(group.headers, host);
  if (!verdict.matches) return [];
  if (group.redirect || group.queryParameters.length > 0) {
    const sources = group.redirect ? [group.redirect.source] : group.routes.map((r) => r.source);
    // gRPC requests carry no query string, so an Envoy never matches these; grpc-js would ignore the
    // condition and match, and crashes on redirects.
    for (const source of sources) {
      diagnostics.push({
        severity: 'warning',
        source,
        message: group.redirect
          ? `redirect route for ${host} is left out of its gRPC API listener: gRPC clients cannot follow redirects`
          : `route for ${host} needs query parameters, which gRPC requests never carry; left out of its gRPC API listener`,
      });
    }
    return [];
  }
  const out: Route[] = [];
  let previous = 0;
  for (const r of group.routes) {
    const fraction = conditionalFraction(previous, r.cumulativeWeight);
    previous = r.cumulativeWeight;
    const route = translateRoute(group, r, { headers: verdict.remaining, fraction, grpcTimeout: true });
    if (!route.route || route.redirect || route.non_forwarding_action) {
      diagnostics.push({
        severity: 'warning',
        source: r.source,
        message: `route for ${host} is not forwarding to a cluster; gRPC clients cannot use it, so it is left out`,
      });
      continue;
    }
    const policy = policies.get(r.cluster);
    if (policy === 'least_request' || policy === 'maglev') {
      diagnostics.push({
        severity: 'warning',
        source: r.source,
        field: 'load_balancer',
        message: `load_balancer ${policy} is NACKed by grpc-js: gRPC clients of ${host} reject cluster ${r.cluster} (Envoys use it as configured)`,
      });
    }
    out.push(route);
  }
  return out;
}

/** Probability that a request not taken by earlier routes of the group takes this one. */
export function conditionalFraction(previousCumulative: number, cumulative: number): FractionalPercent {
  const rest = 100 - previousCumulative;
  const numerator = rest <= 0 ? 0 : Math.round(((cumulative - previousCumulative) * MILLION) / rest);
  return { numerator, denominator: 'MILLION' };
}

function apiListener(host: string): EnvoyResource {
  const hcm: HttpConnectionManager = {
    stat_prefix: 'grpc_api',
    rds: { route_config_name: API_ROUTE_CONFIG_PREFIX + host, config_source: adsConfigSource() },
    http_filters: [routerFilter()],
  };
  const message: Listener = { name: host, api_listener: { api_listener: packAny(HCM_TYPE, hcm) } };
  return { typeUrl: LISTENER_TYPE, name: host, message, onDemand: true };
}

function apiRouteConfiguration(host: string, routes: Route[]): EnvoyResource {
  const name = API_ROUTE_CONFIG_PREFIX + host;
  const message: RouteConfiguration = { name, virtual_hosts: [{ name: host, domains: [host], routes }] };
  return { typeUrl: ROUTE_TYPE, name, message };
}
