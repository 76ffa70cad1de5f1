/** Runs the snapshot store contract against the in-memory store and against a real redis-server. */
import { after, before, describe } from 'node:test';
import { startRedis, type TestServer } from '../../test/harness/servers.ts';
import { silentLogger } from '../runtime/logger.ts';
import { MemorySnapshotStore } from './memory-snapshot-store.ts';
import { RedisSnapshotStore } from './redis-snapshot-store.ts';
import { snapshotStoreContract } from './snapshot-store.contract.ts';

describe('memory', () => {
  snapshotStoreContract('memory', async () => {
    const store = new MemorySnapshotStore();
    return { store, cleanup: () => store.close() };
  });
});

describe('redis', () => {
  let redis: TestServer;
  let n = 0;
  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    await redis.dispose();
  });
  snapshotStoreContract('redis', async () => {
    const store = await RedisSnapshotStore.connect({
      url: redis.url,
      prefix: `contract-${++n}:`,
      log: silentLogger(),
    });
    return { store, cleanup: () => store.close() };
  });
});
