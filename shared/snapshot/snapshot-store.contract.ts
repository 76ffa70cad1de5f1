/**
 * Contract suite for the {@link SnapshotStore} port. Every implementation registers it from its
 * test file; `open` must return an empty store of its own (a fresh key prefix for Redis), and
 * `cleanup` must close it and release whatever it holds.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { sha256Hex } from '../xds/encoding.ts';
import { CLUSTER_TYPE, LISTENER_TYPE, ROUTE_TYPE } from '../xds/type-urls.ts';
import {
  MANIFEST_SCHEMA,
  type Manifest,
  type ManifestEntry,
  manifestHashes,
  typeManifest,
} from './manifest.ts';
import { chunkedResourceHash, loadResources } from './resource-chunks.ts';
import type { CommitRequest, SnapshotLogEntry, SnapshotStore } from './snapshot-store.ts';

export interface OpenedStore {
  store: SnapshotStore;
  cleanup(): Promise<void>;
}

/** A blob and its content address. */
export interface TestBlob {
  hash: string;
  bytes: Uint8Array;
}

export function testBlob(content: string | Uint8Array): TestBlob {
  const bytes = typeof content === 'string' ? Buffer.from(content, 'utf8') : content;
  return { hash: sha256Hex(bytes), bytes };
}

/**
 * A snapshot of `group` at `version`: one cluster per blob (named `c0`, `c1`, …) and a diagnostics
 * blob of its own. Returns the manifest and every blob it references.
 */
export function testSnapshot(
  group: string,
  version: number,
  contents: readonly (string | Uint8Array)[],
): { manifest: Manifest; blobs: Map<string, Uint8Array> } {
  const blobs = contents.map(testBlob);
  const diagnostics = testBlob(`diagnostics of ${group} at ${version}`);
  const entries: ManifestEntry[] = blobs.map((b, i) => ({ name: `c${i}`, hash: b.hash }));
  const manifest: Manifest = {
    schema: MANIFEST_SCHEMA,
    group,
    version,
    types: { [CLUSTER_TYPE]: typeManifest(entries), [LISTENER_TYPE]: typeManifest([]) },
    diagnostics: diagnostics.hash,
  };
  return {
    manifest,
    blobs: new Map([...blobs, diagnostics].map((b) => [b.hash, b.bytes] as const)),
  };
}

/** A commit request for {@link testSnapshot}. */
export function testCommit(
  epoch: number,
  group: string,
  version: number,
  contents: readonly (string | Uint8Array)[],
): CommitRequest {
  return { epoch, ...testSnapshot(group, version, contents) };
}

/** Reads `count` tail entries, then aborts the tail; fails if they do not arrive within `timeoutMs`. */
export async function readTail(
  store: SnapshotStore,
  count: number,
  opts: { after?: string; timeoutMs?: number } = {},
): Promise<SnapshotLogEntry[]> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), opts.timeoutMs ?? 5_000);
  const out: SnapshotLogEntry[] = [];
  try {
    for await (const e of store.tail({
      ...(opts.after !== undefined && { after: opts.after }),
      signal: ac.signal,
    })) {
      out.push(e);
      if (out.length >= count) break;
    }
  } finally {
    clearTimeout(timer);
    ac.abort();
  }
  assert.equal(out.length, count, `expected ${count} tail entries, got ${JSON.stringify(out)}`);
  return out;
}

function summary(entries: readonly SnapshotLogEntry[]): string[] {
  return entries.map((e) => `${e.group}@${e.version}`);
}

