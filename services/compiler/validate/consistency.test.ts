/** Cross-resource consistency checks on hand-built decoded snapshots. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  CLUSTER_TYPE,
  ENDPOINT_TYPE,
  LISTENER_TYPE,
  ROUTE_TYPE,
  SECRET_TYPE,
  TYPE_PREFIX,
} from '../../../shared/xds/type-urls.ts';
import { API_ROUTE_CONFIG_PREFIX, HCM_TYPE, ROUTER_TYPE } from '../translate/common.ts';
import { checkConsistency } from './consistency.ts';

type Json = Record<string, unknown>;

const router = { name: 'router', typed_config: { '@type': TYPE_PREFIX + ROUTER_TYPE } };
const hcm = (rds: string, extra: Json = {}) => ({
  '@type': TYPE_PREFIX + HCM_TYPE,
  rds: { route_config_name: rds, config_source: { ads: {} } },
  http_filters: [router],
  ...extra,
});
const ip = (address: string, port = 80) => ({
  endpoint: { address: { socket_address: { address, port_value: port } } },
});

/** A consistent snapshot: a socket listener, an API listener, their routes, one cluster and its CLA. */
function base(): Map<string, Map<string, Json>> {
  return new Map([
    [
      LISTENER_TYPE,
      new Map<string, Json>([
        [
          'socket',
          {
            name: 'socket',
            filter_chains: [{ filters: [{ name: 'hcm', typed_config: hcm('socket-routes') }] }],
          },
        ],
        ['echo', { name: 'echo', api_listener: { api_listener: hcm(`${API_ROUTE_CONFIG_PREFIX}echo`) } }],
      ]),
    ],
    [
      ROUTE_TYPE,
      new Map<string, Json>([
        [
          'socket-routes',
          routeConfig('socket-routes', [{ match: { prefix: '/' }, route: { cluster: 'c' } }]),
        ],
        [
          `${API_ROUTE_CONFIG_PREFIX}echo`,
          routeConfig(`${API_ROUTE_CONFIG_PREFIX}echo`, [
            { match: { prefix: '/' }, route: { cluster: 'c' } },
          ]),
        ],
      ]),
    ],
    [
      CLUSTER_TYPE,
      new Map<string, Json>([
        ['c', { name: 'c', type: 'EDS', eds_cluster_config: { service_name: 'c-eds' } }],
      ]),
    ],
    [
      ENDPOINT_TYPE,
      new Map<string, Json>([
        [
          'c-eds',
          {
            cluster_name: 'c-eds',
            endpoints: [{ load_balancing_weight: { value: 1 }, lb_endpoints: [ip('10.0.0.1')] }],
          },
        ],
      ]),
    ],
  ]);
}

function routeConfig(name: string, routes: Json[]): Json {
  return { name, virtual_hosts: [{ name: 'vh', domains: ['*'], routes }] };
}

function set(s: Map<string, Map<string, Json>>, typeUrl: string, name: string, value: Json): void {
  let m = s.get(typeUrl);
  if (!m) {
    m = new Map();
    s.set(typeUrl, m);
  }
  m.set(name, value);
}

