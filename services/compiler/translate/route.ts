/**
 * HTTP routes (emissary.md §2.2, v3route.py): one Envoy route per Mapping with a cumulative
 * `runtime_fraction` (denominator HUNDRED, runtime key `routing.traffic_shift.<cluster>`), a single
 * redirect route for a host_redirect group, and the socket listener's RouteConfiguration: one `*`
 * virtual host holding every route in group order. Group-wide settings (headers to add/remove,
 * CORS, retries, hashing, mirroring, rate limits, upgrades, regex_rewrite, priority) come from the
 * group; cluster, timeouts, rewrites and auth settings from each Mapping.
 */

import type { HeaderValueOption } from '../../../proto/gen/envoy/config/core/v3/HeaderValueOption.ts';
import type { HeaderMatcher } from '../../../proto/gen/envoy/config/route/v3/HeaderMatcher.ts';
import type { QueryParameterMatcher } from '../../../proto/gen/envoy/config/route/v3/QueryParameterMatcher.ts';
import type { RedirectAction } from '../../../proto/gen/envoy/config/route/v3/RedirectAction.ts';
import type { Route } from '../../../proto/gen/envoy/config/route/v3/Route.ts';
import type { RouteAction } from '../../../proto/gen/envoy/config/route/v3/RouteAction.ts';
import type { RouteConfiguration } from '../../../proto/gen/envoy/config/route/v3/RouteConfiguration.ts';
import type { RouteMatch } from '../../../proto/gen/envoy/config/route/v3/RouteMatch.ts';
import type { RegexMatcher } from '../../../proto/gen/envoy/type/matcher/v3/RegexMatcher.ts';
import type { FractionalPercent } from '../../../proto/gen/envoy/type/v3/FractionalPercent.ts';
import { packAny } from '../../../shared/xds/encoding.ts';
import { ROUTE_TYPE } from '../../../shared/xds/type-urls.ts';
import type { HeaderMatch, HeaderToAdd, HttpRoute, IR, RedirectRoute, RouteGroup } from '../ir/types.ts';
import { duration, type EnvoyResource, SOCKET_ROUTE_CONFIG_NAME } from './common.ts';
import { CORS_FILTER_NAME, CORS_POLICY_TYPE, corsPolicy } from './cors.ts';
import { retryPolicy } from './retry.ts';
import { EXT_AUTHZ_FILTER_NAME, EXT_AUTHZ_PER_ROUTE_TYPE, extAuthzPerRoute } from './route-auth.ts';
import { rateLimits } from './route-rate-limits.ts';

export interface RouteOptions {
  /** Header conditions to emit (the group's, possibly with `:authority` already evaluated away). */
  headers: readonly HeaderMatch[];
  /** The share of traffic, as evaluated by the client, that takes this route when it matches. */
  fraction: FractionalPercent;
  /**
   * Build for a proxyless gRPC client: the timeout also as `max_stream_duration` (the field grpc-js
   * honours), gRPC retry tokens only, no server-side filter configs, rate limits, CORS or mirroring.
   */
  grpcTimeout: boolean;
}

