/**
 * A replacement fan-out serves from a warm cache: `attache fanout` loads every group's head from
 * Redis before it opens the xDS port, so the first stream after a restart (a reconnect storm) is
 * answered from memory. The test freezes Redis (SIGSTOP) the moment the port accepts and asks
 * then: a fan-out that read Redis on the first request, or listened before its heads were loaded,
 * would not answer until Redis came back.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { nodeIn } from '../../services/fanout/testing/ads-fixture.ts';
import { edsCluster, loadAssignment } from '../../services/fanout/testing/echo-resources.ts';
import { RawAdsClient } from '../../services/fanout/testing/raw-ads-client.ts';
import { TestCommitter } from '../../services/fanout/testing/test-snapshots.ts';
import { silentLogger } from '../../shared/runtime/logger.ts';
import { RedisSnapshotStore } from '../../shared/snapshot/redis-snapshot-store.ts';
import { CLUSTER_TYPE } from '../../shared/xds/type-urls.ts';
import { type AttacheProcess, startAttache } from '../harness/attache-process.ts';
import { freePort } from '../harness/ports.ts';
import { startRedis, type TestServer } from '../harness/servers.ts';
import { fanoutArgs } from '../harness/tier-args.ts';

/** Resolves once `port` accepts a TCP connection, polling every 2 ms (no slack for a lazy load). */
async function acceptsSoon(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port }, () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`port ${port} never accepted`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

describe('fan-out warm start', () => {
  let redis: TestServer;
  let store: RedisSnapshotStore;
  let fanout: AttacheProcess | undefined;
  let client: RawAdsClient | undefined;

  before(async () => {
    redis = await startRedis();
    store = await RedisSnapshotStore.connect({ url: redis.url, log: silentLogger(), prefix: 'attache:' });
    // Two groups, several versions each: the fan-out must load every group's head, not the first.
    for (const group of ['alpha', 'warm']) {
      const c = new TestCommitter(store, group);
      for (let v = 1; v <= 3; v++)
        await c.commit(v, [edsCluster(`${group}-svc-${v}`), loadAssignment(`${group}-svc-${v}`, [9000 + v])]);
    }
  });

  after(async () => {
    client?.close();
    redis.resume();
    await fanout?.stop();
    await store.close();
    await redis.dispose();
  });

  test('warm start — with Redis frozen the moment the xDS port opens, the first request is answered from the loaded heads', async () => {
    const [xdsPort, adminPort] = await Promise.all([freePort(), freePort()]);
    fanout = startAttache(fanoutArgs({ redisUrl: redis.url, xdsPort, adminPort }));
    await acceptsSoon(xdsPort, 60_000);
    redis.pause();
    client = new RawAdsClient(xdsPort);
    client.send({ node: nodeIn('warm'), type_url: CLUSTER_TYPE, resource_names: [] });
    const cds = await client.next(10_000);
    assert.deepEqual(cds.names, ['warm-svc-3'], 'the head (v3) of the group, served while Redis is stopped');
    const out = fanout.output();
    const installed = out.lastIndexOf('snapshot installed');
    const listening = out.indexOf('xDS listening');
    assert.ok(installed >= 0 && listening > installed, 'every head installed before the port opened');
    assert.equal(out.match(/"msg":"snapshot installed"/g)?.length, 2, 'one head per group, no older version');
  });
});
