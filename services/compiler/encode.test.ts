/**
 * spliceRoutes (the Mapping fast path's byte-level route configuration update) gives the bytes a
 * fresh encoding of the changed message gives, over random route configurations and random
 * one-for-one route replacements, including routes whose length prefix grows or shrinks a byte.
 * encodeResources without a cache (a full compile) assembles route configurations from their
 * routes' encodings, reusing a route object's bytes across configurations: the bytes and hashes
 * are those of encoding each configuration whole.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeMessage } from '../../shared/xds/encoding.ts';
import { ROUTE_TYPE } from '../../shared/xds/type-urls.ts';
import { encodeResources, spliceRoutes } from './encode.ts';
import { identifyResource } from './route-chunks.ts';
import { prng } from './test-prng.ts';

const ROUTE_CONFIGURATION = 'envoy.config.route.v3.RouteConfiguration';
const ROUTE = 'envoy.config.route.v3.Route';

type Route = { name?: string; match: { prefix: string }; route: { cluster: string; timeout?: object } };
type VirtualHost = {
  name: string;
  domains: string[];
  routes?: Route[];
  include_request_attempt_count?: boolean;
};

function randomRoute(rand: () => number, tag: string): Route {
  // Lengths around the one- and two-byte varint boundaries (127 / 16,383 bytes).
  const sizes = [0, 3, 100, 120, 130, 200, 16_300, 16_400];
  const size = sizes[Math.floor(rand() * sizes.length)] as number;
  const route: Route = {
    match: { prefix: `/${tag}/${'p'.repeat(size)}` },
    route: { cluster: `cluster_${Math.floor(rand() * 50)}` },
  };
  if (rand() < 0.5) route.name = `route-${tag}`;
  if (rand() < 0.3) route.route.timeout = { seconds: Math.floor(rand() * 100) };
  return route;
}

function randomConfig(
  rand: () => number,
): { name: string; virtual_hosts: VirtualHost[] } & Record<string, unknown> {
  const virtual_hosts: VirtualHost[] = [];
  const hosts = 1 + Math.floor(rand() * 4);
  for (let h = 0; h < hosts; h++) {
    const routes: Route[] = [];
    const n = Math.floor(rand() * 6);
    for (let i = 0; i < n; i++) routes.push(randomRoute(rand, `${h}-${i}`));
    const vh: VirtualHost = { name: `host-${h}`, domains: [`h${h}.example.com`] };
    if (routes.length > 0 || rand() < 0.5) vh.routes = routes;
    if (rand() < 0.5) vh.include_request_attempt_count = true;
    virtual_hosts.push(vh);
  }
  const config: { name: string; virtual_hosts: VirtualHost[] } & Record<string, unknown> = {
    name: 'listener-8080',
    virtual_hosts,
  };
  // Fields numbered below and above virtual_hosts (2).
  if (rand() < 0.5) config.internal_only_headers = ['x-internal'];
  if (rand() < 0.5) config.validate_clusters = { value: false };
  return config;
}

test('spliced route configuration bytes equal a fresh encoding, over random replacements', () => {
  for (let seed = 1; seed <= 400; seed++) {
    const rand = prng(seed);
    let config = randomConfig(rand);
    let bytes = encodeMessage(ROUTE_CONFIGURATION, config);
    for (let step = 0; step < 4; step++) {
      const splices: { virtualHost: number; start: number; routes: Uint8Array[] }[] = [];
      const virtual_hosts = config.virtual_hosts.map((vh) => ({
        ...vh,
        routes: vh.routes && [...vh.routes],
      }));
      virtual_hosts.forEach((vh, v) => {
        const routes = vh.routes ?? [];
        if (routes.length === 0 || rand() < 0.4) return;
        // One or two disjoint runs of routes, replaced one for one.
        let at = Math.floor(rand() * routes.length);
        for (let run = 0; run < 2 && at < routes.length; run++) {
          const count = 1 + Math.floor(rand() * Math.min(3, routes.length - at));
          const fresh = Array.from({ length: count }, (_, i) =>
            randomRoute(rand, `s${seed}-${step}-${v}-${i}`),
          );
          routes.splice(at, count, ...fresh);
          splices.push({ virtualHost: v, start: at, routes: fresh.map((r) => encodeMessage(ROUTE, r)) });
          at += count + 1 + Math.floor(rand() * 2);
        }
      });
      if (splices.length === 0) continue;
      // The order the splices are given in does not matter.
      if (rand() < 0.5) splices.reverse();
      config = { ...config, virtual_hosts };
      const spliced = spliceRoutes(bytes, splices);
      const whole = encodeMessage(ROUTE_CONFIGURATION, config);
      assert.ok(spliced, `seed ${seed} step ${step}: splice refused`);
      assert.equal(Buffer.compare(Buffer.from(spliced), Buffer.from(whole)), 0, `seed ${seed} step ${step}`);
      bytes = spliced;
    }
  }
});

test('a splice naming a virtual host or route the bytes lack is refused', () => {
  const config = {
    name: 'c',
    virtual_hosts: [
      { name: 'a', domains: ['a'], routes: [{ match: { prefix: '/' }, route: { cluster: 'x' } }] },
    ],
  };
  const bytes = encodeMessage(ROUTE_CONFIGURATION, config);
  const route = encodeMessage(ROUTE, { match: { prefix: '/y' }, route: { cluster: 'y' } });
  assert.equal(spliceRoutes(bytes, [{ virtualHost: 1, start: 0, routes: [route] }]), undefined);
  assert.equal(spliceRoutes(bytes, [{ virtualHost: 0, start: 1, routes: [route] }]), undefined);
  assert.equal(spliceRoutes(bytes, [{ virtualHost: 0, start: 0, routes: [route, route] }]), undefined);
  assert.equal(
    spliceRoutes(bytes.subarray(0, bytes.length - 1), [{ virtualHost: 0, start: 0, routes: [route] }]),
    undefined,
  );
  const ok = spliceRoutes(bytes, [{ virtualHost: 0, start: 0, routes: [route] }]);
  assert.ok(ok);
  assert.notEqual(Buffer.compare(Buffer.from(ok), Buffer.from(bytes)), 0);
});

test("a full compile's route configurations, assembled from shared route objects, equal encoding each whole", () => {
  const rand = prng(11);
  for (let round = 0; round < 200; round++) {
    const a = randomConfig(rand);
    // A second configuration sharing some of the first one's route objects (as the socket
    // listeners' configurations do), in other virtual hosts and orders.
    const shared = a.virtual_hosts.flatMap((vh) => vh.routes ?? []);
    const b = randomConfig(rand);
    b.name = 'listener-8443';
    for (const vh of b.virtual_hosts) {
      if (rand() < 0.7) vh.routes = [...(vh.routes ?? []), ...shared.filter(() => rand() < 0.5)].reverse();
    }
    const resources = [a, b].map((message) => ({
      typeUrl: ROUTE_TYPE as typeof ROUTE_TYPE,
      name: message.name,
      message,
    }));
    const encoded = encodeResources(resources);
    for (const r of encoded) {
      const message = r.name === a.name ? a : b;
      const whole = encodeMessage(ROUTE_CONFIGURATION, message);
      assert.deepEqual(r.bytes, whole, `round ${round} ${r.name}`); // a Buffer, as a whole encoding is
      const identity = identifyResource(ROUTE_TYPE, whole);
      assert.equal(r.hash, identity.hash);
      assert.deepEqual(r.chunks, identity.chunks);
    }
  }
});