export function snapshotStoreContract(name: string, open: () => Promise<OpenedStore>): void {
  const withStore = (fn: (store: SnapshotStore) => Promise<void>) => async () => {
    const { store, cleanup } = await open();
    try {
      await fn(store);
    } finally {
      await cleanup();
    }
  };

  test(
    `${name} snapshot store — first commit moves the head and lists the group and version`,
    withStore(async (store) => {
      assert.equal(await store.head('edge'), null);
      const epoch = await store.acquireEpoch('edge');
      assert.ok(epoch >= 1);
      assert.deepEqual(await store.groups(), [], 'acquiring an epoch does not list a group');
      const res = await store.commit(testCommit(epoch, 'edge', 10, ['a', 'b']));
      assert.deepEqual(res, { committed: true, version: 10 });
      assert.equal(await store.head('edge'), 10);
      assert.deepEqual(await store.versions('edge'), [10]);
      assert.deepEqual(await store.groups(), ['edge']);
    }),
  );

  test(
    `${name} snapshot store — a version at or below the head is refused as stale`,
    withStore(async (store) => {
      const epoch = await store.acquireEpoch('edge');
      await store.commit(testCommit(epoch, 'edge', 10, ['a']));
      assert.deepEqual(await store.commit(testCommit(epoch, 'edge', 10, ['b'])), {
        committed: false,
        reason: 'stale',
        head: 10,
      });
      assert.deepEqual(await store.commit(testCommit(epoch, 'edge', 9, ['c'])), {
        committed: false,
        reason: 'stale',
        head: 10,
      });
      assert.equal(await store.head('edge'), 10);
      assert.deepEqual(await store.versions('edge'), [10]);
      assert.equal(
        (await store.getManifest('edge', 10))?.types[CLUSTER_TYPE]?.resources[0]?.hash,
        testBlob('a').hash,
      );
    }),
  );

  test(
    `${name} snapshot store — a superseded epoch is fenced and cannot move the head`,
    withStore(async (store) => {
      const e1 = await store.acquireEpoch('edge');
      assert.equal((await store.commit(testCommit(e1, 'edge', 1, ['a']))).committed, true);
      const e2 = await store.acquireEpoch('edge');
      assert.ok(e2 > e1, 'epochs increase');
      assert.deepEqual(await store.commit(testCommit(e1, 'edge', 2, ['b'])), {
        committed: false,
        reason: 'fenced',
        head: 1,
      });
      assert.equal(await store.head('edge'), 1);
      assert.equal(await store.getManifest('edge', 2), null);
      assert.deepEqual(await store.commit(testCommit(e2, 'edge', 3, ['c'])), { committed: true, version: 3 });
      assert.equal((await store.commit(testCommit(e1, 'edge', 4, ['d']))).committed, false);
      assert.equal(await store.head('edge'), 3);
      assert.equal(await store.currentEpoch('edge'), e2, 'the current epoch is the newest taken');
      assert.equal(await store.currentEpoch('other'), 0, 'no epoch taken reads as 0');
      assert.equal(await store.acquireEpoch('other'), 1, 'epochs are per group');
      assert.equal(await store.acquireEpoch('other', 7), 8, 'a new epoch exceeds the floor given');
      assert.equal(await store.acquireEpoch('other', 2), 9, 'and any epoch before');
    }),
  );

  test(
    `${name} snapshot store — blobs round-trip byte-exact, including NUL bytes and 1 MB`,
    withStore(async (store) => {
      const nul = Uint8Array.from([0x00, 0xff, 0x00, 0x80, 0x0a, 0x00]);
      const big = randomBytes(1024 * 1024);
      const empty = new Uint8Array(0);
      const req = testCommit(await store.acquireEpoch('edge'), 'edge', 1, [nul, big, empty, 'text ü']);
      await store.commit(req);
      const hashes = [...req.blobs.keys()];
      const got = await store.getBlobs([...hashes, sha256Hex('never stored')]);
      assert.equal(got.size, hashes.length, 'absent hashes are absent from the result');
      for (const [hash, bytes] of req.blobs) {
        const b = got.get(hash);
        assert.ok(b, `blob ${hash} present`);
        assert.ok(Buffer.from(bytes).equals(Buffer.from(b)), `blob ${hash} byte-exact`);
      }
      assert.equal(got.get(testBlob(big).hash)?.byteLength, 1024 * 1024);
    }),
  );

  test(
    `${name} snapshot store — a stored manifest reads back equal to the committed one`,
    withStore(async (store) => {
      const group = 'weird {group}:*/ü%';
      const req = testCommit(await store.acquireEpoch(group), group, 42, ['a', 'b', 'c']);
      const lds = typeManifest([
        { name: 'grpc-api', hash: testBlob('a').hash, onDemand: true },
        { name: 'http-8080', hash: testBlob('b').hash },
      ]);
      req.manifest.types[LISTENER_TYPE] = lds;
      await store.commit(req);
      assert.deepEqual(await store.getManifest(group, 42), req.manifest);
      assert.equal(await store.getManifest(group, 41), null);
      assert.equal(await store.getManifest('no such group', 42), null);
      assert.deepEqual(await store.groups(), [group]);
    }),
  );

  test(
    `${name} snapshot store — tail replays the log from the start and from a position`,
    withStore(async (store) => {
      const ea = await store.acquireEpoch('a');
      const eb = await store.acquireEpoch('b');
      await store.commit(testCommit(ea, 'a', 1, ['x']));
      await store.commit(testCommit(eb, 'b', 5, ['y']));
      await store.commit(testCommit(ea, 'a', 2, ['z']));
      await store.commit(testCommit(ea, 'a', 2, ['stale, not logged']));
      const all = await readTail(store, 3);
      assert.deepEqual(summary(all), ['a@1', 'b@5', 'a@2']);
      assert.equal(new Set(all.map((e) => e.id)).size, 3, 'ids are distinct');
      const rest = await readTail(store, 2, { after: all[0]?.id as string });
      assert.deepEqual(rest, all.slice(1));
      const last = await readTail(store, 1, { after: all[1]?.id as string });
      assert.deepEqual(last, all.slice(2));
    }),
  );

  test(
    `${name} snapshot store — logPosition lets a reader tail only commits made after it`,
    withStore(async (store) => {
      assert.equal(await store.logPosition(), undefined, 'empty log has no position');
      const epoch = await store.acquireEpoch('pos');
      await store.commit(testCommit(epoch, 'pos', 1, ['x']));
      await store.commit(testCommit(epoch, 'pos', 2, ['y']));
      const position = await store.logPosition();
      assert.ok(position !== undefined, 'a non-empty log has a position');
      const [, second] = await readTail(store, 2);
      assert.equal(position, second?.id, 'the position is the newest entry');
      await store.commit(testCommit(epoch, 'pos', 3, ['z']));
      assert.deepEqual(summary(await readTail(store, 1, { after: position })), ['pos@3']);
    }),
  );

  test(
    `${name} snapshot store — tail delivers commits made while it waits`,
    withStore(async (store) => {
      const epoch = await store.acquireEpoch('edge');
      await store.commit(testCommit(epoch, 'edge', 1, ['x']));
      const [first] = await readTail(store, 1);
      const pending = readTail(store, 2, { after: first?.id as string });
      await new Promise((r) => setTimeout(r, 100));
      await store.commit(testCommit(epoch, 'edge', 2, ['y']));
      await store.commit(testCommit(epoch, 'edge', 3, ['z']));
      assert.deepEqual(summary(await pending), ['edge@2', 'edge@3']);
    }),
  );

  test(
    `${name} snapshot store — tail returns promptly when its signal aborts`,
    withStore(async (store) => {
      const ac = new AbortController();
      const seen: SnapshotLogEntry[] = [];
      const done = (async () => {
        for await (const e of store.tail({ signal: ac.signal })) seen.push(e);
      })();
      await new Promise((r) => setTimeout(r, 200));
      const aborted = Date.now();
      ac.abort();
      await done;
      const took = Date.now() - aborted;
      assert.ok(took < 1_000, `tail ended ${took} ms after abort`);
      assert.deepEqual(seen, []);
      const already = AbortSignal.abort();
      for await (const e of store.tail({ signal: already })) assert.fail(`aborted tail yielded ${e.id}`);
    }),
  );

  test(
    `${name} snapshot store — gc keeps the head and the newest versions and sweeps unreferenced blobs`,
    withStore(async (store) => {
      const eg = await store.acquireEpoch('g');
      const eh = await store.acquireEpoch('h');
      for (let v = 1; v <= 5; v++)
        await store.commit(testCommit(eg, 'g', v, [`only-g-${v}`, 'shared-by-all']));
      // Group h references a blob that only g's oldest version references otherwise.
      await store.commit(testCommit(eh, 'h', 1, ['only-g-1']));
      // A fenced commit's blobs are referenced by no manifest.
      await store.commit(testCommit(eg - 1, 'g', 6, ['orphan']));

      assert.equal(await store.gc('g', 2), 3);
      assert.deepEqual(await store.versions('g'), [4, 5]);
      assert.equal(await store.head('g'), 5);
      assert.equal(await store.getManifest('g', 1), null);
      assert.ok(await store.getManifest('g', 4));
      const hashes = (names: string[]) => names.map((n) => testBlob(n).hash);
      const kept = await store.getBlobs(
        hashes([
          'only-g-4',
          'only-g-5',
          'shared-by-all',
          'only-g-1',
          'diagnostics of g at 5',
          'diagnostics of h at 1',
        ]),
      );
      assert.equal(kept.size, 6, 'blobs of kept manifests and of other groups survive');
      const swept = await store.getBlobs(hashes(['only-g-2', 'only-g-3', 'diagnostics of g at 1', 'orphan']));
      assert.deepEqual([...swept.keys()], [], 'unreferenced blobs are deleted');

      assert.equal(await store.gc('g', 0), 1, 'keep 0 still keeps the head');
      assert.deepEqual(await store.versions('g'), [5]);
      assert.equal(await store.head('g'), 5);
      assert.equal(await store.gc('g', 3), 0);
      assert.deepEqual(await store.versions('h'), [1]);
    }),
  );

  test(
    `${name} snapshot store — resources stored in chunks: commits check the chunks, readers assemble them, gc keeps only the chunks retained manifests list`,
    withStore(async (store) => {
      const epoch = await store.acquireEpoch('g');
      /** A snapshot whose route configuration `rc` is stored in the chunks `parts`. */
      const chunked = (version: number, parts: string[]) => {
        const snap = testSnapshot('g', version, [`cluster at ${version}`]);
        const chunks = parts.map(testBlob);
        for (const c of chunks) snap.blobs.set(c.hash, c.bytes);
        const entry: ManifestEntry = {
          name: 'rc',
          hash: chunkedResourceHash(
            ROUTE_TYPE,
            chunks.map((c) => c.hash),
          ),
          chunks: chunks.map((c) => c.hash),
        };
        snap.manifest.types[ROUTE_TYPE] = typeManifest([entry]);
        return snap;
      };
      const v1 = chunked(1, ['head-1', 'routes-a', 'routes-b', 'routes-c']);
      assert.deepEqual(await store.commit({ epoch, ...v1 }), { committed: true, version: 1 });
      assert.deepEqual(await store.getManifest('g', 1), v1.manifest, 'the chunk list reads back');
      const entries = (m: Manifest) => m.types[ROUTE_TYPE]?.resources ?? [];
      const read = await loadResources(entries(v1.manifest), (h) => store.getBlobs(h));
      assert.equal(
        Buffer.from(read.get(entries(v1.manifest)[0]?.hash as string) ?? []).toString(),
        'head-1routes-aroutes-broutes-c',
      );

      // A commit on top of v1 that changed two chunks: given only those, it commits.
      const v2 = chunked(2, ['head-2', 'routes-a', 'routes-B', 'routes-c']);
      const base = { version: 1, hashes: new Set(manifestHashes(v1.manifest)), manifest: v1.manifest };
      const only = new Map([...v2.blobs].filter(([h]) => !base.hashes.has(h)));
      assert.equal(only.size, 4, 'two chunks, a cluster and the diagnostics');
      assert.deepEqual(await store.commit({ epoch, ...v2, blobs: only, base }), {
        committed: true,
        version: 2,
      });
      // A chunk neither given nor stored: refused, with or without a base.
      const v3 = chunked(3, ['head-3', 'routes-a', 'never given', 'routes-c']);
      v3.blobs.delete(testBlob('never given').hash);
      await assert.rejects(store.commit({ epoch, ...v3 }));
      const base2 = { version: 2, hashes: new Set(manifestHashes(v2.manifest)), manifest: v2.manifest };
      await assert.rejects(store.commit({ epoch, ...v3, base: base2 }));
      assert.equal(await store.head('g'), 2);

      await store.gc('g', 1);
      const chunk = async (c: string) => (await store.getBlobs([testBlob(c).hash])).size === 1;
      assert.equal(await chunk('head-2'), true);
      assert.equal(await chunk('routes-B'), true);
      assert.equal(await chunk('routes-a'), true, 'a chunk the retained version shares survives');
      assert.equal(await chunk('head-1'), false, 'a chunk only a dropped version listed is swept');
      assert.equal(await chunk('routes-b'), false);
      const after = await loadResources(entries(v2.manifest), (h) => store.getBlobs(h));
      assert.equal(
        Buffer.from(after.get(entries(v2.manifest)[0]?.hash as string) ?? []).toString(),
        'head-2routes-aroutes-Broutes-c',
      );
    }),
  );

  test(
    `${name} snapshot store — groups and versions are listed sorted`,
    withStore(async (store) => {
      for (const g of ['zeta', 'alpha', 'mid group']) {
        const e = await store.acquireEpoch(g);
        for (const v of [3, 20, 100]) await store.commit(testCommit(e, g, v, [`${g}-${v}`]));
      }
      await store.acquireEpoch('never committed');
      assert.deepEqual(await store.groups(), ['alpha', 'mid group', 'zeta']);
      // Names an escaping scheme could confuse stay separate groups.
      const lookalikes = ['a:b', 'a%3Ab', 'a}:b', '{a:b}'];
      for (const [i, g] of lookalikes.entries())
        await store.commit(testCommit(await store.acquireEpoch(g), g, i + 1, [g]));
      for (const [i, g] of lookalikes.entries()) {
        assert.equal(await store.head(g), i + 1, `head of ${g}`);
        assert.deepEqual(await store.versions(g), [i + 1]);
      }
      assert.deepEqual(await store.groups(), [...lookalikes, 'alpha', 'mid group', 'zeta'].sort());
      assert.deepEqual(await store.versions('zeta'), [3, 20, 100]);
      assert.deepEqual(await store.versions('never committed'), []);
      assert.deepEqual(await store.versions('unknown'), []);
    }),
  );

  test(
    `${name} snapshot store — a commit referencing a blob neither provided nor stored is rejected`,
    withStore(async (store) => {
      const epoch = await store.acquireEpoch('edge');
      await store.commit(testCommit(epoch, 'edge', 1, ['a']));
      const req = testCommit(epoch, 'edge', 2, ['a', 'b']);
      const withoutB = new Map(req.blobs);
      withoutB.delete(testBlob('b').hash);
      await assert.rejects(store.commit({ ...req, blobs: withoutB }), /blobs/);
      assert.equal(await store.head('edge'), 1);
      assert.deepEqual(await store.versions('edge'), [1]);
      assert.deepEqual(await store.commit(req), { committed: true, version: 2 });
    }),
  );

  test(
    `${name} snapshot store — a commit record is stored beside its version and collected with it`,
    withStore(async (store) => {
      const epoch = await store.acquireEpoch('edge');
      const record = (version: number, fromSeq: number) => ({
        group: 'edge',
        version,
        fromSeq,
        epoch,
        compileMs: 1.5,
        committedAt: '2026-01-01T00:00:00.000Z',
        errors: 1,
        warnings: 0,
      });
      await store.commit({ ...testCommit(epoch, 'edge', 3, ['a']), record: record(3, 1) });
      await store.commit({ ...testCommit(epoch, 'edge', 7, ['b']), record: record(7, 4) });
      await store.commit(testCommit(epoch, 'edge', 9, ['c']));
      assert.deepEqual(await store.getCommitRecord('edge', 7), record(7, 4));
      assert.equal(await store.getCommitRecord('edge', 9), null, 'a commit without a record has none');
      // A refused commit stores no record.
      await store.commit({ ...testCommit(epoch, 'edge', 8, ['d']), record: record(8, 8) });
      assert.equal(await store.getCommitRecord('edge', 8), null);
      await store.gc('edge', 2);
      assert.equal(await store.getCommitRecord('edge', 3), null, 'collected with its manifest');
      assert.deepEqual(await store.getCommitRecord('edge', 7), record(7, 4));
    }),
  );
}
