/**
 * HTTP connection manager settings from the `ambassador` Module (emissary.md §3, v3listener.py):
 * HCM fields, the HTTP filters the Module enables (grpc_http1_bridge, grpc_web, cors, RBAC for
 * ip_allow/ip_deny), the router filter (suppress_envoy_headers) and the listener buffer limit.
 * For socket listeners only: API listeners must never get an HCM idle timeout, which grpc-js
 * would apply as every RPC's deadline (grpc-js-xds.md §3).
 */

import type { RBAC } from '../../../proto/gen/envoy/extensions/filters/http/rbac/v3/RBAC.ts';
import type { Router } from '../../../proto/gen/envoy/extensions/filters/http/router/v3/Router.ts';
import type { HttpConnectionManager } from '../../../proto/gen/envoy/extensions/filters/network/http_connection_manager/v3/HttpConnectionManager.ts';
import type { HttpFilter } from '../../../proto/gen/envoy/extensions/filters/network/http_connection_manager/v3/HttpFilter.ts';
import { packAny } from '../../../shared/xds/encoding.ts';
import type { AmbassadorModule, IpRule, IR } from '../ir/types.ts';
import { duration, ROUTER_FILTER_NAME, ROUTER_TYPE } from './common.ts';
import { CORS_FILTER_NAME, CORS_FILTER_TYPE } from './cors.ts';

export const GRPC_WEB_FILTER = {
  name: 'envoy.filters.http.grpc_web',
  type: 'envoy.extensions.filters.http.grpc_web.v3.GrpcWeb',
};
export const GRPC_HTTP1_BRIDGE_FILTER = {
  name: 'envoy.filters.http.grpc_http1_bridge',
  type: 'envoy.extensions.filters.http.grpc_http1_bridge.v3.Config',
};
export const RBAC_FILTER = {
  name: 'envoy.filters.http.rbac',
  type: 'envoy.extensions.filters.http.rbac.v3.RBAC',
};

/** What a socket listener's HCM takes from the Module. */
export interface HcmSettings {
  /** Fields to spread into the HttpConnectionManager. */
  hcm: Partial<HttpConnectionManager>;
  /** Filters to place first, before any auth or rate-limit filter, in this order. */
  httpFilters: HttpFilter[];
  /** The router filter to place last (replaces common.ts routerFilter()). */
  router: HttpFilter;
  /** Listener per_connection_buffer_limit_bytes (Module `buffer_limit_bytes`). */
  listenerBufferLimitBytes?: number;
}

/** `usesCors`: whether any route carries a CORS policy (the cors filter is added only then). */
export function hcmSettings(module: AmbassadorModule, usesCors: boolean): HcmSettings {
  const m = module.hcm;
  const common = {
    ...(m.listenerIdleTimeoutMs !== undefined ? { idle_timeout: duration(m.listenerIdleTimeoutMs) } : {}),
    ...(m.headersWithUnderscoresAction
      ? { headers_with_underscores_action: m.headersWithUnderscoresAction }
      : {}),
  };
  const http1 = {
    ...(m.enableHttp10 ? { accept_http_10: true } : {}),
    ...(m.allowChunkedLength ? { allow_chunked_length: true } : {}),
    ...(m.properCase ? { header_key_format: { proper_case_words: {} } } : {}),
  };
  const hcm: Partial<HttpConnectionManager> = {
    use_remote_address: { value: m.useRemoteAddress },
    ...(m.xffNumTrustedHops !== undefined ? { xff_num_trusted_hops: m.xffNumTrustedHops } : {}),
    ...(m.serverName !== undefined ? { server_name: m.serverName } : {}),
    ...(Object.keys(common).length > 0 ? { common_http_protocol_options: common } : {}),
    ...(Object.keys(http1).length > 0 ? { http_protocol_options: http1 } : {}),
    ...(m.maxRequestHeadersKb !== undefined
      ? { max_request_headers_kb: { value: m.maxRequestHeadersKb } }
      : {}),
    ...(m.preserveExternalRequestId ? { preserve_external_request_id: true } : {}),
    ...(m.forwardClientCertDetails ? { forward_client_cert_details: m.forwardClientCertDetails } : {}),
    ...(m.setCurrentClientCertDetails
      ? { set_current_client_cert_details: certDetails(m.setCurrentClientCertDetails) }
      : {}),
    ...(m.stripMatchingHostPort ? { strip_matching_host_port: true } : {}),
    ...(m.mergeSlashes ? { merge_slashes: true } : {}),
    ...(m.rejectRequestsWithEscapedSlashes ? { path_with_escaped_slashes_action: 'REJECT_REQUEST' } : {}),
  };
  const httpFilters: HttpFilter[] = [];
  if (m.enableGrpcHttp11Bridge)
    httpFilters.push({
      name: GRPC_HTTP1_BRIDGE_FILTER.name,
      typed_config: packAny(GRPC_HTTP1_BRIDGE_FILTER.type, {}),
    });
  if (m.enableGrpcWeb)
    httpFilters.push({ name: GRPC_WEB_FILTER.name, typed_config: packAny(GRPC_WEB_FILTER.type, {}) });
  if (usesCors) httpFilters.push({ name: CORS_FILTER_NAME, typed_config: packAny(CORS_FILTER_TYPE, {}) });
  const rules = m.ipAllow ?? m.ipDeny;
  if (rules)
    httpFilters.push({
      name: RBAC_FILTER.name,
      typed_config: packAny(RBAC_FILTER.type, rbac(rules, m.ipAllow ? 'ALLOW' : 'DENY')),
    });
  const router: Router = m.suppressEnvoyHeaders ? { suppress_envoy_headers: true } : {};
  return {
    hcm,
    httpFilters,
    router: { name: ROUTER_FILTER_NAME, typed_config: packAny(ROUTER_TYPE, router) },
    ...(m.bufferLimitBytes !== undefined ? { listenerBufferLimitBytes: m.bufferLimitBytes } : {}),
  };
}

/** `subject` is a BoolValue in Envoy; the other flags are plain booleans. */
function certDetails(d: NonNullable<AmbassadorModule['hcm']['setCurrentClientCertDetails']>) {
  return {
    ...(d.subject !== undefined ? { subject: { value: d.subject } } : {}),
    ...(d.cert !== undefined ? { cert: d.cert } : {}),
    ...(d.chain !== undefined ? { chain: d.chain } : {}),
    ...(d.dns !== undefined ? { dns: d.dns } : {}),
    ...(d.uri !== undefined ? { uri: d.uri } : {}),
  };
}

/** Whether any route of the IR sets a CORS policy. */
export function usesCors(ir: IR): boolean {
  return ir.groups.some((g) => g.policy.cors !== undefined && g.routes.length > 0);
}

/** `ip_allow` → ALLOW policy, `ip_deny` → DENY policy, as Emissary's IRIPAllowDeny builds them. */
function rbac(rules: readonly IpRule[], action: 'ALLOW' | 'DENY'): RBAC {
  const principals = rules.map((r) => {
    const range = { address_prefix: r.address, prefix_len: { value: r.prefixLen } };
    return r.from === 'peer' ? { direct_remote_ip: range } : { remote_ip: range };
  });
  const name = action === 'ALLOW' ? 'ambassador-ip-allow' : 'ambassador-ip-deny';
  return {
    rules: {
      action,
      policies: { [name]: { permissions: [{ any: true }], principals: [{ or_ids: { ids: principals } }] } },
    },
  };
}
