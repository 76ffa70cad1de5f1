/**
 * Leadership and store loss against a real Redis, with one thing scripted: how long a lease
 * claim takes to be answered (a wrapper around the real Redis lease).
 *
 * Redis Sentinel failover reproduces the case: a claim sent while the client reconnects waits in
 * its offline queue and is answered by the promoted replica a second or more later. The lease
 * counts from when the claim was sent, so by the time the store check has found the stale head
 * and taken new epochs, the lease can look expired for a moment and the recommit is skipped. The
 * next renewal must still bring the head back; before this was fixed the recommit was forgotten
 * and the head stayed behind until the next change (the intermittent Sentinel failure).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import type { EventEnvelope, SourceObject } from '../../shared/events/envelope.ts';
import { MemoryEventLog } from '../../shared/events/memory-event-log.ts';
import { silentLogger } from '../../shared/runtime/logger.ts';
import { createRegistry } from '../../shared/runtime/metrics.ts';
import type { LeaderLease } from '../../shared/snapshot/leader-lease.ts';
import { RedisSnapshotStore } from '../../shared/snapshot/redis-snapshot-store.ts';
import { eventually } from '../../test/harness/eventually.ts';
import { startRedis, type TestServer } from '../../test/harness/servers.ts';
import { CompilerRunner } from './runner.ts';

const TTL_MS = 600;

/** The real lease, with an answer delay the test can turn on. */
class SlowLease implements LeaderLease {
  delayMs = 0;
  constructor(private readonly inner: LeaderLease) {}
  get holder(): string {
    return this.inner.holder;
  }
  get ttlMs(): number {
    return this.inner.ttlMs;
  }
  async claim(): Promise<boolean> {
    const held = await this.inner.claim();
    if (this.delayMs > 0) await new Promise((r) => setTimeout(r, this.delayMs));
    return held;
  }
  release(): Promise<void> {
    return this.inner.release();
  }
}

let rv = 0;
const mapping = (n: number): EventEnvelope => {
  const object: SourceObject = {
    apiVersion: 'getambassador.io/v3alpha1',
    kind: 'Mapping',
    metadata: { name: `m-${n}`, namespace: 'ns' },
    spec: { hostname: '*', prefix: `/m${n}/`, service: 'svc' },
  };
  return {
    v: 1,
    cluster: 'c1',
    kind: 'Mapping',
    namespace: 'ns',
    name: object.metadata.name,
    op: 'upsert',
    resourceVersion: String(++rv),
    generation: 0,
    observedAt: '',
    ingestor: 'test',
    object,
  };
};

describe('compiler leadership — store loss seen through a slow lease renewal', () => {
  let redis: TestServer;
  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    await redis?.stop();
  });

  test('leadership — a head that went back, or a change compiled while the lease looked expired, is committed by the next renewal', async () => {
    const log = silentLogger();
    const events = new MemoryEventLog();
    const store = await RedisSnapshotStore.connect({ url: redis.url, log, prefix: 'slowlease:' });
    const lease = new SlowLease(store.leaderLease('compiler', TTL_MS));
    const raw = new Redis(redis.url, { maxRetriesPerRequest: 1 });
    const runner = new CompilerRunner({
      events,
      store,
      groups: ['default'],
      log,
      registry: createRegistry('compiler'),
      debounceMs: 5,
      maxDelayMs: 50,
      retention: 100,
      lease,
      onFatal: (err) => assert.fail(String(err)),
    });
    const head = async () => Number(await raw.get('slowlease:g:{default}:head'));
    try {
      await events.publish(mapping(1));
      await runner.start();
      assert.equal(await head(), 1);
      const { seq: older } = await events.publish(mapping(2));
      await eventually(async () => assert.equal(await head(), older), { timeoutMs: 10_000, intervalMs: 20 });
      const { seq: newest } = await events.publish(mapping(3));
      await eventually(async () => assert.equal(await head(), newest), { timeoutMs: 10_000, intervalMs: 20 });
      await runner.idle();

      // A stale replica is promoted: same epoch, head one commit behind. The renewal that notices
      // is answered after more than the lease's expiry.
      lease.delayMs = TTL_MS + 100;
      await raw.set('slowlease:g:{default}:head', String(older));
      await new Promise((r) => setTimeout(r, TTL_MS * 2));
      lease.delayMs = 0;

      await eventually(async () => assert.equal(await head(), newest, 'head back to the newest commit'), {
        timeoutMs: 10_000,
        intervalMs: 20,
      });
      assert.equal(runner.isLeader(), true);

      // A change compiled while the lease looks expired (a compile that held the event loop past
      // the expiry does the same) is committed once the lease is renewed, not at the next change.
      lease.delayMs = TTL_MS + 100;
      await new Promise((r) => setTimeout(r, TTL_MS / 2));
      await eventually(() => assert.equal(runner.isLeader(), false), { timeoutMs: 5_000, intervalMs: 5 });
      const { seq: during } = await events.publish(mapping(4));
      await new Promise((r) => setTimeout(r, 200));
      await runner.idle();
      lease.delayMs = 0;
      await eventually(async () => assert.equal(await head(), during, 'the change is committed'), {
        timeoutMs: 10_000,
        intervalMs: 20,
      });
    } finally {
      await runner.close();
      raw.disconnect();
      await store.close();
      await events.close();
    }
  });
});
