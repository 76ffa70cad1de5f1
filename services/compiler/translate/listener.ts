/** The Envoy socket listener: cleartext HTTP on 0.0.0.0:8080, routes over RDS. */
import type { Listener } from '../../../proto/gen/envoy/config/listener/v3/Listener.ts';
import type { HttpConnectionManager } from '../../../proto/gen/envoy/extensions/filters/network/http_connection_manager/v3/HttpConnectionManager.ts';
import { packAny } from '../../../shared/xds/encoding.ts';
import { LISTENER_TYPE } from '../../../shared/xds/type-urls.ts';
import {
  adsConfigSource,
  type EnvoyResource,
  HCM_FILTER_NAME,
  HCM_TYPE,
  routerFilter,
  SOCKET_LISTENER_NAME,
  SOCKET_LISTENER_PORT,
  SOCKET_ROUTE_CONFIG_NAME,
} from './common.ts';

export function translateSocketListener(): EnvoyResource {
  const hcm: HttpConnectionManager = {
    stat_prefix: 'ingress_http',
    rds: { route_config_name: SOCKET_ROUTE_CONFIG_NAME, config_source: adsConfigSource() },
    http_filters: [routerFilter()],
  };
  const message: Listener = {
    name: SOCKET_LISTENER_NAME,
    address: { socket_address: { address: '0.0.0.0', port_value: SOCKET_LISTENER_PORT } },
    filter_chains: [{ filters: [{ name: HCM_FILTER_NAME, typed_config: packAny(HCM_TYPE, hcm) }] }],
  };
  return { typeUrl: LISTENER_TYPE, name: SOCKET_LISTENER_NAME, message };
}