export function translateRoute(group: RouteGroup, route: HttpRoute, opts: RouteOptions): Route {
  const forGrpc = opts.grpcTimeout;
  const p = group.policy;
  const timeout = duration(route.timeoutMs);
  const action: RouteAction = {
    cluster: route.cluster,
    timeout,
    ...(route.idleTimeoutMs !== undefined ? { idle_timeout: duration(route.idleTimeoutMs) } : {}),
    ...(p.priority ? { priority: p.priority } : {}),
  };
  if (p.regexRewrite) {
    action.regex_rewrite = {
      pattern: regexMatcher(p.regexRewrite.pattern, p.regexMaxSize),
      substitution: p.regexRewrite.substitution,
    };
  } else if (route.prefixRewrite !== undefined) action.prefix_rewrite = route.prefixRewrite;
  // host_rewrite_literal and auto_host_rewrite are one oneof in Envoy: host_rewrite wins.
  if (route.hostRewrite !== undefined) action.host_rewrite_literal = route.hostRewrite;
  else if (route.autoHostRewrite !== undefined) action.auto_host_rewrite = { value: route.autoHostRewrite };
  if (p.hash) {
    const h = p.hash;
    if (h.kind === 'header') action.hash_policy = [{ header: { header_name: h.name } }];
    else if (!forGrpc && h.kind === 'cookie')
      action.hash_policy = [
        {
          cookie: {
            name: h.name,
            ...(h.path !== undefined ? { path: h.path } : {}),
            ...(h.ttlMs !== undefined ? { ttl: duration(h.ttlMs) } : {}),
          },
        },
      ];
    else if (!forGrpc && h.kind === 'source_ip')
      action.hash_policy = [{ connection_properties: { source_ip: h.enabled } }];
  }
  if (p.retryPolicy) {
    const retry = retryPolicy(p.retryPolicy, forGrpc);
    if (retry) action.retry_policy = retry;
  }
  if (!forGrpc) {
    if (p.mirror)
      action.request_mirror_policies = [
        {
          cluster: p.mirror.cluster,
          runtime_fraction: { default_value: { numerator: p.mirror.percent, denominator: 'HUNDRED' } },
        },
      ];
    const limits = rateLimits(p.rateLimits);
    if (limits.length > 0) action.rate_limits = limits;
    if (p.upgrades.length > 0) action.upgrade_configs = p.upgrades.map((u) => ({ upgrade_type: u }));
  }
  if (forGrpc && route.timeoutMs > 0) action.max_stream_duration = { max_stream_duration: timeout };

  const out: Route = {
    name: `${route.source.namespace}/${route.source.name}`,
    match: routeMatch(group, opts.headers, route.caseSensitive, {
      default_value: opts.fraction,
      runtime_key: `routing.traffic_shift.${route.cluster}`,
    }),
    route: action,
    ...headerEdits(group),
  };
  if (!forGrpc) {
    const perFilter: Record<string, { type_url: string; value: Uint8Array }> = {};
    if (p.cors) perFilter[CORS_FILTER_NAME] = packAny(CORS_POLICY_TYPE, corsPolicy(p.cors, group.key));
    const authz = extAuthzPerRoute(route);
    if (authz) perFilter[EXT_AUTHZ_FILTER_NAME] = packAny(EXT_AUTHZ_PER_ROUTE_TYPE, authz);
    if (Object.keys(perFilter).length > 0) out.typed_per_filter_config = perFilter;
  }
  return out;
}

/** The single route of a host_redirect group (never sent to gRPC clients). */
export function translateRedirect(group: RouteGroup, r: RedirectRoute): Route {
  const redirect: RedirectAction = { host_redirect: r.host };
  if (r.path !== undefined) redirect.path_redirect = r.path;
  else if (r.prefix !== undefined) redirect.prefix_rewrite = r.prefix;
  else if (r.regex)
    redirect.regex_rewrite = {
      pattern: regexMatcher(r.regex.pattern, group.policy.regexMaxSize),
      substitution: r.regex.substitution,
    };
  if (r.responseCode !== undefined) redirect.response_code = REDIRECT_CODES[r.responseCode];
  return {
    name: `${r.source.namespace}/${r.source.name}`,
    match: routeMatch(group, group.headers, r.caseSensitive, {
      default_value: { numerator: 100, denominator: 'HUNDRED' },
    }),
    redirect,
    ...headerEdits(group),
  };
}

const REDIRECT_CODES = {
  301: 'MOVED_PERMANENTLY',
  302: 'FOUND',
  303: 'SEE_OTHER',
  307: 'TEMPORARY_REDIRECT',
  308: 'PERMANENT_REDIRECT',
} as const;

