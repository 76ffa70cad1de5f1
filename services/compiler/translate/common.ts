/**
 * Names, type names and small builders shared by the Envoy translators. Every translator returns
 * `EnvoyResource`s: a typed plain message (proto field names) plus its type URL and name.
 */
import type { ConfigSource } from '../../../proto/gen/envoy/config/core/v3/ConfigSource.ts';
import type { HttpFilter } from '../../../proto/gen/envoy/extensions/filters/network/http_connection_manager/v3/HttpFilter.ts';
import type { Duration } from '../../../proto/gen/google/protobuf/Duration.ts';
import { packAny } from '../../../shared/xds/encoding.ts';
import type { TypeUrl } from '../../../shared/xds/type-urls.ts';

/** One Envoy resource before encoding. */
export interface EnvoyResource {
  /** xDS type URL of the message. */
  typeUrl: TypeUrl;
  /** Resource name (unique per type). */
  name: string;
  /** The message as a plain object with proto field names. */
  message: object;
  /** Served only to clients that ask for it by name (API listeners for proxyless gRPC). */
  onDemand?: true;
}

/** The single HTTP socket listener Envoys receive (Emissary's cleartext default). */
export const SOCKET_LISTENER_NAME = 'ambassador-listener-8080';
export const SOCKET_LISTENER_PORT = 8080;
/** RouteConfiguration referenced by the socket listener's HCM over RDS. */
export const SOCKET_ROUTE_CONFIG_NAME = `${SOCKET_LISTENER_NAME}-routes`;
/** RouteConfiguration names of API listeners are this prefix plus the authority. */
export const API_ROUTE_CONFIG_PREFIX = 'api:';

export const HCM_TYPE = 'envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
export const ROUTER_TYPE = 'envoy.extensions.filters.http.router.v3.Router';
export const HCM_FILTER_NAME = 'envoy.filters.network.http_connection_manager';
export const ROUTER_FILTER_NAME = 'envoy.filters.http.router';

/** Every dynamic resource comes over the ADS stream the client already has. */
export function adsConfigSource(): ConfigSource {
  return { ads: {}, resource_api_version: 'V3' };
}

/** The router filter; always the last HTTP filter. */
export function routerFilter(): HttpFilter {
  return { name: ROUTER_FILTER_NAME, typed_config: packAny(ROUTER_TYPE, {}) };
}

/** Milliseconds as a protobuf Duration (nanos omitted when zero, for tidy dumps). */
export function duration(ms: number): Duration {
  const seconds = Math.floor(ms / 1000);
  const nanos = (ms % 1000) * 1_000_000;
  return nanos === 0 ? { seconds } : { seconds, nanos };
}
