import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { Registry } from 'prom-client';
import { messageType } from '../../../proto/root.ts';
import { silentLogger } from '../../../shared/runtime/logger.ts';
import type { ManifestEntry } from '../../../shared/snapshot/manifest.ts';
import { MemorySnapshotStore } from '../../../shared/snapshot/memory-snapshot-store.ts';
import { encodeMessage } from '../../../shared/xds/encoding.ts';
import {
  CLUSTER_TYPE,
  ENDPOINT_TYPE,
  LISTENER_TYPE,
  messageNameOf,
  ROUTE_TYPE,
} from '../../../shared/xds/type-urls.ts';
import {
  apiListener,
  edsCluster,
  loadAssignment,
  routeConfig,
  socketListener,
} from '../testing/echo-resources.ts';
import { buildSnapshot, TestCommitter, type TestResource } from '../testing/test-snapshots.ts';
import type { GroupSnapshot } from './group-snapshot.ts';
import { packAnyBytes } from './pack-any.ts';
import { SnapshotCache } from './snapshot-cache.ts';

/** A memory store that records which blob hashes were asked for (a spy at our own port). */
class RecordingStore extends MemorySnapshotStore {
  readonly fetched: string[] = [];
  override async getBlobs(hashes: readonly string[]): Promise<Map<string, Uint8Array>> {
    this.fetched.push(...hashes);
    return super.getBlobs(hashes);
  }
}

/** A memory store whose blob reads lose or corrupt data until `damage` is cleared. */
class DamagedStore extends MemorySnapshotStore {
  constructor(public damage: 'missing' | 'corrupt' | undefined) {
    super();
  }
  override async getBlobs(hashes: readonly string[]): Promise<Map<string, Uint8Array>> {
    if (this.damage === 'missing') return new Map();
    const got = await super.getBlobs(hashes);
    if (this.damage === 'corrupt') for (const h of got.keys()) got.set(h, Uint8Array.of(8, 1));
    return got;
  }
}