function routeMatch(
  group: RouteGroup,
  headers: readonly HeaderMatch[],
  caseSensitive: boolean | undefined,
  runtimeFraction: NonNullable<RouteMatch['runtime_fraction']>,
): RouteMatch {
  const max = group.policy.regexMaxSize;
  const matchers = headers.map((h) => headerMatcher(h, max));
  const query = group.queryParameters.map((q) => queryMatcher(q, max));
  return {
    ...(group.pathMatch === 'regex'
      ? { safe_regex: regexMatcher(group.prefix, max) }
      : group.pathMatch === 'exact'
        ? { path: group.prefix }
        : { prefix: group.prefix }),
    ...(caseSensitive === false ? { case_sensitive: { value: false } } : {}),
    ...(matchers.length > 0 ? { headers: matchers } : {}),
    ...(query.length > 0 ? { query_parameters: query } : {}),
    runtime_fraction: runtimeFraction,
  };
}

function headerEdits(group: RouteGroup): Partial<Route> {
  const p = group.policy;
  return {
    ...(p.requestHeadersToAdd.length > 0
      ? { request_headers_to_add: p.requestHeadersToAdd.map(headerValue) }
      : {}),
    ...(p.responseHeadersToAdd.length > 0
      ? { response_headers_to_add: p.responseHeadersToAdd.map(headerValue) }
      : {}),
    ...(p.requestHeadersToRemove.length > 0 ? { request_headers_to_remove: p.requestHeadersToRemove } : {}),
    ...(p.responseHeadersToRemove.length > 0
      ? { response_headers_to_remove: p.responseHeadersToRemove }
      : {}),
  };
}

/** Emissary's `append` (default true) as Envoy's non-deprecated append_action. */
function headerValue(h: HeaderToAdd): HeaderValueOption {
  return {
    header: { key: h.name, value: h.value },
    append_action: h.append ? 'APPEND_IF_EXISTS_OR_ADD' : 'OVERWRITE_IF_EXISTS_OR_ADD',
  };
}

/** Every regex is RE2 with Emissary's max_program_size (Module `regex_max_size`, default 200). */
export function regexMatcher(regex: string, maxProgramSize: number): RegexMatcher {
  return { google_re2: { max_program_size: { value: maxProgramSize } }, regex };
}

export function headerMatcher(h: HeaderMatch, maxProgramSize = 200): HeaderMatcher {
  switch (h.match) {
    case 'present':
      return { name: h.name, present_match: true };
    case 'exact':
      return { name: h.name, string_match: { exact: h.value } };
    case 'prefix':
      return { name: h.name, string_match: { prefix: h.value } };
    case 'suffix':
      return { name: h.name, string_match: { suffix: h.value } };
    case 'regex':
      return { name: h.name, string_match: { safe_regex: regexMatcher(h.value, maxProgramSize) } };
    default:
      throw new Error(`unknown header match ${(h as HeaderMatch).match}`);
  }
}

function queryMatcher(q: HeaderMatch, maxProgramSize: number): QueryParameterMatcher {
  if (q.match === 'present') return { name: q.name, present_match: true };
  if (q.match === 'regex')
    return { name: q.name, string_match: { safe_regex: regexMatcher(q.value, maxProgramSize) } };
  return { name: q.name, string_match: { exact: q.value } };
}

/** Envoy's cumulative threshold: every route sees the same per-request random number. */
export function cumulativeFraction(route: HttpRoute): FractionalPercent {
  return { numerator: route.cumulativeWeight, denominator: 'HUNDRED' };
}

/** Every route of the socket listener, in evaluation order. */
export function socketRoutes(ir: IR): Route[] {
  return ir.groups.flatMap((g) =>
    g.redirect
      ? [translateRedirect(g, g.redirect)]
      : g.routes.map((r) =>
          translateRoute(g, r, { headers: g.headers, fraction: cumulativeFraction(r), grpcTimeout: false }),
        ),
  );
}

export function translateSocketRoutes(ir: IR): EnvoyResource {
  const message: RouteConfiguration = {
    name: SOCKET_ROUTE_CONFIG_NAME,
    virtual_hosts: [{ name: '*', domains: ['*'], routes: socketRoutes(ir) }],
  };
  return { typeUrl: ROUTE_TYPE, name: SOCKET_ROUTE_CONFIG_NAME, message };
}
