/**
 * Redis-only fault tests for the snapshot store, against a real redis-server that the tests kill,
 * pause and restart. The port's behaviour is covered by the contract suite (snapshot-store.test.ts).
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { startRedis, type TestServer } from '../../test/harness/servers.ts';
import { DependencyError } from '../runtime/errors.ts';
import { type Logger, silentLogger } from '../runtime/logger.ts';
import { CLUSTER_TYPE, ROUTE_TYPE } from '../xds/type-urls.ts';
import { encodeManifest, manifestHashes, typeManifest } from './manifest.ts';
import { escapeGroup, RedisKeys, unescapeGroup } from './redis-keys.ts';
import { RedisSnapshotStore } from './redis-snapshot-store.ts';
import { chunkedResourceHash, loadResources } from './resource-chunks.ts';
import { testBlob, testCommit, testSnapshot } from './snapshot-store.contract.ts';
import type { SnapshotLogEntry } from './snapshot-store.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('redis key layout — keys follow the documented layout and group names are escaped', () => {
  const k = new RedisKeys('attache:');
  assert.equal(k.head('edge'), 'attache:g:{edge}:head');
  assert.equal(k.manifest('edge', 42), 'attache:g:{edge}:m:42');
  assert.equal(k.blob('ab12'), 'attache:blob:ab12');
  assert.equal(k.hashOfBlobKey(k.blob('ab12')), 'ab12');
  assert.equal(k.epoch('a}:b*ü'), 'attache:g:{a%7D%3Ab%2A%C3%BC}:epoch');
  for (const g of ['a:b', 'a%3Ab', '', ' ', 'ü', '{}']) assert.equal(unescapeGroup(escapeGroup(g)), g);
  assert.notEqual(escapeGroup('a:b'), escapeGroup('a%3Ab'));
});

describe('redis snapshot store faults', () => {
  let redis: TestServer;
  let n = 0;
  const open = (opts: { commandTimeoutMs?: number } = {}) =>
    RedisSnapshotStore.connect({ url: redis.url, prefix: `faults-${++n}:`, log: silentLogger(), ...opts });

  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    await redis.dispose();
  });

  test('redis snapshot store — of two concurrent committers only the newest epoch commits and the head never goes back', async () => {
    const prefix = `faults-${++n}:`;
    const connect = () => RedisSnapshotStore.connect({ url: redis.url, prefix, log: silentLogger() });
    const [a, b, observer] = await Promise.all([connect(), connect(), connect()]);
    try {
      const ac = new AbortController();
      const logged: SnapshotLogEntry[] = [];
      const tailing = (async () => {
        for await (const e of observer.tail({ signal: ac.signal })) logged.push(e);
      })();
      const heads: number[] = [];
      const polling = (async () => {
        while (!ac.signal.aborted) {
          const h = await observer.head('edge');
          if (h !== null) heads.push(h);
          await sleep(1);
        }
      })();

      const epochA = await a.acquireEpoch('edge');
      let epochB = 0;
      let aCommittedAfterB = 0;
      let aFencedAfterB = 0;
      let aCommitted = 0;
      // A, the old leader, commits ever higher versions; once B holds a newer epoch, none may land.
      const runA = (async () => {
        for (let v = 1; v <= 300; v++) {
          const startedAfterB = epochB > 0;
          const res = await a.commit(testCommit(epochA, 'edge', v * 10, [`A-${v}`]));
          if (res.committed) aCommitted++;
          if (startedAfterB && res.committed) aCommittedAfterB++;
          if (startedAfterB && !res.committed && res.reason === 'fenced') aFencedAfterB++;
        }
      })();
      const runB = (async () => {
        while (aCommitted < 20) await sleep(1);
        epochB = await b.acquireEpoch('edge');
        let last = 0;
        for (let v = 1; v <= 300; v++) {
          const res = await b.commit(testCommit(epochB, 'edge', v, [`B-${v}`]));
          if (res.committed) last = v;
        }
        return last;
      })();
      const [, lastB] = await Promise.all([runA, runB]);
      await sleep(100);
      ac.abort();
      await Promise.all([tailing, polling]);

      assert.ok(epochB > epochA);
      assert.equal(aCommittedAfterB, 0, 'no commit with the superseded epoch lands');
      assert.ok(aFencedAfterB > 0, 'the old leader is told it is fenced');
      assert.ok(lastB > 0, 'the new leader commits once past the old head');
      assert.equal(await observer.head('edge'), lastB);
      const head = await observer.getManifest('edge', lastB);
      assert.deepEqual(head && manifestHashes(head).includes(testBlob(`B-${lastB}`).hash), true);
      for (let i = 1; i < heads.length; i++)
        assert.ok(
          (heads[i] as number) >= (heads[i - 1] as number),
          `head went back: ${heads[i - 1]} -> ${heads[i]}`,
        );
      const versions = logged.map((e) => e.version);
      for (let i = 1; i < versions.length; i++)
        assert.ok((versions[i] as number) > (versions[i - 1] as number), 'the log only moves forward');
      assert.equal(versions.at(-1), lastB);
    } finally {
      await Promise.all([a.close(), b.close(), observer.close()]);
    }
  });

  test('redis snapshot store — gc racing commits never leaves a stored manifest without its blobs', async (t) => {
    const prefix = `faults-${++n}:`;
    const rewrites = countingLogger('blobs vanished before commit');
    const committer = await RedisSnapshotStore.connect({ url: redis.url, prefix, log: rewrites.log });
    const collector = await RedisSnapshotStore.connect({ url: redis.url, prefix, log: silentLogger() });
    try {
      const epoch = await committer.acquireEpoch('edge');
      let stop = false;
      // Version v reuses the blobs of version v-2, which keep=1 has just made garbage: the
      // committer finds them present and skips them, and gc may sweep them while the committer
      // is still writing v's fresh blobs, before its commit script runs.
      const contents = (v: number) =>
        Array.from({ length: 50 }, (_, i) => `blob ${i} of ${v}`.padEnd(8192, '.')).concat(
          Array.from({ length: 50 }, (_, i) => `blob ${i} of ${Math.max(0, v - 2)}`.padEnd(8192, '.')),
        );
      const committing = (async () => {
        try {
          for (let v = 1; v <= 150; v++) {
            const req = testCommit(epoch, 'edge', v, contents(v));
            assert.equal((await committer.commit(req)).committed, true);
            // Version v is the head until the next commit: its blobs must all be there.
            const stored = await committer.getBlobs([...req.blobs.keys()]);
            assert.equal(stored.size, req.blobs.size, `blobs of head ${v}`);
          }
        } finally {
          stop = true;
        }
      })();
      let gcRuns = 0;
      const collecting = (async () => {
        while (!stop) {
          await collector.gc('edge', 1);
          gcRuns++;
        }
      })();
      await Promise.all([committing, collecting]);
      assert.ok(gcRuns > 1);
      assert.equal(await committer.head('edge'), 150);
      for (const v of await committer.versions('edge')) {
        const m = await committer.getManifest('edge', v);
        assert.ok(m);
        const hashes = manifestHashes(m);
        assert.equal(
          (await committer.getBlobs(hashes)).size,
          hashes.length,
          `every blob of version ${v} is stored`,
        );
      }
      t.diagnostic(`${gcRuns} gc runs; ${rewrites.count()} commits found blobs swept and retried`);
    } finally {
      await Promise.all([committer.close(), collector.close()]);
    }
  });

  test('redis snapshot store — gc marks what a manifest key holds now, not what an earlier gc read there', async () => {
    const prefix = `faults-${++n}:`;
    const store = await RedisSnapshotStore.connect({ url: redis.url, prefix, log: silentLogger() });
    const raw = new Redis(redis.url);
    try {
      const keys = new RedisKeys(prefix);
      const epoch = await store.acquireEpoch('edge');
      assert.equal((await store.commit(testCommit(epoch, 'edge', 1, ['a']))).committed, true);
      assert.equal((await store.commit(testCommit(epoch, 'edge', 2, ['b']))).committed, true);
      await store.gc('edge', 5);
      // Version 1 now holds another snapshot (as after Redis lost its data and another log was
      // compiled to the same sequence): its blob 'x' is live, 'a' is garbage.
      const x = testBlob('x');
      const rewritten = testSnapshot('edge', 1, ['x']);
      await raw.set(keys.blob(x.hash), Buffer.from(x.bytes));
      for (const [h, bytes] of rewritten.blobs) await raw.set(keys.blob(h), Buffer.from(bytes));
      await raw.set(keys.manifest('edge', 1), Buffer.from(encodeManifest(rewritten.manifest)));
      await store.gc('edge', 5);
      const stored = await store.getBlobs([x.hash, testBlob('a').hash, testBlob('b').hash]);
      assert.ok(stored.has(x.hash), "the rewritten manifest's blob is kept");
      assert.ok(!stored.has(testBlob('a').hash), "the replaced manifest's blob is swept");
      assert.ok(stored.has(testBlob('b').hash));
    } finally {
      raw.disconnect();
      await store.close();
    }
  });

  test('redis snapshot store — tail survives a redis-server restart and sees the next commit', async () => {
    const store = await open();
    const ac = new AbortController();
    try {
      await store.commit(testCommit(await store.acquireEpoch('edge'), 'edge', 1, ['before']));
      const seen: SnapshotLogEntry[] = [];
      const tailing = (async () => {
        for await (const e of store.tail({ signal: ac.signal })) seen.push(e);
      })();
      await waitFor(() => seen.length === 1, 5_000, 'the first commit is tailed');

      await redis.stop('SIGKILL');
      await sleep(300);
      await redis.start();
      // Redis ran without persistence: its data (epoch, head, log) is gone, as after a real loss.
      const deadline = Date.now() + 10_000;
      for (;;) {
        try {
          const epoch = await store.acquireEpoch('edge');
          assert.equal((await store.commit(testCommit(epoch, 'edge', 2, ['after']))).committed, true);
          break;
        } catch (err) {
          if (!(err instanceof DependencyError) || Date.now() > deadline) throw err;
          await sleep(100);
        }
      }
      await waitFor(() => seen.length === 2, 10_000, 'the commit after the restart is tailed');
      assert.deepEqual(
        seen.map((e) => e.version),
        [1, 2],
      );
      ac.abort();
      await tailing;
    } finally {
      ac.abort();
      await store.close();
    }
  });

  test('redis snapshot store — a commit based on the head checks only its new blobs; a moved head means a full check', async () => {
    const store = await open();
    try {
      const epoch = await store.acquireEpoch('edge');
      const v1 = testCommit(epoch, 'edge', 1, ['a', 'b']);
      assert.equal((await store.commit(v1)).committed, true);
      const base = { version: 1, hashes: new Set(manifestHashes(v1.manifest)) };
      // Based on the head: 'a' and 'b' are neither provided nor checked, 'c' is written.
      const v2 = testCommit(epoch, 'edge', 2, ['a', 'b', 'c']);
      const onlyNew = new Map([...v2.blobs].filter(([h]) => !base.hashes.has(h)));
      const calls = await commandCalls(redis.url);
      // With the base's manifest, the store compares type lists instead of reading the hash set.
      const byManifest = {
        version: 1,
        manifest: v1.manifest,
        get hashes(): ReadonlySet<string> {
          throw new Error('the hash set was read');
        },
      };
      assert.equal((await store.commit({ ...v2, blobs: onlyNew, base: byManifest })).committed, true);
      const after = await commandCalls(redis.url);
      // Its few new blobs went inside the commit script: one script call, no probe before it.
      assert.equal((after.evalsha ?? 0) - (calls.evalsha ?? 0), 1);
      assert.deepEqual(
        [...(await store.getBlobs(manifestHashes(v2.manifest))).keys()].sort(),
        manifestHashes(v2.manifest).sort(),
      );
      // The head is 2 now: a commit still based on 1 is checked in full, and refused when it
      // references a blob that is neither stored nor provided.
      const v3 = testCommit(epoch, 'edge', 3, ['a', 'never-stored']);
      const without = new Map([...v3.blobs].filter(([h]) => h !== testBlob('never-stored').hash));
      await assert.rejects(store.commit({ ...v3, blobs: without, base }), /neither provided nor stored/);
      assert.equal((await store.commit({ ...v3, base })).committed, true);
      assert.equal(await store.head('edge'), 3);
    } finally {
      await store.close();
    }
  });

  test('redis snapshot store — a manifest is stored in pieces: a one-resource change writes kilobytes, readers get it whole, gc keeps live pieces', async () => {
    const prefix = `faults-${++n}:`;
    const store = await RedisSnapshotStore.connect({ url: redis.url, prefix, log: silentLogger() });
    const reader = await RedisSnapshotStore.connect({ url: redis.url, prefix, log: silentLogger() });
    const raw = new Redis(redis.url);
    try {
      const keys = new RedisKeys(prefix);
      const epoch = await store.acquireEpoch('edge');
      const contents = Array.from({ length: 3_000 }, (_, i) => `resource ${i}`);
      const v1 = testCommit(epoch, 'edge', 1, contents);
      assert.equal((await store.commit(v1)).committed, true);
      const whole = Buffer.from(encodeManifest(v1.manifest)).length;
      const stored1 = (await raw.getBuffer(keys.manifest('edge', 1))) as Buffer;
      assert.ok(stored1.length * 20 < whole, `stored ${stored1.length} bytes of a ${whole}-byte manifest`);
      assert.deepEqual(await reader.getManifest('edge', 1), v1.manifest);

      // One resource changed, on top of the head: the manifest, one piece and one resource are written.
      contents[1_234] = 'changed';
      const v2 = testCommit(epoch, 'edge', 2, contents);
      const base = { version: 1, hashes: new Set(manifestHashes(v1.manifest)) };
      const input = async () => Number(/total_net_input_bytes:(\d+)/.exec(await raw.info('stats'))?.[1]);
      const before = await input();
      assert.equal((await store.commit({ ...v2, base })).committed, true);
      const written = (await input()) - before;
      assert.ok(written < 20_000, `a one-resource commit wrote ${written} bytes`);
      assert.deepEqual(await reader.getManifest('edge', 2), v2.manifest);
      const fresh = await RedisSnapshotStore.connect({ url: redis.url, prefix, log: silentLogger() });
      try {
        assert.deepEqual(await fresh.getManifest('edge', 2), v2.manifest, 'read without a piece cache');
      } finally {
        await fresh.close();
      }

      // A manifest stored whole (before pieces) is still read, and gc keeps what either form names.
      await raw.set(
        keys.manifest('edge', 0),
        Buffer.from(encodeManifest(testSnapshot('edge', 0, ['old']).manifest)),
      );
      await raw.zadd(keys.versions('edge'), 0, 0);
      await raw.set(keys.blob(testBlob('old').hash), 'old');
      assert.equal(
        (await reader.getManifest('edge', 0))?.types[CLUSTER_TYPE]?.resources[0]?.hash,
        testBlob('old').hash,
      );
      await store.gc('edge', 5);
      const live = async (hashes: string[]) => (await store.getBlobs(hashes)).size === hashes.length;
      assert.ok(await live(manifestHashes(v1.manifest)));
      assert.ok(await live(manifestHashes(v2.manifest)));
      assert.ok(await live([testBlob('old').hash]));
      await store.gc('edge', 1);
      assert.deepEqual(await store.versions('edge'), [2]);
      assert.ok(await live(manifestHashes(v2.manifest)));
      assert.ok(!(await live([testBlob('resource 1234').hash])), "the collected version's own blob is swept");
      assert.ok(!(await live([testBlob('old').hash])));
      const reread = await RedisSnapshotStore.connect({ url: redis.url, prefix, log: silentLogger() });
      try {
        assert.deepEqual(await reread.getManifest('edge', 2), v2.manifest, 'its pieces survived gc');
      } finally {
        await reread.close();
      }
      // A stored form whose piece is gone stops gc from sweeping anything.
      let cursor = '0';
      const pieceKeys: string[] = [];
      do {
        const [next, found] = await raw.scan(cursor, 'MATCH', `${prefix}blob:*`, 'COUNT', 1000);
        cursor = next;
        pieceKeys.push(...found);
      } while (cursor !== '0');
      const stored2 = JSON.parse(
        ((await raw.getBuffer(keys.manifest('edge', 2))) as Buffer).toString('utf8'),
      );
      const piece = stored2.types[CLUSTER_TYPE].pieces[0] as string;
      await raw.del(keys.blob(piece));
      await raw.set(keys.blob(testBlob('garbage').hash), 'garbage');
      const blind = await RedisSnapshotStore.connect({ url: redis.url, prefix, log: silentLogger() });
      try {
        await blind.gc('edge', 1);
        assert.ok(await live([testBlob('garbage').hash]), 'nothing is swept while a piece is missing');
        assert.ok(await live([testBlob('resource 0').hash]));
      } finally {
        await blind.close();
      }
    } finally {
      raw.disconnect();
      await Promise.all([store.close(), reader.close()]);
    }
  });

  test('redis snapshot store — a resource of 1 MB stored in chunks: changing one chunk writes kilobytes', async () => {
    const prefix = `faults-${++n}:`;
    const store = await RedisSnapshotStore.connect({ url: redis.url, prefix, log: silentLogger() });
    const raw = new Redis(redis.url);
    try {
      const epoch = await store.acquireEpoch('edge');
      const parts = Array.from({ length: 256 }, (_, i) => `${i}:`.padEnd(4096, 'r'));
      const snapshot = (version: number) => {
        const snap = testSnapshot('edge', version, ['a cluster']);
        const chunks = parts.map(testBlob);
        for (const c of chunks) snap.blobs.set(c.hash, c.bytes);
        const hashes = chunks.map((c) => c.hash);
        snap.manifest.types[ROUTE_TYPE] = typeManifest([
          { name: 'rc', hash: chunkedResourceHash(ROUTE_TYPE, hashes), chunks: hashes },
        ]);
        return snap;
      };
      const v1 = snapshot(1);
      assert.equal((await store.commit({ epoch, ...v1 })).committed, true);
      parts[100] = 'changed'.padEnd(4096, 'x');
      const v2 = snapshot(2);
      const base = { version: 1, hashes: new Set(manifestHashes(v1.manifest)), manifest: v1.manifest };
      const input = async () => Number(/total_net_input_bytes:(\d+)/.exec(await raw.info('stats'))?.[1]);
      const before = await input();
      assert.equal((await store.commit({ epoch, ...v2, base })).committed, true);
      const written = (await input()) - before;
      assert.ok(written < 40_000, `a one-chunk change wrote ${written} bytes`);
      const read = await loadResources(v2.manifest.types[ROUTE_TYPE]?.resources ?? [], (h) =>
        store.getBlobs(h),
      );
      assert.equal(Buffer.from([...read.values()][0] ?? []).toString(), parts.join(''));
    } finally {
      raw.disconnect();
      await store.close();
    }
  });

  test('redis snapshot store — gc after a data loss keeps the blobs of a manifest rewritten under the same key', async () => {
    const prefix = `faults-${++n}:`;
    const store = await RedisSnapshotStore.connect({ url: redis.url, prefix, log: silentLogger() });
    const raw = new Redis(redis.url);
    try {
      let epoch = await store.acquireEpoch('edge');
      await store.commit(testCommit(epoch, 'edge', 1, ['a']));
      await store.commit(testCommit(epoch, 'edge', 2, ['a', 'b']));
      await store.gc('edge', 5);
      await store.commit(testCommit(epoch, 'edge', 3, ['b']));
      await store.gc('edge', 1);
      assert.deepEqual(await store.versions('edge'), [3]);
      const stored = async (what: string) =>
        (await store.getBlobs([testBlob(what).hash])).has(testBlob(what).hash);
      assert.equal(await stored('a'), false, 'a blob only collected manifests referenced is swept');
      assert.equal(await stored('b'), true);
      // Data loss: the same key (edge, version 3) comes back with other content.
      let cursor = '0';
      do {
        const [next, keys] = await raw.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
        cursor = next;
        if (keys.length > 0) await raw.del(...keys);
      } while (cursor !== '0');
      epoch = await store.acquireEpoch('edge');
      await store.commit(testCommit(epoch, 'edge', 3, ['c']));
      await store.gc('edge', 1);
      assert.equal(await stored('c'), true, "the new version 3's blob is live, whatever gc cached before");
    } finally {
      raw.disconnect();
      await store.close();
    }
  });

  test('redis snapshot store — a commit while Redis is down or frozen fails fast with a DependencyError', async () => {
    const store = await open({ commandTimeoutMs: 1_000 });
    try {
      const epoch = await store.acquireEpoch('edge');
      await store.commit(testCommit(epoch, 'edge', 1, ['a']));

      redis.pause();
      let started = Date.now();
      await assert.rejects(store.commit(testCommit(epoch, 'edge', 2, ['b'])), (err: unknown) => {
        assert.ok(err instanceof DependencyError, String(err));
        assert.match(err.message, new RegExp(`127\\.0\\.0\\.1:${redis.port}`));
        return true;
      });
      assert.ok(Date.now() - started < 3_000, `frozen: rejected after ${Date.now() - started} ms`);
      redis.resume();

      await redis.stop('SIGKILL');
      started = Date.now();
      await assert.rejects(store.commit(testCommit(epoch, 'edge', 3, ['c'])), DependencyError);
      assert.ok(Date.now() - started < 3_000, `down: rejected after ${Date.now() - started} ms`);
      await assert.rejects(store.head('edge'), DependencyError);
      await redis.start();
    } finally {
      await store.close();
    }
  });
});

/** Calls per command so far (INFO commandstats), read on a connection of its own. */
async function commandCalls(url: string): Promise<Record<string, number>> {
  const conn = new Redis(url);
  try {
    const info = (await conn.info('commandstats')) as string;
    const out: Record<string, number> = {};
    for (const m of info.matchAll(/^cmdstat_(\w+):calls=(\d+)/gm)) out[m[1] as string] = Number(m[2]);
    return out;
  } finally {
    conn.disconnect();
  }
}

/** A logger that counts the log lines whose message contains `text`. */
function countingLogger(text: string): { log: Logger; count(): number } {
  let n = 0;
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      if (chunk.toString('utf8').includes(text)) n++;
      done();
    },
  });
  return { log: pino({ level: 'warn' }, sink), count: () => n };
}

async function waitFor(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting until ${what}`);
    await sleep(20);
  }
}
