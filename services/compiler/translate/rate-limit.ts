/**
 * The ratelimit HTTP filter for the RateLimitService (irratelimit.py): the descriptor domain
 * routes' `rate_limits` are evaluated in, the gRPC service, its timeout and failure mode.
 */

import type { RateLimit as RateLimitConfig } from '../../../proto/gen/envoy/extensions/filters/http/ratelimit/v3/RateLimit.ts';
import type { HttpFilter } from '../../../proto/gen/envoy/extensions/filters/network/http_connection_manager/v3/HttpFilter.ts';
import { packAny } from '../../../shared/xds/encoding.ts';
import type { RateLimit } from '../ir/types-edge.ts';
import { duration } from './common.ts';

export const RATE_LIMIT_FILTER_NAME = 'envoy.filters.http.ratelimit';
export const RATE_LIMIT_TYPE = 'envoy.extensions.filters.http.ratelimit.v3.RateLimit';

export function rateLimitFilter(r: RateLimit): HttpFilter {
  const config: RateLimitConfig = {
    domain: r.domain,
    timeout: duration(r.timeoutMs),
    failure_mode_deny: r.failureModeDeny,
    rate_limit_service: {
      grpc_service: { envoy_grpc: { cluster_name: r.cluster } },
      transport_api_version: 'V3',
    },
    ...(r.useResourceExhaustedCode ? { rate_limited_as_resource_exhausted: true } : {}),
  };
  return { name: RATE_LIMIT_FILTER_NAME, typed_config: packAny(RATE_LIMIT_TYPE, config) };
}
