/**
 * CORS (emissary.md §1.2 "CORS", `IRCORS`): the group's (else the Module's) policy as the cors
 * filter's per-route config. Envoy v3 moved route-level `cors` to typed_per_filter_config; the cors
 * HTTP filter itself is added to the HCM by translate/hcm-settings.ts whenever any route uses CORS.
 */
import { createHash } from 'node:crypto';
import type { CorsPolicy } from '../../../proto/gen/envoy/extensions/filters/http/cors/v3/CorsPolicy.ts';
import type { CorsSettings } from '../ir/types.ts';

export const CORS_FILTER_NAME = 'envoy.filters.http.cors';
export const CORS_FILTER_TYPE = 'envoy.extensions.filters.http.cors.v3.Cors';
export const CORS_POLICY_TYPE = 'envoy.extensions.filters.http.cors.v3.CorsPolicy';

/**
 * Lists become Envoy's comma-separated strings, exactly as `IRCORS._cors_normalize` joins them; the
 * runtime key names the group by a SHA-1 of its key, like Emissary's group_id.
 */
export function corsPolicy(c: CorsSettings, groupKey: string): CorsPolicy {
  return {
    ...(c.origins.length > 0 ? { allow_origin_string_match: c.origins.map((o) => ({ exact: o })) } : {}),
    ...(c.methods.length > 0 ? { allow_methods: c.methods.join(', ') } : {}),
    ...(c.headers.length > 0 ? { allow_headers: c.headers.join(', ') } : {}),
    ...(c.exposedHeaders.length > 0 ? { expose_headers: c.exposedHeaders.join(', ') } : {}),
    ...(c.maxAge !== undefined ? { max_age: c.maxAge } : {}),
    ...(c.credentials !== undefined ? { allow_credentials: { value: c.credentials } } : {}),
    filter_enabled: {
      default_value: { numerator: 100, denominator: 'HUNDRED' },
      runtime_key: `routing.cors_enabled.${createHash('sha1').update(groupKey).digest('hex')}`,
    },
  };
}
