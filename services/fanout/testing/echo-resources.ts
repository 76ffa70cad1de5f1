/**
 * Minimal Envoy resources for routing the echo service to loopback backends, in the shapes a
 * proxyless gRPC client accepts: an API listener whose HCM takes its routes over ADS, EDS
 * clusters with round robin, and one weighted locality of IP-literal endpoints per cluster.
 */
import { packAny } from '../../../shared/xds/encoding.ts';
import {
  CLUSTER_TYPE,
  ENDPOINT_TYPE,
  LISTENER_TYPE,
  ROUTE_TYPE,
  SECRET_TYPE,
} from '../../../shared/xds/type-urls.ts';
import type { TestResource } from './test-snapshots.ts';

const HCM = 'envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const ROUTER = 'envoy.extensions.filters.http.router.v3.Router';

/** An on-demand API listener named after the authority, routing over RDS `routeName`. */
export function apiListener(authority: string, routeName: string): TestResource {
  const hcm = {
    stat_prefix: authority,
    rds: { route_config_name: routeName, config_source: { ads: {}, resource_api_version: 'V3' } },
    http_filters: [{ name: 'envoy.filters.http.router', typed_config: packAny(ROUTER, {}) }],
  };
  return {
    typeUrl: LISTENER_TYPE,
    name: authority,
    onDemand: true,
    message: { name: authority, api_listener: { api_listener: packAny(HCM, hcm) } },
  };
}

/** A socket listener as an Envoy would get by wildcard (only its identity matters in these tests). */
export function socketListener(name: string, port: number): TestResource {
  return {
    typeUrl: LISTENER_TYPE,
    name,
    message: { name, address: { socket_address: { address: '0.0.0.0', port_value: port } } },
  };
}

/** Where a route sends traffic: one cluster, or a weighted split. */
export type RouteTarget = string | Array<{ cluster: string; weight: number }>;

export function routeConfig(name: string, target: RouteTarget): TestResource {
  const route =
    typeof target === 'string'
      ? { cluster: target }
      : {
          weighted_clusters: {
            clusters: target.map((c) => ({ name: c.cluster, weight: { value: c.weight } })),
          },
        };
  return {
    typeUrl: ROUTE_TYPE,
    name,
    message: {
      name,
      virtual_hosts: [{ name: 'all', domains: ['*'], routes: [{ match: { prefix: '' }, route }] }],
    },
  };
}

/** An EDS cluster whose endpoints come over ADS under the cluster's own name. */
export function edsCluster(name: string, lbPolicy = 'ROUND_ROBIN'): TestResource {
  return {
    typeUrl: CLUSTER_TYPE,
    name,
    message: {
      name,
      type: 'EDS',
      eds_cluster_config: { eds_config: { ads: {}, resource_api_version: 'V3' }, service_name: name },
      lb_policy: lbPolicy,
    },
  };
}

/** One locality (weight 1) of healthy 127.0.0.1 endpoints. */
export function loadAssignment(clusterName: string, ports: readonly number[]): TestResource {
  return {
    typeUrl: ENDPOINT_TYPE,
    name: clusterName,
    message: {
      cluster_name: clusterName,
      endpoints: [
        {
          locality: { zone: 'z1' },
          load_balancing_weight: { value: 1 },
          lb_endpoints: ports.map((port) => ({
            endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: port } } },
            health_status: 'HEALTHY',
          })),
        },
      ],
    },
  };
}

/** A generic SDS secret (what a TLSContext's certificate would become). */
export function genericSecret(name: string, value: string): TestResource {
  return {
    typeUrl: SECRET_TYPE,
    name,
    message: { name, generic_secret: { secret: { inline_string: value } } },
  };
}

/**
 * The world the protocol tests start from: a socket listener on `port` (8080), the echo API
 * listener and its route to `route` (cluster-a), EDS clusters a and b with policy `lb`, and
 * their endpoints (a on `ports`, default 9001; b on 9002); `extra` adds a cluster c.
 */
export function echoWorld(
  o: { ports?: number[]; lb?: string; port?: number; route?: string; extra?: boolean } = {},
): TestResource[] {
  const out: TestResource[] = [
    socketListener('http-listener', o.port ?? 8080),
    apiListener('echo.test', 'echo-route'),
    routeConfig('echo-route', o.route ?? 'cluster-a'),
    edsCluster('cluster-a', o.lb),
    edsCluster('cluster-b', o.lb),
    loadAssignment('cluster-a', o.ports ?? [9001]),
    loadAssignment('cluster-b', [9002]),
  ];
  if (o.extra) out.push(edsCluster('cluster-c'));
  return out;
}
