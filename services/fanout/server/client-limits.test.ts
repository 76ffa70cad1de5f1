/**
 * Per-client limits (client-limits.ts): request size, names per stream, type URL length, streams
 * per connection and per address, byte-bounded shared caches, and bounded logging of client
 * mistakes. Each limit refuses only the offending stream, counts the refusal, and leaves the
 * other clients served.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { CLUSTER_TYPE, ROUTE_TYPE } from '../../../shared/xds/type-urls.ts';
import { captureLogs } from '../../../test/harness/capture-logs.ts';
import { AdsFixture, nodeIn, until } from '../testing/ads-fixture.ts';
import { edsCluster } from '../testing/echo-resources.ts';
import { ByteBoundedLru } from './byte-bounded-lru.ts';
import { DEFAULT_CACHE_BUDGET } from './client-limits.ts';
import { encodeDiscoveryRequest } from './discovery-codec.ts';
import { configureServedSetCaches, servedSetCacheStats } from './served-set.ts';

const names = (n: number, prefix = 'route') => Array.from({ length: n }, (_, i) => `${prefix}-${i}`);

describe('fan-out per-client limits', () => {
  const f = new AdsFixture();
  const logs = captureLogs('warn');

  before(async () => {
    await f.start({
      log: logs.log,
      limits: {
        maxRequestBytes: 64 * 1024,
        maxNamesPerStream: 100,
        maxTypeUrlLength: 256,
        maxStreamsPerConnection: 2,
        maxStreamsPerPeer: 6,
      },
    });
    await f.publish('default', 1, [edsCluster('c1')]);
  });
  after(() => f.close());
  afterEach(async () => {
    // Every test's streams are gone before the next one counts streams per address.
    await until(() => f.ads.streamCount === 0, 'the previous test to close its streams', 5000);
  });

  const hits = (limit: string) => f.metric('attache_fanout_limit_hits_total', { limit });

  test('limits — more names than --max-names-per-stream end the stream RESOURCE_EXHAUSTED (SotW and delta)', async () => {
    const ok = f.sotw();
    ok.send({
      node: nodeIn('default', 'ok'),
      type_url: CLUSTER_TYPE,
      resource_names: ['c1', ...names(39, 'c')],
    });
    ok.send({ node: nodeIn('default', 'ok'), type_url: ROUTE_TYPE, resource_names: names(60) });
    assert.deepEqual((await ok.next()).names, ['c1']);
    await ok.next();
    assert.equal(ok.ended, undefined, 'exactly at the limit is served');
    const sotw = f.sotw();
    sotw.send({ node: nodeIn('default', 'many'), type_url: ROUTE_TYPE, resource_names: names(101) });
    assert.equal((await sotw.closed()).code, grpc.status.RESOURCE_EXHAUSTED);
    const delta = f.delta();
    delta.send({
      node: nodeIn('default', 'many-delta'),
      type_url: ROUTE_TYPE,
      resource_names_subscribe: names(60),
    });
    delta.send({ type_url: ROUTE_TYPE, resource_names_subscribe: names(60, 'more') });
    assert.equal((await delta.closed()).code, grpc.status.RESOURCE_EXHAUSTED);
    assert.equal(await hits('names_per_stream'), 2);
    ok.close();
    sotw.close();
    delta.close();
  });

  test('limits — a request over --max-request-bytes is refused before it is decoded', async () => {
    const c = f.sotw();
    c.send({ node: nodeIn('default', 'huge'), type_url: ROUTE_TYPE, resource_names: names(20_000) });
    const status = await c.closed();
    assert.equal(status.code, grpc.status.RESOURCE_EXHAUSTED);
    assert.equal(await hits('request_bytes'), 1);
    c.close();
  });

  test('limits — an oversize type URL ends the stream INVALID_ARGUMENT, and 50 of them log a few hundred bytes each at most', async () => {
    const before = logs.bytes();
    // Longer than any type URL, shorter than this fixture's 64 KB request limit.
    const longType = `type.googleapis.com/${'x'.repeat(60_000)}`;
    for (let i = 0; i < 50; i++) {
      const c = f.sotw();
      c.send({ node: nodeIn('default', `long-${i}`), type_url: longType, resource_names: [] });
      assert.equal((await c.closed()).code, grpc.status.INVALID_ARGUMENT);
      c.close();
    }
    assert.equal(await hits('type_url_length'), 50);
    const written = logs.bytes() - before;
    assert.ok(written < 50 * 1024, `50 refusals wrote ${written} bytes of log`);
    const lines = logs.lines().filter((l) => l.reason === 'type_url_length');
    assert.ok(lines.length <= 10, `${lines.length} lines: logging is rate-limited`);
    assert.equal(await f.metric('attache_fanout_client_mistakes_total', { reason: 'type_url_length' }), 50);
  });

  test('limits — garbage request bytes end only that stream; a good client is still served', async () => {
    const bad = f.sotw();
    bad.writeRaw(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f, 0x12, 0x34]));
    assert.notEqual((await bad.closed()).code, grpc.status.OK);
    // A request cut inside its type_url string: refused, not read as a shorter type URL.
    const whole = encodeDiscoveryRequest({ node: nodeIn('default', 'cut'), type_url: CLUSTER_TYPE });
    const cut = f.sotw();
    cut.writeRaw(whole.subarray(0, Buffer.from(whole).indexOf('type.googleapis') + 3));
    assert.equal((await cut.closed()).code, grpc.status.INTERNAL);
    cut.close();
    const good = f.sotw();
    good.send({ node: nodeIn('default', 'good'), type_url: CLUSTER_TYPE, resource_names: [] });
    assert.deepEqual((await good.next()).names, ['c1']);
    bad.close();
    good.close();
  });

  test('limits — streams per connection and per address', async () => {
    const shared = new grpc.Client(`127.0.0.1:${f.ads.port}`, grpc.credentials.createInsecure());
    try {
      const open = [0, 1].map((i) => {
        const c = f.sotw(f.ads, { shared });
        c.send({ node: nodeIn('default', `conn-${i}`), type_url: CLUSTER_TYPE, resource_names: [] });
        return c;
      });
      for (const c of open) await c.next();
      const third = f.sotw(f.ads, { shared });
      third.send({ node: nodeIn('default', 'conn-2'), type_url: CLUSTER_TYPE, resource_names: [] });
      assert.equal((await third.closed()).code, grpc.status.RESOURCE_EXHAUSTED);
      assert.equal(await hits('streams_per_connection'), 1);

      // Own connections (grpc-js would otherwise put every client on one pooled connection).
      const own = { channelOptions: { 'grpc.use_local_subchannel_pool': 1 } };
      const others = [0, 1, 2, 3].map((i) => {
        const c = f.sotw(f.ads, own);
        c.send({ node: nodeIn('default', `peer-${i}`), type_url: CLUSTER_TYPE, resource_names: [] });
        return c;
      });
      for (const c of others) await c.next();
      const seventh = f.sotw(f.ads, own);
      seventh.send({ node: nodeIn('default', 'peer-4'), type_url: CLUSTER_TYPE, resource_names: [] });
      assert.equal((await seventh.closed()).code, grpc.status.RESOURCE_EXHAUSTED);
      assert.equal(await hits('streams_per_peer'), 1);
      others[0]?.close();
      await until(() => f.ads.streamCount === 5, 'a stream to close');
      const again = f.sotw(f.ads, own);
      again.send({ node: nodeIn('default', 'peer-5'), type_url: CLUSTER_TYPE, resource_names: [] });
      assert.deepEqual((await again.next()).names, ['c1']);
      for (const c of [...open, third, ...others, seventh, again]) c.close();
    } finally {
      shared.close();
    }
  });
});

describe('fan-out shared caches are bounded by bytes', () => {
  after(() => configureServedSetCaches(DEFAULT_CACHE_BUDGET));

  test('caches — streams that each name thousands of distinct routes and leave stay within the byte budgets', async () => {
    const budget = { subscriptionBytes: 512 * 1024, servedSetBytes: 512 * 1024 };
    configureServedSetCaches(budget);
    const f = new AdsFixture();
    await f.start({ limits: { maxNamesPerStream: 0, maxRequestBytes: 0 } });
    try {
      await f.publish('default', 1, [edsCluster('c1')]);
      const before = servedSetCacheStats();
      for (let i = 0; i < 40; i++) {
        const c = f.sotw();
        c.send({
          node: nodeIn('default', `wide-${i}`),
          type_url: ROUTE_TYPE,
          resource_names: names(5000, `s${i}`),
        });
        await c.next();
        c.close();
      }
      const stats = servedSetCacheStats();
      assert.ok(stats.subscriptions.bytes <= budget.subscriptionBytes, JSON.stringify(stats));
      assert.ok(stats.served_sets.bytes <= budget.servedSetBytes, JSON.stringify(stats));
      assert.ok(stats.served_sets.evictions > before.served_sets.evictions, 'the budget was reached');
      assert.ok(
        (await f.metric('attache_fanout_cache_evictions_total', { cache: 'served_sets' })) > 0,
        'evictions are exported',
      );
    } finally {
      await f.close();
    }
  });

  test('lru — evicts least recently used entries by bytes and refuses one larger than the budget', () => {
    const evicted: string[] = [];
    const lru = new ByteBoundedLru<string, number>(100, (k) => evicted.push(k));
    lru.set('a', 1, 40);
    lru.set('b', 2, 40);
    assert.equal(lru.get('a'), 1);
    lru.set('c', 3, 40);
    assert.deepEqual(evicted, ['b']);
    assert.equal(lru.bytes, 80);
    assert.equal(lru.set('huge', 4, 101), false);
    assert.equal(lru.get('huge'), undefined);
    assert.equal(lru.evictions, 2);
    lru.resize(40);
    assert.deepEqual(evicted, ['b', 'a']);
    assert.equal(lru.size, 1);
  });
});