async function until(cond: () => boolean, what: string, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('snapshot cache', () => {
  const caches: SnapshotCache[] = [];
  const newCache = (store: MemorySnapshotStore) => {
    const c = new SnapshotCache({ store, log: silentLogger(), registry: new Registry(), retryDelayMs: 50 });
    caches.push(c);
    return c;
  };
  after(async () => {
    for (const c of caches) await c.close();
  });

  test('snapshot cache — loads every group head at start and follows later commits', async () => {
    const store = new MemorySnapshotStore();
    await new TestCommitter(store, 'blue').commit(3, [edsCluster('c1')]);
    const green = new TestCommitter(store, 'green');
    await green.commit(5, [edsCluster('g1')]);
    const cache = newCache(store);
    await cache.start();
    assert.equal(cache.ready(), true);
    assert.deepEqual(cache.groups(), ['blue', 'green']);
    assert.equal(cache.current('blue')?.version, 3);
    const seen: Array<[string, number, number | undefined]> = [];
    cache.subscribe((next, prev) => seen.push([next.group, next.version, prev?.version]));
    await green.commit(7, [edsCluster('g1'), edsCluster('g2')]);
    await until(() => cache.current('green')?.version === 7, 'green@7');
    assert.deepEqual(seen, [['green', 7, 5]]);
    assert.deepEqual(
      [...(cache.current('green')?.types.get(CLUSTER_TYPE)?.resources.keys() ?? [])],
      ['g1', 'g2'],
    );
    // A group first committed after start is picked up from the log.
    await new TestCommitter(store, 'red').commit(1, [edsCluster('r1')]);
    await until(() => cache.current('red')?.version === 1, 'red@1');
  });

  test('snapshot cache — resources are held as Any bytes that decode to the committed resource', async () => {
    const store = new MemorySnapshotStore();
    await new TestCommitter(store, 'g').commit(1, [apiListener('echo.test', 'r'), socketListener('l', 80)]);
    const cache = newCache(store);
    await cache.start();
    const lds = cache.current('g')?.types.get(LISTENER_TYPE);
    const api = lds?.resources.get('echo.test');
    assert.equal(api?.onDemand, true);
    assert.equal(lds?.resources.get('l')?.onDemand, false);
    const Any = messageType('google.protobuf.Any');
    const any = Any.toObject(Any.decode(api?.any ?? new Uint8Array())) as {
      type_url: string;
      value: Uint8Array;
    };
    assert.equal(any.type_url, LISTENER_TYPE);
    const Listener = messageType('envoy.config.listener.v3.Listener');
    assert.equal((Listener.toObject(Listener.decode(any.value)) as { name: string }).name, 'echo.test');
  });

  test('snapshot cache — an update fetches only the blobs it does not hold and reuses unchanged types', async () => {
    const store = new RecordingStore();
    const c = new TestCommitter(store, 'g');
    await c.commit(1, [edsCluster('a'), edsCluster('b'), loadAssignment('a', [1]), loadAssignment('b', [2])]);
    const cache = newCache(store);
    await cache.start();
    const v1 = cache.current('g') as GroupSnapshot;
    assert.equal(store.fetched.length, 4);
    store.fetched.length = 0;
    await c.commit(2, [edsCluster('a'), edsCluster('b'), loadAssignment('a', [1]), loadAssignment('b', [3])]);
    await until(() => cache.current('g')?.version === 2, 'g@2');
    const v2 = cache.current('g') as GroupSnapshot;
    assert.deepEqual(store.fetched, [v2.types.get(ENDPOINT_TYPE)?.resources.get('b')?.hash]);
    assert.equal(v2.types.get(CLUSTER_TYPE), v1.types.get(CLUSTER_TYPE), 'unchanged type keeps its object');
    assert.notEqual(v2.types.get(ENDPOINT_TYPE), v1.types.get(ENDPOINT_TYPE));
    assert.equal(
      v1.types.get(ENDPOINT_TYPE)?.resources.get('b')?.hash !== undefined,
      true,
      'old snapshot stays intact',
    );
  });

  test('snapshot cache — never goes backwards: log entries at or below the held version are ignored', async () => {
    const store = new RecordingStore();
    const c = new TestCommitter(store, 'g');
    await c.commit(1, [edsCluster('old')]);
    await c.commit(2, [edsCluster('new')]);
    const cache = newCache(store);
    const seen: number[] = [];
    cache.subscribe((next) => seen.push(next.version));
    await cache.start();
    // The tail replays entries 1 and 2 from the start of the log; let it run.
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(seen, [2]);
    assert.deepEqual([...(cache.current('g')?.types.get(CLUSTER_TYPE)?.resources.keys() ?? [])], ['new']);
  });

  test('snapshot cache — blobs no current snapshot references are dropped', async () => {
    const store = new MemorySnapshotStore();
    const c = new TestCommitter(store, 'g');
    await c.commit(1, [edsCluster('a'), edsCluster('b'), edsCluster('c')]);
    const other = new TestCommitter(store, 'h');
    await other.commit(1, [edsCluster('a')]);
    const cache = newCache(store);
    await cache.start();
    assert.equal(cache.blobCount, 3, 'a is shared between groups and held once');
    await c.commit(2, [edsCluster('c')]);
    await until(() => cache.current('g')?.version === 2, 'g@2');
    assert.equal(cache.blobCount, 2, 'b dropped; a still used by group h');
    await other.commit(2, [edsCluster('c')]);
    await until(() => cache.current('h')?.version === 2, 'h@2');
    assert.equal(cache.blobCount, 1);
  });

  test('snapshot cache — a snapshot with missing or corrupt blobs is not installed', async () => {
    for (const damage of ['missing', 'corrupt'] as const) {
      const store = new DamagedStore(damage);
      const c = new TestCommitter(store, 'g');
      await c.commit(1, [edsCluster('a')]);
      const cache = newCache(store);
      await cache.start();
      assert.equal(cache.current('g'), undefined, `${damage}: nothing served rather than a partial snapshot`);
      // Once the store answers correctly again, the next commit is installed.
      store.damage = undefined;
      await c.commit(2, [edsCluster('a')]);
      await until(() => cache.current('g')?.version === 2, 'g@2');
    }
  });

  test('snapshot cache — a resource stored in chunks is served byte for byte, and an update fetches only its new chunks', async () => {
    /** A route configuration of ~12 KB whose route `changed` gets cluster `cluster`. */
    const big = (changed: number, cluster: string, chunkBytes = 500): TestResource => ({
      typeUrl: ROUTE_TYPE,
      name: 'big',
      chunkBytes,
      message: {
        name: 'big',
        virtual_hosts: [
          {
            name: 'all',
            domains: ['*'],
            routes: Array.from({ length: 200 }, (_, i) => ({
              match: { prefix: `/route-${String(i).padStart(4, '0')}/` },
              route: { cluster: i === changed ? cluster : 'c0' },
            })),
          },
        ],
      },
    });
    const bytesOf = (r: TestResource) => encodeMessage(messageNameOf(r.typeUrl), r.message);
    const store = new RecordingStore();
    const c = new TestCommitter(store, 'g');
    const v1 = await c.commit(1, [big(150, 'c1'), edsCluster('a')]);
    const entry = v1.types[ROUTE_TYPE]?.resources[0];
    assert.ok(entry?.chunks && entry.chunks.length > 5, 'stored in chunks');
    const cache = newCache(store);
    await cache.start();
    const held = () => cache.current('g')?.types.get(ROUTE_TYPE)?.resources.get('big');
    assert.deepEqual(
      Buffer.from(held()?.any ?? []),
      Buffer.from(packAnyBytes(ROUTE_TYPE, bytesOf(big(150, 'c1')))),
    );
    assert.equal(cache.chunkCount, new Set(entry.chunks).size);
    // One route's cluster changes (same length): one chunk is new, and only it is fetched.
    store.fetched.length = 0;
    const v2 = await c.commit(2, [big(150, 'c2'), edsCluster('a')]);
    await until(() => cache.current('g')?.version === 2, 'g@2');
    const next = v2.types[ROUTE_TYPE]?.resources[0]?.chunks ?? [];
    const fresh = next.filter((h) => !entry.chunks?.includes(h));
    assert.equal(fresh.length, 1);
    assert.deepEqual(store.fetched, fresh);
    assert.deepEqual(
      Buffer.from(held()?.any ?? []),
      Buffer.from(packAnyBytes(ROUTE_TYPE, bytesOf(big(150, 'c2')))),
    );
    assert.equal(cache.chunkCount, new Set(next).size, 'the replaced chunk was dropped');
    // Stored whole again, then gone: no chunk is held any more.
    await c.commit(3, [big(150, 'c2', 0), edsCluster('a')]);
    await until(() => cache.current('g')?.version === 3, 'g@3');
    assert.equal(cache.chunkCount, 0);
    assert.deepEqual(
      Buffer.from(held()?.any ?? []),
      Buffer.from(packAnyBytes(ROUTE_TYPE, bytesOf(big(150, 'c2')))),
    );
  });

  test('snapshot cache — a resource whose chunks are missing, corrupt or listed under another hash is not installed', async () => {
    const chunked = (cluster: string): TestResource => ({ ...routeConfig('r', cluster), chunkBytes: 16 });
    for (const damage of ['missing', 'corrupt'] as const) {
      const store = new DamagedStore(undefined);
      const c = new TestCommitter(store, 'g');
      await c.commit(1, [chunked('a')]);
      const cache = newCache(store);
      await cache.start();
      assert.equal(cache.current('g')?.version, 1);
      store.damage = damage;
      await c.commit(2, [chunked('b')]);
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(cache.current('g')?.version, 1, `${damage}: the previous snapshot is kept`);
      store.damage = undefined;
      await c.commit(3, [chunked('c')]);
      await until(() => cache.current('g')?.version === 3, 'g@3');
    }
    // A chunk list that does not hash to the entry's hash (chunks swapped).
    const store = new MemorySnapshotStore();
    const { manifest, blobs } = buildSnapshot('g', 1, [chunked('a')]);
    const e = manifest.types[ROUTE_TYPE]?.resources[0] as ManifestEntry;
    e.chunks = [...(e.chunks ?? [])].reverse();
    await store.commit({ epoch: await store.acquireEpoch('g'), manifest, blobs });
    const cache = newCache(store);
    await cache.start();
    assert.equal(cache.current('g'), undefined);
  });

  test('snapshot cache — close stops following the log', async () => {
    const store = new MemorySnapshotStore();
    const c = new TestCommitter(store, 'g');
    await c.commit(1, [edsCluster('a')]);
    const cache = newCache(store);
    await cache.start();
    await cache.close();
    assert.equal(cache.ready(), false);
    await c.commit(2, [edsCluster('b')]);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(cache.current('g')?.version, 1);
  });
});

describe('snapshot cache failures', () => {
  test('snapshot cache — a failed log tail is reopened after the last handled entry', async () => {
    class FlakyTailStore extends MemorySnapshotStore {
      failures = 1;
      override async *tail(opts: { after?: string; signal: AbortSignal }) {
        if (this.failures-- > 0) throw new Error('connection reset');
        yield* super.tail(opts);
      }
    }
    const store = new FlakyTailStore();
    const c = new TestCommitter(store, 'g');
    await c.commit(1, [edsCluster('a')]);
    const cache = new SnapshotCache({
      store,
      log: silentLogger(),
      registry: new Registry(),
      retryDelayMs: 20,
    });
    await cache.start();
    try {
      await c.commit(2, [edsCluster('b')]);
      await until(() => cache.current('g')?.version === 2, 'g@2 after the tail failed');
      assert.equal(store.failures, -1, 'the tail did fail once');
    } finally {
      await cache.close();
    }
  });
});
