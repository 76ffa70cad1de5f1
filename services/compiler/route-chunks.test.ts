import assert from 'node:assert/strict';
import { test } from 'node:test';
import { chunkedResourceHash } from '../../shared/snapshot/resource-chunks.ts';
import { encodeMessage, resourceHash, sha256Hex } from '../../shared/xds/encoding.ts';
import { ROUTE_TYPE } from '../../shared/xds/type-urls.ts';
import { spliceRoutes } from './encode.ts';
import { CHUNKED_FROM, identifyResource } from './route-chunks.ts';
import { prng } from './test-prng.ts';

const route = (r: () => number, i: number) => ({
  match: { prefix: `/r-${i}/${'x'.repeat(Math.floor(r() * 300))}` },
  route: { cluster: `c-${Math.floor(r() * 50)}` },
});

test('route chunks — identity with the previous encoding equals identity from scratch, over random splices', () => {
  const r = prng(11);
  const message = {
    name: 'rc',
    virtual_hosts: Array.from({ length: 4 }, (_, h) => ({
      name: `h${h}`,
      domains: [`h${h}.example.com`],
      routes: Array.from({ length: 150 + Math.floor(r() * 300) }, (_, i) => route(r, i)),
    })),
  };
  let bytes: Uint8Array = encodeMessage('envoy.config.route.v3.RouteConfiguration', message);
  let id = identifyResource(ROUTE_TYPE, bytes);
  assert.ok(bytes.length >= CHUNKED_FROM && (id.chunks?.length ?? 0) > 10, 'stored in chunks');
  for (let step = 0; step < 300; step++) {
    const splices = Array.from({ length: 1 + Math.floor(r() * 2) }, () => {
      const vh = Math.floor(r() * 4);
      const count = message.virtual_hosts[vh]?.routes.length ?? 1;
      const n = 1 + Math.floor(r() * 3);
      const start = Math.floor(r() * (count - n));
      return { virtualHost: vh, start, n };
    });
    // Splices of one virtual host must not overlap.
    const seen = new Set<string>();
    const ok = splices.filter((s) => {
      for (let i = s.start; i < s.start + s.n; i++) if (seen.has(`${s.virtualHost}:${i}`)) return false;
      for (let i = s.start; i < s.start + s.n; i++) seen.add(`${s.virtualHost}:${i}`);
      return true;
    });
    const replaced = ok.map((s) => {
      const routes = Array.from({ length: s.n }, (_, i) => route(r, 10_000 + step * 10 + i));
      message.virtual_hosts[s.virtualHost]?.routes.splice(s.start, s.n, ...routes);
      return {
        virtualHost: s.virtualHost,
        start: s.start,
        routes: routes.map((x) => encodeMessage('envoy.config.route.v3.Route', x)),
      };
    });
    const next = spliceRoutes(bytes, replaced) as Uint8Array;
    assert.ok(next, `step ${step}: splice`);
    const incremental = identifyResource(ROUTE_TYPE, next, { bytes, chunks: id.chunks });
    const scratch = identifyResource(ROUTE_TYPE, next);
    assert.deepEqual(incremental, scratch, `step ${step}`);
    for (const c of scratch.chunks ?? []) assert.equal(c.hash, sha256Hex(next.subarray(c.start, c.end)));
    assert.equal(
      scratch.hash,
      chunkedResourceHash(
        ROUTE_TYPE,
        (scratch.chunks ?? []).map((c) => c.hash),
      ),
    );
    bytes = next;
    id = incremental;
  }
  // Unchanged bytes: the same chunks.
  assert.deepEqual(identifyResource(ROUTE_TYPE, Buffer.from(bytes), { bytes, chunks: id.chunks }), id);
});

test('route chunks — small route configurations and other types are hashed whole', () => {
  const small = encodeMessage('envoy.config.route.v3.RouteConfiguration', {
    name: 'rc',
    virtual_hosts: [
      { name: 'h', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'c' } }] },
    ],
  });
  assert.deepEqual(identifyResource(ROUTE_TYPE, small), { hash: resourceHash(ROUTE_TYPE, small) });
  const big = Buffer.alloc(CHUNKED_FROM * 2, 1);
  const cluster = 'type.googleapis.com/envoy.config.cluster.v3.Cluster';
  assert.deepEqual(identifyResource(cluster, big), { hash: resourceHash(cluster, big) });
});