describe('output consistency', () => {
  test('consistency — a consistent snapshot has no problems', () => {
    assert.deepEqual(checkConsistency(base()), []);
  });

  test('consistency — a TCP proxy listener is terminal and its cluster must exist', () => {
    const s = base();
    const tcp = (cluster: string) => ({
      name: 'tcp',
      filter_chains: [
        {
          filters: [
            {
              name: 'tcp',
              typed_config: {
                '@type': `${TYPE_PREFIX}envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy`,
                cluster,
              },
            },
          ],
        },
      ],
    });
    set(s, LISTENER_TYPE, 'tcp', tcp('c'));
    assert.deepEqual(checkConsistency(s), []);
    set(s, LISTENER_TYPE, 'tcp', tcp('gone'));
    assert.deepEqual(checkConsistency(s), [
      'listener tcp filter chain 0 TCP proxy references missing cluster gone',
    ]);
  });

  test('consistency — redirects are fine on socket routes but not on API listener routes', () => {
    const s = base();
    const redirect = { name: 'r', match: { prefix: '/old/' }, redirect: { host_redirect: 'x' } };
    set(s, ROUTE_TYPE, 'socket-routes', routeConfig('socket-routes', [redirect]));
    assert.deepEqual(checkConsistency(s), []);
    set(
      s,
      ROUTE_TYPE,
      `${API_ROUTE_CONFIG_PREFIX}echo`,
      routeConfig(`${API_ROUTE_CONFIG_PREFIX}echo`, [redirect]),
    );
    assert.deepEqual(checkConsistency(s), [
      'route configuration api:echo virtual host vh route r does not forward to a cluster, which gRPC clients reject',
    ]);
  });

  test('consistency — non_forwarding_action, missing clusters and a router that is not last are reported', () => {
    const s = base();
    set(
      s,
      ROUTE_TYPE,
      'socket-routes',
      routeConfig('socket-routes', [
        { name: 'nf', match: { prefix: '/' }, non_forwarding_action: {} },
        {
          name: 'w',
          match: { prefix: '/' },
          route: { weighted_clusters: { clusters: [{ name: 'c' }, { name: 'x' }] } },
        },
      ]),
    );
    const listener = {
      name: 'socket',
      filter_chains: [
        {
          filters: [
            { name: 'hcm', typed_config: hcm('socket-routes', { http_filters: [router, { name: 'cors' }] }) },
          ],
        },
      ],
    };
    set(s, LISTENER_TYPE, 'socket', listener);
    assert.deepEqual(checkConsistency(s), [
      'listener socket filter chain 0: the router must be the last HTTP filter',
      'route configuration socket-routes virtual host vh route nf uses non_forwarding_action (server listeners only)',
      'route configuration socket-routes virtual host vh route w references missing cluster x',
    ]);
  });

  test('consistency — SDS secrets and gRPC service clusters must exist', () => {
    const s = base();
    const tls = {
      name: 'envoy.transport_sockets.tls',
      typed_config: {
        common_tls_context: {
          tls_certificate_sds_secret_configs: [{ name: 'cert', sds_config: { ads: {} } }],
        },
      },
    };
    set(s, LISTENER_TYPE, 'socket', {
      name: 'socket',
      filter_chains: [
        {
          transport_socket: tls,
          filters: [
            {
              name: 'hcm',
              typed_config: hcm('socket-routes', {
                http_filters: [
                  { name: 'authz', typed_config: { grpc_service: { envoy_grpc: { cluster_name: 'auth' } } } },
                  router,
                ],
              }),
            },
          ],
        },
      ],
    });
    assert.deepEqual(checkConsistency(s), [
      'listener socket references missing secret cert',
      'listener socket gRPC service references missing cluster auth',
    ]);
    set(s, SECRET_TYPE, 'cert', { name: 'cert' });
    set(s, CLUSTER_TYPE, 'auth', { name: 'auth', type: 'LOGICAL_DNS' });
    assert.deepEqual(checkConsistency(s), []);
  });

  test('consistency — EDS assignments: missing, weightless, non-IP, duplicate and priority gaps', () => {
    const s = base();
    set(s, CLUSTER_TYPE, 'd', { name: 'd', type: 'EDS', eds_cluster_config: {} });
    set(s, ENDPOINT_TYPE, 'c-eds', {
      cluster_name: 'c-eds',
      endpoints: [
        {
          locality: { zone: 'a' },
          load_balancing_weight: { value: 1 },
          lb_endpoints: [ip('10.0.0.1'), ip('10.0.0.1')],
        },
        { locality: { zone: 'a' }, lb_endpoints: [ip('svc.local')] },
        {
          locality: { zone: 'b' },
          priority: 2,
          load_balancing_weight: { value: 1 },
          lb_endpoints: [ip('10.0.0.3')],
        },
      ],
    });
    assert.deepEqual(checkConsistency(s), [
      'cluster d has no ClusterLoadAssignment d',
      'ClusterLoadAssignment c-eds lists 10.0.0.1:80 twice',
      'ClusterLoadAssignment c-eds repeats locality {"zone":"a"} at priority 0',
      'ClusterLoadAssignment c-eds has a locality without a weight',
      'ClusterLoadAssignment c-eds has a non-IP address svc.local',
      'ClusterLoadAssignment c-eds has priorities 0, 2, not contiguous from 0',
    ]);
  });
});
