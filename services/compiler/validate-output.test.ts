/**
 * validateOutput on encoded resources: what it finds does not depend on whether it has seen the
 * same bytes before (it keeps each resource's own problems and cross-resource facts by content
 * hash), and a resource that changed is decoded again.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeMessage, packAny, resourceHash } from '../../shared/xds/encoding.ts';
import {
  ENDPOINT_TYPE,
  LISTENER_TYPE,
  messageNameOf,
  ROUTE_TYPE,
  type TypeUrl,
} from '../../shared/xds/type-urls.ts';
import type { CompiledResource } from './contracts.ts';
import { HCM_TYPE, ROUTER_TYPE } from './translate/common.ts';
import { newPgvStats } from './validate/pgv-validate.ts';
import { validateOutput } from './validate-output.ts';

function resource(typeUrl: TypeUrl, name: string, message: object): CompiledResource {
  const bytes = encodeMessage(messageNameOf(typeUrl), message);
  return { typeUrl, name, bytes, hash: resourceHash(typeUrl, bytes), message };
}

const listener = (rds: string) =>
  resource(LISTENER_TYPE, 'socket', {
    name: 'socket',
    address: { socket_address: { address: '0.0.0.0', port_value: 8080 } },
    filter_chains: [
      {
        filters: [
          {
            name: 'hcm',
            typed_config: packAny(HCM_TYPE, {
              stat_prefix: 'ingress',
              rds: { route_config_name: rds, config_source: { ads: {} } },
              http_filters: [{ name: 'router', typed_config: packAny(ROUTER_TYPE, {}) }],
            }),
          },
        ],
      },
    ],
  });

const routes = resource(ROUTE_TYPE, 'socket-routes', {
  name: 'socket-routes',
  virtual_hosts: [
    { name: 'vh', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'gone' } }] },
  ],
});

const assignment = resource(ENDPOINT_TYPE, 'c', {
  cluster_name: 'c',
  endpoints: [
    {
      load_balancing_weight: { value: 1 },
      lb_endpoints: [1, 2].map(() => ({
        endpoint: { address: { socket_address: { address: '10.0.0.1', port_value: 80 } } },
      })),
    },
  ],
});

test('validate output — the same problems on a second look at the same bytes, and after a change', () => {
  const output = [listener('missing-routes'), routes, assignment];
  const expected = [
    'listener socket filter chain 0 references missing route configuration missing-routes',
    'route configuration socket-routes virtual host vh route / references missing cluster gone',
    'ClusterLoadAssignment c lists 10.0.0.1:80 twice',
  ];
  assert.deepEqual(validateOutput(output), expected);
  assert.deepEqual(validateOutput(output), expected, 'from what the first call kept');
  assert.deepEqual(validateOutput(output, newPgvStats()), expected, 'decoded afresh');
  // The listener now names the route configuration that exists: only its new bytes are decoded.
  assert.deepEqual(validateOutput([listener('socket-routes'), routes, assignment]), expected.slice(1));
  // A resource whose bytes carry another name than it is published under.
  const renamed = { ...routes, name: 'other' };
  assert.deepEqual(validateOutput([listener('other'), renamed]), [
    `${ROUTE_TYPE} other carries the name socket-routes`,
    'route configuration other virtual host vh route / references missing cluster gone',
  ]);
});
