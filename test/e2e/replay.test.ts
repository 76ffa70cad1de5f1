/**
 * Invariant 4 (replay): the same events give byte-identical snapshots.
 *
 * - Two independent pipelines fed the same YAML commit byte-identical manifests and resources.
 * - Against real NATS JetStream and Redis: for every snapshot the compiler committed, `attache
 *   replay --to-seq <version>` rebuilds it from the log alone and finds it identical.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startDevPipeline } from '../../services/cli/dev.ts';
import { silentLogger } from '../../shared/runtime/logger.ts';
import { createRegistry } from '../../shared/runtime/metrics.ts';
import { encodeManifest, manifestHashes } from '../../shared/snapshot/manifest.ts';
import type { SnapshotStore } from '../../shared/snapshot/snapshot-store.ts';
import { startAttache } from '../harness/attache-process.ts';
import { eventually } from '../harness/eventually.ts';
import { freePort } from '../harness/ports.ts';
import { startNats, startRedis, type TestServer } from '../harness/servers.ts';
import { backendsYaml, baseMappingYaml, canaryMappingYaml, writeAtomic } from './canary-scenario.ts';

function configDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'attache-replay-'));
  writeAtomic(path.join(dir, 'backends.yaml'), backendsYaml(9101, 9102));
  writeAtomic(path.join(dir, 'echo.yaml'), baseMappingYaml());
  writeAtomic(path.join(dir, 'echo-canary.yaml'), canaryMappingYaml(30));
  return dir;
}

async function pipeline(dir: string, extra: { natsUrl?: string; redisUrl?: string } = {}) {
  const [xdsPort, adminPort] = await Promise.all([freePort(), freePort()]);
  const redisPrefix = `replay-${xdsPort}:`;
  const p = await startDevPipeline({
    configDirs: [dir],
    cluster: 'replay',
    groups: ['default'],
    bind: '127.0.0.1',
    // Loopback, as `attache dev` defaults to; these tests are not about authentication.
    auth: { allowUnauthenticated: true },
    xdsPort,
    adminPort,
    redisPrefix,
    debounceMs: 20,
    maxDelayMs: 200,
    pollIntervalMs: 200,
    log: silentLogger(),
    registry: createRegistry('test'),
    onFatal: (err) => {
      throw err;
    },
    ...extra,
  });
  return Object.assign(p, { redisPrefix });
}

type Pipeline = Awaited<ReturnType<typeof pipeline>>;

/** Waits until the compiler has committed everything in the log; returns the head version. */
async function settled(p: Pipeline): Promise<number> {
  for (const ing of p.ingestors) await ing.flush();
  return eventually(async () => {
    const last = await p.events.lastSeq();
    await p.compiler.idle();
    const head = await p.store.head('default');
    assert.equal(head, last, 'compiler has committed the last event');
    return last;
  });
}

async function snapshotBytes(store: SnapshotStore, version: number) {
  const manifest = await store.getManifest('default', version);
  assert.ok(manifest);
  const blobs = await store.getBlobs(manifestHashes(manifest));
  return { manifest: Buffer.from(encodeManifest(manifest)), blobs };
}

describe('replay — determinism', () => {
  test('replay — two pipelines fed the same YAML commit byte-identical manifests and resources', async () => {
    const dir = configDir();
    const a = await pipeline(dir);
    const b = await pipeline(dir);
    try {
      const [va, vb] = [await settled(a), await settled(b)];
      assert.equal(va, vb, 'same events, same sequence');
      const [sa, sb] = [await snapshotBytes(a.store, va), await snapshotBytes(b.store, vb)];
      assert.ok(sa.manifest.equals(sb.manifest), 'manifests are byte-identical');
      assert.equal(sa.blobs.size, sb.blobs.size);
      assert.ok(sa.blobs.size >= 6, 'the snapshot has listeners, routes, clusters and endpoints');
      for (const [hash, bytes] of sa.blobs) {
        assert.ok(Buffer.from(bytes).equals(Buffer.from(sb.blobs.get(hash) ?? [])), `blob ${hash} identical`);
      }
    } finally {
      await a.close();
      await b.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('replay — from NATS JetStream, checked against Redis', () => {
  let nats: TestServer;
  let redis: TestServer;
  before(async () => {
    [nats, redis] = await Promise.all([startNats(), startRedis()]);
  });
  after(async () => {
    await Promise.all([nats?.dispose(), redis?.dispose()]);
  });

  test('replay — every committed snapshot is rebuilt byte-identical from the log alone', async (t) => {
    const dir = configDir();
    const p = await pipeline(dir, { natsUrl: nats.url, redisUrl: redis.url });
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'attache-replay-out-'));
    try {
      await settled(p);
      writeAtomic(path.join(dir, 'echo-canary.yaml'), canaryMappingYaml(100));
      await settled(p);
      fs.rmSync(path.join(dir, 'echo-canary.yaml'));
      await settled(p);
      const versions = await p.store.versions('default');
      assert.ok(versions.length >= 3, `expected at least 3 committed versions, got ${versions.join(',')}`);
      for (const v of versions) {
        const proc = startAttache([
          'replay',
          '--nats',
          nats.url,
          '--redis',
          redis.url,
          '--redis-prefix',
          p.redisPrefix,
          '--to-seq',
          String(v),
          '--out',
          path.join(out, String(v)),
        ]);
        const code = await proc.wait();
        assert.equal(code, 0, proc.output());
        assert.match(proc.output(), /identical to the committed manifest/);
      }
      t.diagnostic(`replayed versions ${versions.join(', ')}: all identical`);
      // The rebuilt files describe the snapshot: the last one has no canary cluster any more.
      const clusters = fs.readFileSync(path.join(out, String(versions.at(-1)), 'clusters.json'), 'utf8');
      assert.doesNotMatch(clusters, /echo_canary/);
      assert.match(clusters, /echo_stable/);
    } finally {
      await p.close();
      fs.rmSync(dir, { recursive: true, force: true });
      fs.rmSync(out, { recursive: true, force: true });
    }
  });
});
