/**
 * The ext_authz HTTP filter for the AuthService (irauth.py, v3httpfilter.py): HTTP check
 * requests (path_prefix, allowed headers both ways) or the gRPC Authorization API v3.
 * Per-route settings (`bypass_auth`, context extensions) are in route-auth.ts.
 */

import type { ExtAuthz as ExtAuthzConfig } from '../../../proto/gen/envoy/extensions/filters/http/ext_authz/v3/ExtAuthz.ts';
import type { HttpFilter } from '../../../proto/gen/envoy/extensions/filters/network/http_connection_manager/v3/HttpFilter.ts';
import type { StringMatcher } from '../../../proto/gen/envoy/type/matcher/v3/StringMatcher.ts';
import { packAny } from '../../../shared/xds/encoding.ts';
import type { ExtAuthz } from '../ir/types-edge.ts';
import { duration } from './common.ts';
import { EXT_AUTHZ_FILTER_NAME, EXT_AUTHZ_PER_ROUTE_TYPE } from './route-auth.ts';

export const EXT_AUTHZ_TYPE = 'envoy.extensions.filters.http.ext_authz.v3.ExtAuthz';

export function extAuthzFilter(a: ExtAuthz): HttpFilter {
  const exact = (names: readonly string[]): { patterns: StringMatcher[] } => ({
    patterns: names.map((n) => ({ exact: n, ignore_case: true })),
  });
  const common: ExtAuthzConfig = {
    transport_api_version: 'V3',
    failure_mode_allow: a.failureModeAllow,
    status_on_error: { code: a.statusOnError as never },
    ...(a.includeBody
      ? {
          with_request_body: {
            max_request_bytes: a.includeBody.maxBytes,
            allow_partial_message: a.includeBody.allowPartial,
          },
        }
      : {}),
  };
  const config: ExtAuthzConfig =
    a.proto === 'grpc'
      ? {
          ...common,
          grpc_service: { envoy_grpc: { cluster_name: a.cluster }, timeout: duration(a.timeoutMs) },
        }
      : {
          ...common,
          http_service: {
            server_uri: { uri: a.uri, cluster: a.cluster, timeout: duration(a.timeoutMs) },
            path_prefix: a.pathPrefix,
            authorization_request: { allowed_headers: exact(a.allowedRequestHeaders) },
            authorization_response: {
              allowed_upstream_headers: exact(a.allowedAuthorizationHeaders),
              allowed_client_headers: exact(a.allowedAuthorizationHeaders),
            },
          },
        };
  return { name: EXT_AUTHZ_FILTER_NAME, typed_config: packAny(EXT_AUTHZ_TYPE, config) };
}

/** typed_per_filter_config entry that turns ext_authz off for one route (HTTPS redirects). */
export function extAuthzDisabled(): Record<string, ReturnType<typeof packAny>> {
  return { [EXT_AUTHZ_FILTER_NAME]: packAny(EXT_AUTHZ_PER_ROUTE_TYPE, { disabled: true }) };
}
