/**
 * What the server does to streams as a whole: back-pressure (a slow reader gets the newest
 * response, never a backlog), warming order under back-pressure, the initial-push gate, maximum
 * connection age and graceful drain.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { CLUSTER_TYPE, ROUTE_TYPE } from '../../../shared/xds/type-urls.ts';
import { AdsFixture, nodeIn, until } from '../testing/ads-fixture.ts';
import { edsCluster, routeConfig } from '../testing/echo-resources.ts';
import { SlowAdsClient } from '../testing/slow-ads-client.ts';
import type { TestResource } from '../testing/test-snapshots.ts';
import { InitialPushGate } from './initial-push-gate.ts';

/** Enough clusters (≈250 KB per CDS response) to exhaust HTTP/2 flow-control windows. */
function manyClusters(lb: string, extra: TestResource[] = []): TestResource[] {
  const out = Array.from({ length: 3000 }, (_, i) =>
    edsCluster(`cluster-with-a-long-name-${String(i).padStart(5, '0')}`, lb),
  );
  return [...out, ...extra];
}

const LBS = ['RING_HASH', 'MAGLEV', 'RANDOM', 'LEAST_REQUEST', 'ROUND_ROBIN'];

describe('fan-out stream control', () => {
  const f = new AdsFixture();
  const slowClients: SlowAdsClient[] = [];
  const slow = (c: SlowAdsClient) => {
    slowClients.push(c);
    return c;
  };
  before(() => f.start({ initialPushConcurrency: 1 }));
  after(async () => {
    for (const c of slowClients) c.close();
    await f.close();
  });

  test('back-pressure — a slow reader gets the first and then only the newest response, not a backlog', async () => {
    await f.publish('slow', 1, manyClusters('ROUND_ROBIN'));
    const c = slow(new SlowAdsClient(f.ads.port));
    c.send({ node: nodeIn('slow'), type_url: CLUSTER_TYPE, resource_names: [] });
    for (let v = 2; v <= 6; v++) await f.publish('slow', v, manyClusters(LBS[v - 2] as string));
    await new Promise((r) => setTimeout(r, 200));
    c.resume();
    const newest = f.cache.current('slow')?.types.get(CLUSTER_TYPE)?.version;
    await until(() => c.received.at(-1)?.version_info === newest, 'the newest version', 5000);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(
      c.received.length,
      2,
      'the first response, then the newest: intermediate versions coalesced',
    );
  });

  test('warming — under back-pressure a route never overtakes the cluster push it depends on', async () => {
    await f.publish(
      'warm',
      1,
      manyClusters('ROUND_ROBIN', [routeConfig('r', 'cluster-with-a-long-name-00000')]),
    );
    const c = slow(new SlowAdsClient(f.ads.port));
    c.send({ node: nodeIn('warm'), type_url: CLUSTER_TYPE, resource_names: [] });
    await until(() => f.ads.streams().some((s) => s.node === 'warm-node' && s.types.CDS?.sent), 'CDS sent');
    // Clusters change (a new one appears) and a route naming it is requested while CDS is held up.
    await f.publish(
      'warm',
      2,
      manyClusters('RING_HASH', [edsCluster('brand-new'), routeConfig('r', 'brand-new')]),
    );
    c.send({ type_url: ROUTE_TYPE, resource_names: ['r'] });
    await new Promise((r) => setTimeout(r, 200));
    c.resume();
    await until(() => c.received.length >= 3, 'three responses', 5000);
    const [, cds, rds] = c.received;
    assert.deepEqual([cds?.type_url, rds?.type_url], [CLUSTER_TYPE, ROUTE_TYPE]);
    assert.equal(cds?.resources.length, 3001, 'the cluster the route names was sent first');
  });

  test('initial-push gate — with one permit a second stream waits until the first has flushed', async () => {
    await f.publish('storm', 1, manyClusters('ROUND_ROBIN'));
    const first = slow(new SlowAdsClient(f.ads.port));
    first.send({ node: nodeIn('storm', 'first'), type_url: CLUSTER_TYPE, resource_names: [] });
    await until(
      () => f.ads.streams().some((s) => s.node === 'first' && s.types.CDS?.sent),
      'first push started',
    );
    const second = f.sotw();
    second.send({ node: nodeIn('storm', 'second'), type_url: CLUSTER_TYPE, resource_names: [] });
    assert.deepEqual(await second.drain(300), [], 'waiting for a permit');
    assert.equal(await f.metric('attache_fanout_initial_push_queued'), 1);
    first.resume();
    assert.equal((await second.next(5000)).type_url, CLUSTER_TYPE);
    assert.equal(await f.metric('attache_fanout_initial_push_queued'), 0);
    await until(() => first.received.length === 1, 'first response read');
  });

  test('initial-push gate — admits in arrival order, skips streams that closed while waiting', () => {
    const gate = new InitialPushGate(1);
    const order: string[] = [];
    const s = (name: string, closed = false) => ({
      closed,
      admitted() {
        order.push(name);
      },
    });
    assert.equal(gate.tryAcquire(s('a')), true);
    assert.equal(gate.tryAcquire(s('b', true)), false);
    assert.equal(gate.tryAcquire(s('c')), false);
    assert.equal(gate.tryAcquire(s('d')), false);
    assert.equal(gate.queued, 3);
    gate.release();
    assert.deepEqual(order, ['c']);
    assert.equal(gate.inUse, 1);
    gate.release();
    assert.deepEqual(order, ['c', 'd']);
    gate.release();
    assert.equal(gate.inUse, 0);
  });
});

