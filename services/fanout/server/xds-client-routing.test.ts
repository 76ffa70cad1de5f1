/**
 * End to end with a real, independent xDS client: @grpc/grpc-js-xds resolves `xds:///echo.test`
 * through our ADS server (LDS → RDS → CDS → EDS) and sends RPCs to real echo backends.
 */
import assert from 'node:assert/strict';
import { after, before, describe, type TestContext, test } from 'node:test';
import { Registry } from 'prom-client';
import { silentLogger } from '../../../shared/runtime/logger.ts';
import { MemorySnapshotStore } from '../../../shared/snapshot/memory-snapshot-store.ts';
import { type EchoBackend, startEchoBackend } from '../../../test/harness/grpc-echo.ts';
import { createXdsEchoClient, FAILED, type XdsEchoClient } from '../../../test/harness/xds-client.ts';
import { SnapshotCache } from '../cache/snapshot-cache.ts';
import {
  apiListener,
  edsCluster,
  loadAssignment,
  type RouteTarget,
  routeConfig,
} from '../testing/echo-resources.ts';
import { TestCommitter, type TestResource } from '../testing/test-snapshots.ts';
import { AdsServerRunner } from './ads-server.ts';

const AUTHORITY = 'echo.test';

describe('fan-out ADS with a real grpc-js-xds client', () => {
  const log = silentLogger();
  const registry = new Registry();
  const store = new MemorySnapshotStore();
  const committer = new TestCommitter(store, 'default');
  const connects = new Map<string, number>();
  let cache: SnapshotCache;
  let ads: AdsServerRunner;
  let a: EchoBackend;
  let b: EchoBackend;
  let version = 0;
  const clients: XdsEchoClient[] = [];

  function resources(target: RouteTarget, clusterA: TestResource = edsCluster('cluster-a')): TestResource[] {
    return [
      apiListener(AUTHORITY, 'echo-route'),
      routeConfig('echo-route', target),
      clusterA,
      edsCluster('cluster-b'),
      loadAssignment('cluster-a', [a.port]),
      loadAssignment('cluster-b', [b.port]),
    ];
  }

  async function publish(target: RouteTarget, clusterA?: TestResource): Promise<void> {
    version += 1;
    await committer.commit(version, resources(target, clusterA));
    const deadline = Date.now() + 5000;
    while (cache.current('default')?.version !== version) {
      if (Date.now() > deadline) throw new Error(`cache did not reach version ${version}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** A fresh client (its own process, XdsClient and ADS stream), closed when the test ends. */
  function client(t: TestContext, nodeId: string): XdsEchoClient {
    const c = createXdsEchoClient({ serverPort: ads.port, nodeId, target: `xds:///${AUTHORITY}` });
    clients.push(c);
    t.after(() => c.close());
    return c;
  }

  /** Sends RPCs until one is answered by `backend` (the client applied a new config). */
  async function untilServedBy(c: XdsEchoClient, backend: string, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const reply = await c.echo('probe', 1000).catch(() => undefined);
      if (reply?.backend === backend) return;
      if (Date.now() > deadline) throw new Error(`traffic never reached ${backend}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  before(async () => {
    a = await startEchoBackend('a');
    b = await startEchoBackend('b');
    version = 1;
    await committer.commit(version, resources('cluster-a'));
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
      events: { onConnect: (p) => connects.set(p.nodeId, (connects.get(p.nodeId) ?? 0) + 1) },
    });
    await ads.start();
  });

  after(async () => {
    for (const c of clients) c.close();
    await ads.close();
    await cache.close();
    await a.stop();
    await b.stop();
  });

  test('xds routing — RPCs follow the API listener, route, cluster and endpoints to the backend', async (t) => {
    const c = client(t, 'routing-1');
    const first = await c.echo('hello', 10_000);
    assert.deepEqual(first, { message: 'hello', backend: 'a' });
    const counts = await c.countBackends(20);
    assert.deepEqual([...counts], [['a', 20]]);
    assert.ok(a.calls >= 21);
    assert.equal(b.calls, 0);
  });

  test('xds routing — a new snapshot moves traffic, and a weighted split holds, without reconnecting', async (t) => {
    const c = client(t, 'moving-1');
    assert.equal((await c.echo('warm', 10_000)).backend, 'a');
    await publish('cluster-b');
    await untilServedBy(c, 'b');
    const allB = await c.countBackends(20);
    assert.deepEqual([...allB], [['b', 20]]);

    await publish([
      { cluster: 'cluster-a', weight: 75 },
      { cluster: 'cluster-b', weight: 25 },
    ]);
    await untilServedBy(c, 'a');
    const n = 400;
    const counts = await c.countBackends(n);
    const toA = counts.get('a') ?? 0;
    const sigma = Math.sqrt(n * 0.75 * 0.25);
    assert.equal(counts.get(FAILED), undefined, 'no RPC failed');
    assert.equal(toA + (counts.get('b') ?? 0), n);
    assert.ok(Math.abs(toA - n * 0.75) <= 4 * sigma, `75% split: ${toA}/${n} went to a`);
    assert.equal(connects.get('moving-1'), 1, 'the client kept its one ADS stream');
  });

  test('xds routing — a cluster the client rejects is counted as a NACK and the last good config keeps serving', async (t) => {
    const c = client(t, 'nack-1');
    await publish('cluster-a');
    assert.equal((await c.echo('warm', 10_000)).backend, 'a');
    const nacks = async () =>
      (await registry.getSingleMetric('attache_fanout_nacks_total')?.get())?.values.find(
        (v) => v.labels.type === 'CDS' && v.labels.group === 'default',
      )?.value ?? 0;
    const before = await nacks();
    // grpc-js-xds rejects LEAST_REQUEST: the client NACKs and keeps the previous cluster-a.
    await publish('cluster-a', edsCluster('cluster-a', 'LEAST_REQUEST'));
    const deadline = Date.now() + 5000;
    while ((await nacks()) <= before) {
      if (Date.now() > deadline) throw new Error('no NACK counted');
      await new Promise((r) => setTimeout(r, 20));
    }
    const counts = await c.countBackends(10);
    assert.deepEqual([...counts], [['a', 10]]);
  });
});
