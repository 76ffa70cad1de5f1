/** xDS resource type URLs served by Attaché, and their short names used in logs, metrics and CLI output. */

export const TYPE_PREFIX = 'type.googleapis.com/';

export const LISTENER_TYPE = 'type.googleapis.com/envoy.config.listener.v3.Listener';
export const ROUTE_TYPE = 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration';
export const CLUSTER_TYPE = 'type.googleapis.com/envoy.config.cluster.v3.Cluster';
export const ENDPOINT_TYPE = 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment';
export const SECRET_TYPE = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret';
/**
 * VHDS: virtual hosts of a RouteConfiguration, served one by one over delta ADS to clients that
 * opt in (the fan-out derives them from the committed RouteConfigurations; no snapshot holds them).
 */
export const VIRTUAL_HOST_TYPE = 'type.googleapis.com/envoy.config.route.v3.VirtualHost';

/** A resource type URL Attaché knows how to produce. */
export type TypeUrl =
  | typeof LISTENER_TYPE
  | typeof ROUTE_TYPE
  | typeof CLUSTER_TYPE
  | typeof ENDPOINT_TYPE
  | typeof SECRET_TYPE
  | typeof VIRTUAL_HOST_TYPE;

/**
 * Push order for a new snapshot: clusters before the endpoints they use, listeners before routes,
 * route configurations before their virtual hosts.
 */
export const PUSH_ORDER: readonly TypeUrl[] = [
  CLUSTER_TYPE,
  ENDPOINT_TYPE,
  LISTENER_TYPE,
  ROUTE_TYPE,
  SECRET_TYPE,
  VIRTUAL_HOST_TYPE,
];

export const SHORT_NAMES: Readonly<Record<TypeUrl, string>> = {
  [LISTENER_TYPE]: 'LDS',
  [ROUTE_TYPE]: 'RDS',
  [CLUSTER_TYPE]: 'CDS',
  [ENDPOINT_TYPE]: 'EDS',
  [SECRET_TYPE]: 'SDS',
  [VIRTUAL_HOST_TYPE]: 'VHDS',
};

/** The protobuf message name behind each type URL. */
export function messageNameOf(typeUrl: string): string {
  return typeUrl.startsWith(TYPE_PREFIX) ? typeUrl.slice(TYPE_PREFIX.length) : typeUrl;
}

export function isTypeUrl(s: string): s is TypeUrl {
  return s in SHORT_NAMES;
}

/** Short name for logs and metric labels; unknown types are reported verbatim. */
export function shortName(typeUrl: string): string {
  return isTypeUrl(typeUrl) ? SHORT_NAMES[typeUrl] : typeUrl;
}
