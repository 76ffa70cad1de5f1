/**
 * HTTP routes (emissary.md §2.2): one Envoy route per Mapping with a cumulative `runtime_fraction`
 * (denominator HUNDRED, runtime key `routing.traffic_shift.<cluster>`), and the socket listener's
 * RouteConfiguration: one `*` virtual host holding every route in group order.
 */
import type { HeaderMatcher } from '../../../proto/gen/envoy/config/route/v3/HeaderMatcher.ts';
import type { Route } from '../../../proto/gen/envoy/config/route/v3/Route.ts';
import type { RouteConfiguration } from '../../../proto/gen/envoy/config/route/v3/RouteConfiguration.ts';
import type { FractionalPercent } from '../../../proto/gen/envoy/type/v3/FractionalPercent.ts';
import { ROUTE_TYPE } from '../../../shared/xds/type-urls.ts';
import type { HeaderMatch, HttpRoute, IR, RouteGroup } from '../ir/types.ts';
import { duration, type EnvoyResource, SOCKET_ROUTE_CONFIG_NAME } from './common.ts';

export interface RouteOptions {
  /** Header conditions to emit (the group's, possibly with `:authority` already evaluated away). */
  headers: readonly HeaderMatch[];
  /** The share of traffic, as evaluated by the client, that takes this route when it matches. */
  fraction: FractionalPercent;
  /** Also express the timeout as `max_stream_duration`, the field gRPC clients honour. */
  grpcTimeout: boolean;
}

export function translateRoute(group: RouteGroup, route: HttpRoute, opts: RouteOptions): Route {
  const headers = opts.headers.map(headerMatcher);
  const timeout = duration(route.timeoutMs);
  return {
    name: `${route.source.namespace}/${route.source.name}`,
    match: {
      prefix: group.prefix,
      ...(headers.length > 0 ? { headers } : {}),
      runtime_fraction: {
        default_value: opts.fraction,
        runtime_key: `routing.traffic_shift.${route.cluster}`,
      },
    },
    route: {
      cluster: route.cluster,
      ...(route.prefixRewrite !== undefined ? { prefix_rewrite: route.prefixRewrite } : {}),
      timeout,
      ...(opts.grpcTimeout && route.timeoutMs > 0
        ? { max_stream_duration: { max_stream_duration: timeout } }
        : {}),
    },
  };
}

export function headerMatcher(h: HeaderMatch): HeaderMatcher {
  switch (h.match) {
    case 'present':
      return { name: h.name, present_match: true };
    case 'exact':
      return { name: h.name, string_match: { exact: h.value } };
    case 'prefix':
      return { name: h.name, string_match: { prefix: h.value } };
    case 'suffix':
      return { name: h.name, string_match: { suffix: h.value } };
  }
}

/** Envoy's cumulative threshold: every route sees the same per-request random number. */
export function cumulativeFraction(route: HttpRoute): FractionalPercent {
  return { numerator: route.cumulativeWeight, denominator: 'HUNDRED' };
}

export function translateSocketRoutes(ir: IR): EnvoyResource {
  const routes = ir.groups.flatMap((g) =>
    g.routes.map((r) =>
      translateRoute(g, r, { headers: g.headers, fraction: cumulativeFraction(r), grpcTimeout: false }),
    ),
  );
  const message: RouteConfiguration = {
    name: SOCKET_ROUTE_CONFIG_NAME,
    virtual_hosts: [{ name: '*', domains: ['*'], routes }],
  };
  return { typeUrl: ROUTE_TYPE, name: SOCKET_ROUTE_CONFIG_NAME, message };
}
