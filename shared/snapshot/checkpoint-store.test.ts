/** The checkpoint store contract, against the in-memory store and a real redis-server. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startRedis, type TestServer } from '../../test/harness/servers.ts';
import { silentLogger } from '../runtime/logger.ts';
import { type CheckpointStore, MemoryCheckpointStore } from './checkpoint-store.ts';
import { RedisSnapshotStore } from './redis-snapshot-store.ts';

function contract(name: string, open: () => Promise<{ store: CheckpointStore; close(): Promise<void> }>) {
  test(`checkpoint store (${name}) — stores bytes by sequence, keeps only the newest`, async () => {
    const { store, close } = await open();
    try {
      assert.deepEqual(await store.list(), []);
      assert.equal(await store.get(1), null);
      const bytes = (n: number) => Uint8Array.from([n, 0, 255, n]);
      for (const seq of [10, 30, 20]) await store.put(seq, bytes(seq), 3);
      assert.deepEqual(await store.list(), [10, 20, 30]);
      assert.deepEqual([...((await store.get(20)) ?? [])], [20, 0, 255, 20]);
      await store.put(40, bytes(40), 2);
      assert.deepEqual(await store.list(), [30, 40], 'only the newest two are kept');
      assert.equal(await store.get(10), null, 'a dropped checkpoint is gone');
      await store.put(40, bytes(41), 2);
      assert.deepEqual([...((await store.get(40)) ?? [])], [41, 0, 255, 41], 'put replaces');
    } finally {
      await close();
    }
  });
}

describe('memory', () => {
  contract('memory', async () => ({ store: new MemoryCheckpointStore(), close: async () => {} }));
});

describe('redis', () => {
  let redis: TestServer;
  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    await redis?.dispose();
  });
  contract('redis', async () => {
    const s = await RedisSnapshotStore.connect({
      url: redis.url,
      prefix: 'ckpt-contract:',
      log: silentLogger(),
    });
    return { store: s.checkpoints(), close: () => s.close() };
  });
});
