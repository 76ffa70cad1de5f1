/** Route `rate_limits` from Mapping labels (`V3RateLimitAction`): one entry per label group. */
import type {
  RateLimit,
  _envoy_config_route_v3_RateLimit_Action as RateLimit_Action,
} from '../../../proto/gen/envoy/config/route/v3/RateLimit.ts';
import type { RateLimitAction } from '../ir/types.ts';

export function rateLimits(groups: readonly RateLimitAction[][]): RateLimit[] {
  return groups.filter((g) => g.length > 0).map((g) => ({ actions: g.map(action) }));
}

function action(a: RateLimitAction): RateLimit_Action {
  switch (a.kind) {
    case 'source_cluster':
      return { source_cluster: {} };
    case 'destination_cluster':
      return { destination_cluster: {} };
    case 'remote_address':
      return { remote_address: {} };
    case 'generic_key':
      return { generic_key: { descriptor_value: a.value, ...(a.key ? { descriptor_key: a.key } : {}) } };
    case 'request_headers':
      return {
        request_headers: {
          header_name: a.header,
          descriptor_key: a.key,
          ...(a.omitIfNotPresent ? { skip_if_absent: true } : {}),
        },
      };
  }
}
