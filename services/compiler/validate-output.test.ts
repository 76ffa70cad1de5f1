/**
 * validateOutput on encoded resources: what it finds does not depend on whether it has seen the
 * same bytes before (it keeps each resource's own problems and cross-resource facts by content
 * hash), and a resource that changed is decoded again. A route configuration's facts are read
 * from the decoded protobufjs message, not its plain form: the same facts, over every kind of
 * route and every golden case.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { messageType } from '../../proto/root.ts';
import { encodeMessage, packAny, RESOURCE_JSON_OPTIONS, resourceHash } from '../../shared/xds/encoding.ts';
import {
  ENDPOINT_TYPE,
  LISTENER_TYPE,
  messageNameOf,
  ROUTE_TYPE,
  type TypeUrl,
} from '../../shared/xds/type-urls.ts';
import { compile } from './compile.ts';
import type { CompiledResource } from './contracts.ts';
import { listCases, loadCase, loadCaseOptions } from './golden-cases.ts';
import { HCM_TYPE, ROUTER_TYPE } from './translate/common.ts';
import { resourceFacts } from './validate/consistency.ts';
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

/** A route configuration's facts from its decoded message and from its plain form. */
function factsBothWays(r: CompiledResource) {
  const type = messageType(messageNameOf(r.typeUrl));
  const message = type.decode(r.bytes);
  const plain = type.toObject(message, RESOURCE_JSON_OPTIONS) as Record<string, unknown>;
  return {
    fromMessage: resourceFacts(r.typeUrl, r.name, message as unknown as Record<string, unknown>),
    fromPlain: resourceFacts(r.typeUrl, r.name, plain),
  };
}

test('validate output — route facts read from the decoded message equal those of its plain form, for every kind of route', () => {
  const every = resource(ROUTE_TYPE, 'every', {
    name: 'every',
    virtual_hosts: [
      {
        name: 'vh',
        domains: ['*'],
        routes: [
          { name: 'named', match: { prefix: '/a' }, route: { cluster: 'c1' } },
          { match: { path: '/exact' }, route: { cluster: 'c2' } },
          {
            match: { prefix: '/w' },
            route: {
              weighted_clusters: {
                clusters: [
                  { name: 'w1', weight: { value: 1 } },
                  { name: 'w2', weight: { value: 2 } },
                ],
              },
              request_mirror_policies: [{ cluster: 'm1' }, { cluster: 'm2' }],
            },
          },
          { match: { prefix: '/r' }, redirect: { https_redirect: true } },
          { match: { prefix: '/d' }, direct_response: { status: 404 } },
          { match: { prefix: '/n' }, non_forwarding_action: {} },
          { match: { prefix: '/empty-action' }, route: {} },
        ],
      },
      { domains: ['a.example.com'] },
      { name: 'no-routes', domains: ['b.example.com'], routes: [] },
    ],
  });
  const { fromMessage, fromPlain } = factsBothWays(every);
  assert.deepEqual(fromMessage, fromPlain);
  assert.equal(fromMessage.routes?.length, 7);
  // The whole check, including the name the bytes carry, gives the same problems as before.
  const unnamed = resource(ROUTE_TYPE, 'unnamed', { virtual_hosts: [] });
  assert.deepEqual(validateOutput([every, unnamed], newPgvStats()), [
    'RouteConfiguration[name=every].virtual_hosts[0].routes[6].route: one of cluster, cluster_header, weighted_clusters, cluster_specifier_plugin, inline_cluster_specifier_plugin must be set (oneof cluster_specifier)',
    'RouteConfiguration[name=every].virtual_hosts[1].name: must be at least 1 character(s) long',
    `${ROUTE_TYPE} unnamed carries the name undefined`,
    'route configuration every virtual host vh route named references missing cluster c1',
    'route configuration every virtual host vh route  references missing cluster c2',
    'route configuration every virtual host vh route /w references missing cluster w1',
    'route configuration every virtual host vh route /w references missing cluster w2',
    'route configuration every virtual host vh route /w mirror references missing cluster m1',
    'route configuration every virtual host vh route /w mirror references missing cluster m2',
    'route configuration every virtual host vh route /n uses non_forwarding_action (server listeners only)',
  ]);
});

test('validate output — route facts from the decoded message equal those of its plain form in every golden case', () => {
  let checked = 0;
  for (const name of listCases()) {
    const result = compile(loadCase(name), { group: 'default', ...loadCaseOptions(name) });
    for (const r of result.resources) {
      if (r.typeUrl !== ROUTE_TYPE) continue;
      const { fromMessage, fromPlain } = factsBothWays(r);
      assert.deepEqual(fromMessage, fromPlain, `${name}: ${r.name}`);
      checked++;
    }
  }
  assert.ok(checked > 0);
});