describe('fan-out stream lifetime', () => {
  test('max connection age — streams end with OK after the jittered age, so clients rebalance', async () => {
    const f = await new AdsFixture().start({ maxConnectionAgeMs: 400 });
    try {
      await f.publish('age', 1, [edsCluster('a')]);
      const opened = Date.now();
      const c = f.sotw();
      c.send({ node: nodeIn('age'), type_url: CLUSTER_TYPE, resource_names: [] });
      await c.next();
      const status = await c.closed(3000);
      const age = Date.now() - opened;
      assert.equal(status.code, 0);
      assert.ok(age >= 360 && age < 1000, `ended after ${age} ms (400 ms ± 10 % plus a sweep)`);
      assert.equal(await f.metric('attache_fanout_streams_ended_total', { reason: 'max_age' }), 1);
    } finally {
      await f.close();
    }
  });

  test('drain — close sends each connection a GOAWAY spread over the drain window and ends its streams with UNAVAILABLE, then stops', async () => {
    const f = await new AdsFixture().start({ drainWindowMs: 600 });
    await f.publish('drain', 1, [edsCluster('a')]);
    const clients = Array.from({ length: 6 }, (_, i) => {
      // One connection each: the drain is per connection.
      const c = f.sotw(f.ads, { channelOptions: { 'grpc.use_local_subchannel_pool': 1 } });
      c.send({ node: nodeIn('drain', `n${i}`), type_url: CLUSTER_TYPE, resource_names: [] });
      return c;
    });
    for (const c of clients) await c.next();
    const started = Date.now();
    const ends: number[] = [];
    const watching = clients.map(async (c) => {
      const s = await c.closed(3000);
      ends.push(Date.now() - started);
      return s.code;
    });
    await f.close();
    assert.deepEqual(await Promise.all(watching), Array(6).fill(grpc.status.UNAVAILABLE));
    ends.sort((a, b) => a - b);
    assert.ok((ends[0] as number) < 300, `first ended at ${ends[0]} ms`);
    assert.ok((ends[5] as number) >= 400, `last ended at ${ends[5]} ms: spread over the window`);
    assert.equal(await f.metric('attache_fanout_streams_ended_total', { reason: 'drain' }), 6);
    assert.equal(f.ads.ready(), false);
  });
});
