/**
 * Per-route ext_authz settings (`bypass_auth`, `auth_context_extensions`), as v3route.py emits
 * them. The ext_authz filter itself belongs to the AuthService translation; both use this name.
 */
import type { ExtAuthzPerRoute } from '../../../proto/gen/envoy/extensions/filters/http/ext_authz/v3/ExtAuthzPerRoute.ts';
import type { HttpRoute } from '../ir/types.ts';

export const EXT_AUTHZ_FILTER_NAME = 'envoy.filters.http.ext_authz';
export const EXT_AUTHZ_PER_ROUTE_TYPE = 'envoy.extensions.filters.http.ext_authz.v3.ExtAuthzPerRoute';

export function extAuthzPerRoute(r: HttpRoute): ExtAuthzPerRoute | undefined {
  if (r.bypassAuth) return { disabled: true };
  if (r.authContextExtensions && Object.keys(r.authContextExtensions).length > 0)
    return { check_settings: { context_extensions: r.authContextExtensions } };
  return undefined;
}
