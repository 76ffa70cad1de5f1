/**
 * The SotW ADS protocol as a scripted client sees it: raw DiscoveryRequests over a real grpc-js
 * stream to the real server, responses decoded from the wire. Each test uses its own group (via
 * node metadata) so that commits in one test never reach another's streams.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { Registry } from 'prom-client';
import { silentLogger } from '../../../shared/runtime/logger.ts';
import { MemorySnapshotStore } from '../../../shared/snapshot/memory-snapshot-store.ts';
import { CLUSTER_TYPE, ENDPOINT_TYPE, LISTENER_TYPE, ROUTE_TYPE } from '../../../shared/xds/type-urls.ts';
import { SnapshotCache } from '../cache/snapshot-cache.ts';
import { echoWorld, edsCluster, loadAssignment } from '../testing/echo-resources.ts';
import { RawAdsClient } from '../testing/raw-ads-client.ts';
import { buildSnapshot, TestCommitter, type TestResource } from '../testing/test-snapshots.ts';
import { AdsServerRunner } from './ads-server.ts';

describe('fan-out SotW ADS protocol', () => {
  const log = silentLogger();
  const registry = new Registry();
  const store = new MemorySnapshotStore();
  let cache: SnapshotCache;
  let ads: AdsServerRunner;
  const clients: RawAdsClient[] = [];
  const committers = new Map<string, TestCommitter>();

  /** Commits `resources` to `group` at `version` and waits until the cache holds it. */
  async function publish(group: string, version: number, resources: TestResource[]): Promise<void> {
    let c = committers.get(group);
    if (!c) {
      c = new TestCommitter(store, group);
      committers.set(group, c);
    }
    await c.commit(version, resources);
    const deadline = Date.now() + 3000;
    while ((cache?.current(group)?.version ?? 0) < version) {
      if (Date.now() > deadline) throw new Error(`cache never reached ${group}@${version}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  function connect(): RawAdsClient {
    const c = new RawAdsClient(ads.port);
    clients.push(c);
    return c;
  }

  const node = (group: string, id = `${group}-node`) => ({
    id,
    cluster: 'test',
    metadata: { fields: { ambassador_id: { stringValue: group } } },
  });

  async function metric(name: string, labels: Record<string, string>): Promise<number> {
    const m = await registry.getSingleMetric(name)?.get();
    return m?.values.find((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val))?.value ?? 0;
  }

  before(async () => {
    cache = new SnapshotCache({ store, log, registry });
    await cache.start();
    ads = new AdsServerRunner({
      auth: { allowUnauthenticated: true },
      cache,
      host: '127.0.0.1',
      port: 0,
      log,
      registry,
      defaultGroup: 'default',
    });
    await ads.start();
  });

  after(async () => {
    for (const c of clients) c.close();
    await ads.close();
    await cache.close();
  });

  test('sotw — wildcard LDS and CDS get every resource except on-demand listeners', async () => {
    await publish('wild', 1, echoWorld());
    const c = connect();
    c.send({ node: node('wild'), type_url: LISTENER_TYPE, resource_names: [] });
    const lds = await c.next();
    assert.equal(lds.type_url, LISTENER_TYPE);
    assert.deepEqual(lds.names, ['http-listener']);
    c.send({ type_url: CLUSTER_TYPE, resource_names: [] });
    const cds = await c.next();
    assert.deepEqual(cds.names, ['cluster-a', 'cluster-b']);
    // A wildcard over a type without on-demand resources carries the manifest's type version.
    assert.equal(cds.version_info, cache.current('wild')?.types.get(CLUSTER_TYPE)?.version);
    // "*" plus a name: every non-on-demand listener and the named on-demand one.
    const d = connect();
    d.send({ node: node('wild', 'n2'), type_url: LISTENER_TYPE, resource_names: ['*', 'echo.test'] });
    assert.deepEqual((await d.next()).names, ['echo.test', 'http-listener']);
  });

  test('sotw — named subscriptions get exactly the requested names that exist', async () => {
    await publish('named', 1, echoWorld());
    const c = connect();
    c.send({ node: node('named'), type_url: LISTENER_TYPE, resource_names: ['echo.test'] });
    const lds = await c.next();
    assert.deepEqual(lds.names, ['echo.test']);
    c.send({ type_url: ENDPOINT_TYPE, resource_names: ['cluster-b', 'no-such-cluster'] });
    const eds = await c.next();
    assert.deepEqual(eds.names, ['cluster-b']);
    // Growing the set (answering the last response) adds exactly the new name.
    c.send({
      type_url: ENDPOINT_TYPE,
      resource_names: ['cluster-a', 'cluster-b', 'no-such-cluster'],
      version_info: eds.version_info,
      response_nonce: eds.nonce,
    });
    const grown = await c.next();
    assert.deepEqual(grown.names, ['cluster-a', 'cluster-b']);
    assert.notEqual(grown.version_info, eds.version_info);
    // A named RDS/EDS request is never a wildcard, even with "*".
    c.send({ type_url: ROUTE_TYPE, resource_names: ['*'] });
    assert.deepEqual((await c.next()).names, []);
  });

  test('sotw — empty names after a named subscription unsubscribe from that type', async () => {
    await publish('unsub', 1, echoWorld());
    const c = connect();
    c.send({ node: node('unsub'), type_url: ENDPOINT_TYPE, resource_names: ['cluster-a'] });
    const eds = await c.next();
    c.send({ type_url: CLUSTER_TYPE, resource_names: [] });
    const cds = await c.next();
    c.ack(cds);
    c.send({
      type_url: ENDPOINT_TYPE,
      resource_names: [],
      version_info: eds.version_info,
      response_nonce: eds.nonce,
    });
    assert.deepEqual(await c.drain(200), [], 'an unsubscribe is not answered');
    // Endpoints and clusters both change: only the still-subscribed CDS is pushed.
    await publish('unsub', 2, echoWorld({ ports: [9100], lb: 'RING_HASH' }));
    const pushed = await c.drain(300);
    assert.deepEqual(
      pushed.map((r) => r.type_url),
      [CLUSTER_TYPE],
    );
  });

  test('sotw — a request with a stale nonce is ignored', async () => {
    await publish('stale', 1, echoWorld());
    const c = connect();
    c.send({ node: node('stale'), type_url: ENDPOINT_TYPE, resource_names: ['cluster-a'] });
    const first = await c.next();
    const staleBefore = await metric('attache_fanout_stale_nonces_total', { type: 'EDS', group: 'stale' });
    c.send({
      type_url: ENDPOINT_TYPE,
      resource_names: ['cluster-a', 'cluster-b'],
      response_nonce: 'not-the-last',
    });
    assert.deepEqual(await c.drain(200), [], 'stale request changed nothing');
    assert.equal(
      await metric('attache_fanout_stale_nonces_total', { type: 'EDS', group: 'stale' }),
      staleBefore + 1,
    );
    c.send({
      type_url: ENDPOINT_TYPE,
      resource_names: ['cluster-a', 'cluster-b'],
      version_info: first.version_info,
      response_nonce: first.nonce,
    });
    assert.deepEqual((await c.next()).names, ['cluster-a', 'cluster-b']);
  });

  test('sotw — a NACK is counted, keeps the last good version and is not answered with a resend', async () => {
    await publish('nack', 1, echoWorld());
    const c = connect();
    c.send({ node: node('nack'), type_url: CLUSTER_TYPE, resource_names: [] });
    const good = await c.next();
    c.ack(good);
    c.send({ type_url: ENDPOINT_TYPE, resource_names: ['cluster-a'] });
    c.ack(await c.next(), ['cluster-a']);
    await publish('nack', 2, echoWorld({ lb: 'LEAST_REQUEST' }));
    const bad = await c.next();
    assert.equal(bad.type_url, CLUSTER_TYPE);
    assert.notEqual(bad.version_info, good.version_info);
    const before = await metric('attache_fanout_nacks_total', { type: 'CDS', group: 'nack' });
    c.send({
      type_url: CLUSTER_TYPE,
      resource_names: [],
      version_info: good.version_info,
      response_nonce: bad.nonce,
      error_detail: { code: 14, message: 'unsupported lb_policy: LEAST_REQUEST' },
    });
    assert.deepEqual(await c.drain(300), [], 'no resend after a NACK');
    assert.equal(await metric('attache_fanout_nacks_total', { type: 'CDS', group: 'nack' }), before + 1);
    // An endpoint-only change still flows, and does not resend the rejected clusters.
    await publish('nack', 3, echoWorld({ lb: 'LEAST_REQUEST', ports: [9200] }));
    const after3 = await c.drain(300);
    assert.deepEqual(
      after3.map((r) => r.type_url),
      [ENDPOINT_TYPE],
    );
    // Fixed content is pushed.
    await publish('nack', 4, echoWorld({ ports: [9200] }));
    const fixed = await c.next();
    assert.equal(fixed.type_url, CLUSTER_TYPE);
    assert.equal(
      fixed.version_info,
      good.version_info,
      'content-derived: the same clusters, the same version',
    );
  });

  test('sotw — a client resuming with the current version gets no response, a stale one is updated', async () => {
    await publish('resume', 1, echoWorld());
    const first = connect();
    first.send({ node: node('resume'), type_url: CLUSTER_TYPE, resource_names: [] });
    const cds = await first.next();
    first.send({ type_url: ENDPOINT_TYPE, resource_names: ['cluster-a'] });
    const eds = await first.next();
    first.close();

    const resumed = connect();
    resumed.send({
      node: node('resume'),
      type_url: CLUSTER_TYPE,
      resource_names: [],
      version_info: cds.version_info,
    });
    resumed.send({ type_url: ENDPOINT_TYPE, resource_names: ['cluster-a'], version_info: eds.version_info });
    assert.deepEqual(await resumed.drain(300), [], 'nothing to re-push');
    // It is still subscribed: a change reaches it.
    await publish('resume', 2, echoWorld({ ports: [9300] }));
    const pushed = await resumed.next();
    assert.equal(pushed.type_url, ENDPOINT_TYPE);

    const behind = connect();
    behind.send({
      node: node('resume', 'behind'),
      type_url: ENDPOINT_TYPE,
      resource_names: ['cluster-a'],
      version_info: eds.version_info,
    });
    const update = await behind.next();
    assert.equal(update.version_info, pushed.version_info);
  });

  test('sotw — a subscription made before the group has a snapshot is answered when it lands', async () => {
    const early = connect();
    early.send({ node: node('late'), type_url: CLUSTER_TYPE, resource_names: [] });
    // Resuming with exactly the content that will land: nothing to send then.
    const landing = buildSnapshot('late', 1, echoWorld()).manifest.types[CLUSTER_TYPE]?.version ?? '';
    const resumed = connect();
    resumed.send({
      node: node('late', 'resumed'),
      type_url: CLUSTER_TYPE,
      resource_names: [],
      version_info: landing,
    });
    assert.deepEqual(await early.drain(100), []);
    await publish('late', 1, echoWorld());
    const first = await early.next();
    assert.deepEqual(first.names, ['cluster-a', 'cluster-b']);
    assert.equal(first.version_info, landing);
    assert.deepEqual(await resumed.drain(200), []);
  });

  test('sotw — an update pushes changed types in the order CDS, EDS, LDS, RDS', async () => {
    await publish('order', 1, echoWorld());
    const c = connect();
    c.send({ node: node('order'), type_url: LISTENER_TYPE, resource_names: ['echo.test', 'http-listener'] });
    c.ack(await c.next(), ['echo.test', 'http-listener']);
    c.send({ type_url: ROUTE_TYPE, resource_names: ['echo-route'] });
    c.ack(await c.next(), ['echo-route']);
    c.send({ type_url: CLUSTER_TYPE, resource_names: [] });
    c.ack(await c.next());
    c.send({ type_url: ENDPOINT_TYPE, resource_names: ['cluster-a', 'cluster-b'] });
    c.ack(await c.next(), ['cluster-a', 'cluster-b']);
    await publish('order', 2, echoWorld({ ports: [9400], lb: 'RING_HASH', port: 8081, route: 'cluster-b' }));
    const pushed = [await c.next(), await c.next(), await c.next(), await c.next()];
    assert.deepEqual(
      pushed.map((r) => r.type_url),
      [CLUSTER_TYPE, ENDPOINT_TYPE, LISTENER_TYPE, ROUTE_TYPE],
    );
    assert.deepEqual(await c.drain(200), []);
  });

  test('sotw — make before break: a change that takes a routed cluster away pushes the routes first', async () => {
    // grpc-js-xds style: everything by name. v1 routes to cluster-b; v2 routes to cluster-a and
    // drops cluster-b with its endpoints (an Argo canary Mapping deleted on promotion).
    await publish('mbb', 1, echoWorld({ route: 'cluster-b' }));
    const c = connect();
    c.send({ node: node('mbb'), type_url: LISTENER_TYPE, resource_names: ['echo.test'] });
    c.ack(await c.next(), ['echo.test']);
    c.send({ type_url: ROUTE_TYPE, resource_names: ['echo-route'] });
    c.ack(await c.next(), ['echo-route']);
    c.send({ type_url: CLUSTER_TYPE, resource_names: ['cluster-a', 'cluster-b'] });
    c.ack(await c.next(), ['cluster-a', 'cluster-b']);
    c.send({ type_url: ENDPOINT_TYPE, resource_names: ['cluster-a', 'cluster-b'] });
    c.ack(await c.next(), ['cluster-a', 'cluster-b']);
    const dropB = (world: TestResource[]) => world.filter((r) => r.name !== 'cluster-b');
    await publish('mbb', 2, dropB(echoWorld({ route: 'cluster-a' })));
    const pushed = [await c.next(), await c.next(), await c.next()];
    assert.deepEqual(
      pushed.map((r) => r.type_url),
      [ROUTE_TYPE, CLUSTER_TYPE, ENDPOINT_TYPE],
      'the route leaves cluster-b before cluster-b and its endpoints go',
    );
    assert.deepEqual(pushed[1]?.names, ['cluster-a']);
    assert.deepEqual(await c.drain(200), []);

    // A wildcard cluster subscription that only loses a cluster waits for the routes too; one that
    // gains a cluster the new routes name goes first, as the warming rule says.
    const w = connect();
    w.send({ node: node('mbb', 'wild'), type_url: LISTENER_TYPE, resource_names: ['echo.test'] });
    w.ack(await w.next(), ['echo.test']);
    w.send({ type_url: ROUTE_TYPE, resource_names: ['echo-route'] });
    w.ack(await w.next(), ['echo-route']);
    w.send({ type_url: CLUSTER_TYPE, resource_names: [] });
    w.ack(await w.next());
    await publish('mbb', 3, echoWorld({ route: 'cluster-b' }));
    const added = [await w.next(), await w.next()];
    assert.deepEqual(
      added.map((r) => r.type_url),
      [CLUSTER_TYPE, ROUTE_TYPE],
    );
    for (const r of added) w.ack(r, r.type_url === ROUTE_TYPE ? ['echo-route'] : undefined);
    await publish('mbb', 4, dropB(echoWorld({ route: 'cluster-a' })));
    const removed = [await w.next(), await w.next()];
    assert.deepEqual(
      removed.map((r) => r.type_url),
      [ROUTE_TYPE, CLUSTER_TYPE],
    );
    for (const r of removed) w.ack(r, r.type_url === ROUTE_TYPE ? ['echo-route'] : undefined);

    // Both at once (the route moves from cluster-a to a new cluster-c): the new cluster goes
    // first while cluster-a is kept, then the route, then cluster-a goes.
    await publish('mbb', 5, [
      ...dropB(echoWorld({ route: 'cluster-c' })).filter((r) => r.name !== 'cluster-a'),
      edsCluster('cluster-c'),
    ]);
    const moved = [await w.next(), await w.next(), await w.next()];
    assert.deepEqual(
      moved.map((r) => `${r.type_url === CLUSTER_TYPE ? 'CDS' : 'RDS'} ${r.names.join(',')}`),
      ['CDS cluster-a,cluster-c', 'RDS echo-route', 'CDS cluster-c'],
    );
    assert.equal(moved[2]?.version_info, cache.current('mbb')?.types.get(CLUSTER_TYPE)?.version);
    assert.deepEqual(await w.drain(200), []);
  });

  test('sotw — an endpoint-only change pushes EDS alone', async () => {
    await publish('eds-only', 1, echoWorld());
    const c = connect();
    c.send({ node: node('eds-only'), type_url: LISTENER_TYPE, resource_names: [] });
    c.ack(await c.next());
    c.send({ type_url: ROUTE_TYPE, resource_names: ['echo-route'] });
    c.ack(await c.next(), ['echo-route']);
    c.send({ type_url: CLUSTER_TYPE, resource_names: [] });
    c.ack(await c.next());
    c.send({ type_url: ENDPOINT_TYPE, resource_names: ['cluster-a'] });
    const eds1 = await c.next();
    c.ack(eds1, ['cluster-a']);
    await publish('eds-only', 2, echoWorld({ ports: [9500, 9501] }));
    const pushed = await c.drain(300);
    assert.deepEqual(
      pushed.map((r) => r.type_url),
      [ENDPOINT_TYPE],
    );
    assert.notEqual(pushed[0]?.version_info, eds1.version_info);
    // A change to a resource this stream did not ask for pushes nothing.
    await publish(
      'eds-only',
      3,
      echoWorld({ ports: [9500, 9501] }).map((r) =>
        r.name === 'cluster-b' && r.typeUrl === ENDPOINT_TYPE ? loadAssignment('cluster-b', [9600]) : r,
      ),
    );
    assert.deepEqual(await c.drain(300), []);
  });

  test('sotw — nodes are served their own group, and the default group without ambassador_id', async () => {
    await publish('blue', 1, [edsCluster('blue-cluster')]);
    await publish('default', 1, [edsCluster('default-cluster')]);
    const blue = connect();
    blue.send({ node: node('blue'), type_url: CLUSTER_TYPE, resource_names: [] });
    assert.deepEqual((await blue.next()).names, ['blue-cluster']);
    const plain = connect();
    plain.send({ node: { id: 'plain' }, type_url: CLUSTER_TYPE, resource_names: [] });
    assert.deepEqual((await plain.next()).names, ['default-cluster']);
    assert.equal(await metric('attache_fanout_streams', { group: 'blue' }), 1);
    blue.close();
    const deadline = Date.now() + 2000;
    while ((await metric('attache_fanout_streams', { group: 'blue' })) !== 0) {
      if (Date.now() > deadline) assert.fail('stream gauge not decremented after cancel');
      await new Promise((r) => setTimeout(r, 10));
    }
  });
});

describe('fan-out ADS server lifecycle', () => {
  test('ads server — binds port 0, and close ends open streams with UNAVAILABLE after a GOAWAY so clients reconnect elsewhere', async () => {
    const log = silentLogger();
    const registry = new Registry();
    const store = new MemorySnapshotStore();
    await new TestCommitter(store, 'default').commit(1, [edsCluster('c')]);
    const cache = new SnapshotCache({ store, log, registry });
    await cache.start();
    const ads = new AdsServerRunner({
      auth: { allowUnauthenticated: true },
      cache,
      host: '127.0.0.1',
      port: 0,
      log,
      registry,
    });
    await ads.start();
    assert.ok(ads.port > 0);
    assert.equal(ads.ready(), true);
    const c = new RawAdsClient(ads.port);
    try {
      c.send({ node: { id: 'n' }, type_url: CLUSTER_TYPE, resource_names: [] });
      assert.deepEqual((await c.next()).names, ['c']);
      assert.equal(ads.streamCount, 1);
      assert.deepEqual(ads.streams(), [
        {
          node: 'n',
          group: 'default',
          protocol: 'sotw',
          types: {
            CDS: {
              sent: cache.current('default')?.types.get(CLUSTER_TYPE)?.version,
              acked: undefined,
              nacked: false,
              wildcard: true,
              names: 0,
            },
          },
        },
      ]);
      await ads.close();
      assert.equal(ads.ready(), false);
      const deadline = Date.now() + 2000;
      while (!c.ended && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      assert.equal(c.ended?.code, grpc.status.UNAVAILABLE);
    } finally {
      c.close();
      await cache.close();
    }
  });
});
