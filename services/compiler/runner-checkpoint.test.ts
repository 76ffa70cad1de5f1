/**
 * Compiler checkpoints against real NATS JetStream and Redis:
 * - a compiler restarted on a log it checkpointed loads the newest checkpoint, folds only the tail
 *   after it, and commits output byte-identical (manifest and every blob) to a compiler that folded
 *   the whole log from zero; Secret material in the checkpoint is sealed;
 * - a corrupt newest checkpoint is a warning and the next older one is used; with every checkpoint
 *   corrupt, or none, the whole log is folded (warning), and the output is still identical.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { EventEnvelope, SourceObject } from '../../shared/events/envelope.ts';
import type { EventLog } from '../../shared/events/event-log.ts';
import { JetStreamEventLog } from '../../shared/events/jetstream-event-log.ts';
import { SecretSealingEventLog } from '../../shared/events/sealed-secrets.ts';
import type { Logger } from '../../shared/runtime/logger.ts';
import { silentLogger } from '../../shared/runtime/logger.ts';
import { createRegistry } from '../../shared/runtime/metrics.ts';
import { KeyRing } from '../../shared/runtime/secret-keys.ts';
import type { CheckpointStore } from '../../shared/snapshot/checkpoint-store.ts';
import { encodeManifest, manifestHashes } from '../../shared/snapshot/manifest.ts';
import { RedisSnapshotStore } from '../../shared/snapshot/redis-snapshot-store.ts';
import { captureLogs } from '../../test/harness/capture-logs.ts';
import { startNats, startRedis, type TestServer } from '../../test/harness/servers.ts';
import { CompilerRunner } from './runner.ts';
import type { CheckpointPolicy } from './runner-checkpoint.ts';

const TLS_KEY = `-----BEGIN PRIVATE KEY-----\n${randomBytes(48).toString('base64')}\n-----END PRIVATE KEY-----\n`;
let rv = 0;
function upsert(object: SourceObject, extra: Partial<EventEnvelope> = {}): EventEnvelope {
  return {
    v: 1,
    cluster: 'c1',
    kind: object.kind,
    namespace: object.metadata.namespace ?? '',
    name: object.metadata.name,
    op: 'upsert',
    resourceVersion: String(++rv),
    generation: 0,
    observedAt: '',
    ingestor: 'test',
    object,
    ...extra,
  };
}
function remove(kind: string, name: string): EventEnvelope {
  return {
    ...upsert({ apiVersion: '', kind, metadata: { name, namespace: 'ns' } }),
    op: 'delete',
    object: undefined,
  };
}
const service = (s: number): SourceObject => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name: `svc-${s}`, namespace: 'ns' },
  spec: { ports: [{ name: 'http', port: 80, protocol: 'TCP' }] },
});
const slice = (s: number, n: number): SourceObject => ({
  apiVersion: 'discovery.k8s.io/v1',
  kind: 'EndpointSlice',
  metadata: { name: `svc-${s}-0`, namespace: 'ns', labels: { 'kubernetes.io/service-name': `svc-${s}` } },
  addressType: 'IPv4',
  ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
  endpoints: Array.from({ length: n }, (_, i) => ({ addresses: [`10.${s}.0.${i + 1}`] })),
});
const mapping = (s: number, weight?: number): SourceObject => ({
  apiVersion: 'getambassador.io/v3alpha1',
  kind: 'Mapping',
  metadata: { name: `m-${s}`, namespace: 'ns', labels: { team: `t${s % 3}` } },
  spec: {
    hostname: '*',
    prefix: `/s${s}/`,
    service: `svc-${s}`,
    ...(weight ? { weight } : {}),
    timeout_ms: 1000 + s,
  },
});
const secret: SourceObject = {
  apiVersion: 'v1',
  kind: 'Secret',
  metadata: { name: 'tls', namespace: 'ns' },
  type: 'kubernetes.io/tls',
  data: {
    'tls.crt': Buffer.from('not a real certificate').toString('base64'),
    'tls.key': Buffer.from(TLS_KEY).toString('base64'),
  },
};

/** A log of creates, updates, deletes and a relist, long enough for several checkpoints. */
function history(from: number, to: number): EventEnvelope[] {
  const out: EventEnvelope[] = [];
  for (let i = from; i < to; i++) {
    const s = i % 12;
    if (i % 29 === 0) out.push(remove('Mapping', `m-${s}`));
    else if (i % 5 === 0) out.push(upsert(slice(s, 1 + (i % 4))));
    else if (i % 7 === 0) out.push(upsert(service(s)));
    else if (i === from + 3) out.push(upsert(secret, { relist: true }));
    else if (i === from + 9)
      out.push({
        ...upsert({ apiVersion: '', kind: '', metadata: { name: '' } }),
        kind: '',
        name: '',
        namespace: '',
        op: 'resync',
        object: undefined,
      });
    else out.push(upsert(mapping(s, i % 3 === 0 ? 50 : undefined)));
  }
  return out;
}

describe('compiler checkpoints', () => {
  let nats: TestServer;
  let redis: TestServer;
  before(async () => {
    [nats, redis] = await Promise.all([startNats(), startRedis()]);
  });
  after(async () => {
    await Promise.all([nats?.stop(), redis?.stop()]);
  });

  const keys = new KeyRing([{ id: 'k1', key: randomBytes(32) }]);
  let prefixes = 0;

  async function compileOnce(
    events: EventLog,
    opts: { checkpoints?: CheckpointStore; policy?: CheckpointPolicy; log?: Logger; prefix?: string },
  ) {
    const store = await RedisSnapshotStore.connect({
      url: redis.url,
      log: silentLogger(),
      prefix: opts.prefix ?? `ckpt-run-${++prefixes}:`,
    });
    const runner = new CompilerRunner({
      events,
      store,
      groups: ['default'],
      log: opts.log ?? silentLogger(),
      registry: createRegistry('compiler'),
      debounceMs: 5,
      maxDelayMs: 50,
      retention: 100,
      secretKeys: keys,
      onFatal: (err) => assert.fail(String(err)),
      ...(opts.checkpoints
        ? {
            checkpoints: {
              store: opts.checkpoints,
              policy: opts.policy ?? { everyEvents: 100, everyMs: 0, keep: 3 },
              plaintext: 'refuse' as const,
            },
          }
        : {}),
    });
    await runner.start();
    await runner.idle();
    const head = await store.head('default');
    assert.ok(head !== null);
    const manifest = await store.getManifest('default', head);
    assert.ok(manifest);
    const blobs = await store.getBlobs(manifestHashes(manifest));
    await runner.close();
    await store.close();
    return { head, manifest: Buffer.from(encodeManifest(manifest)), blobs };
  }

  function assertIdentical(a: Awaited<ReturnType<typeof compileOnce>>, b: typeof a, what: string) {
    assert.equal(a.head, b.head, `${what}: same version`);
    assert.ok(a.manifest.equals(b.manifest), `${what}: manifests byte-identical`);
    assert.equal(a.blobs.size, b.blobs.size);
    for (const [h, bytes] of a.blobs) assert.deepEqual(b.blobs.get(h), bytes, `${what}: blob ${h}`);
  }

  test('checkpoints — a restart folds only the tail after the newest checkpoint, byte-identical to folding from zero; a corrupt one falls back', async () => {
    const raw = await JetStreamEventLog.connect({ url: nats.url, log: silentLogger() });
    const events = new SecretSealingEventLog(raw, { keys, plaintext: 'refuse', log: silentLogger() });
    const ckStore = await RedisSnapshotStore.connect({
      url: redis.url,
      log: silentLogger(),
      prefix: 'ckpt-shared:',
    });
    const checkpoints = ckStore.checkpoints();
    try {
      for (const e of history(0, 450)) await events.publish(e);
      // The first compiler folds everything and checkpoints (every 100 events, 3 kept).
      const first = await compileOnce(events, { checkpoints, prefix: 'ckpt-first:' });
      assert.deepEqual(
        await checkpoints.list(),
        [450],
        'a compiler that folded 450 events checkpoints at once',
      );
      for (const e of history(450, 700)) await events.publish(e);
      await compileOnce(events, { checkpoints, prefix: 'ckpt-first:' });
      const stored = await checkpoints.list();
      assert.equal(stored.at(-1), 700);
      // Sealed at rest: the TLS key appears nowhere in a checkpoint.
      const newest = Buffer.from((await checkpoints.get(700)) ?? []);
      assert.ok(newest.length > 0);
      for (const needle of [TLS_KEY, Buffer.from(TLS_KEY).toString('base64'), 'PRIVATE KEY'])
        assert.equal(newest.indexOf(needle), -1, 'no key material in the checkpoint');
      assert.notEqual(first.head, 700);

      // A tail after the newest checkpoint, then: restarted from the checkpoint vs from zero.
      for (const e of history(700, 712)) await events.publish(e);
      const capture = captureLogs('info');
      const fromCheckpoint = await compileOnce(events, {
        checkpoints,
        log: capture.log,
        policy: { everyEvents: 1000, everyMs: 0, keep: 3 },
      });
      const caughtUp = capture.lines().find((l) => l.msg === 'compiler caught up with the log');
      assert.equal(caughtUp?.fromCheckpoint, 700, 'started from the checkpoint at 700');
      assert.equal(caughtUp?.eventsFolded, 12, 'folded only the 12-event tail');
      const fromZero = await compileOnce(events, {});
      assertIdentical(fromCheckpoint, fromZero, 'checkpoint + tail vs zero');

      // The newest checkpoint corrupted: a warning, the next older one is used, same output.
      const older = stored.at(-2);
      assert.ok(older !== undefined);
      const mid = Math.floor(newest.length / 2);
      newest[mid] = (newest[mid] ?? 0) ^ 0xff;
      await checkpoints.put(700, newest, 3);
      const corrupt = captureLogs('info');
      const fromOlder = await compileOnce(events, {
        checkpoints,
        log: corrupt.log,
        policy: { everyEvents: 1000, everyMs: 0, keep: 3 },
      });
      const warned = corrupt
        .lines()
        .filter((l) => l.level === 40)
        .map((l) => String(l.msg));
      assert.ok(
        warned.some((m) => /checkpoint at sequence 700 not used: .*checksum/.test(m)),
        warned.join('\n'),
      );
      const used = corrupt.lines().find((l) => l.msg === 'compiler caught up with the log');
      assert.equal(used?.fromCheckpoint, older);
      assertIdentical(fromOlder, fromZero, 'older checkpoint + tail vs zero');

      // Every checkpoint unusable (garbage bytes): the whole log, with a warning.
      for (const seq of await checkpoints.list()) await checkpoints.put(seq, Buffer.from('garbage'), 3);
      const none = captureLogs('info');
      const fromLog = await compileOnce(events, {
        checkpoints,
        log: none.log,
        policy: { everyEvents: 1000, everyMs: 0, keep: 3 },
      });
      assert.ok(
        none
          .lines()
          .some(
            (l) => l.level === 40 && l.msg === 'no usable compiler checkpoint: folding the whole event log',
          ),
      );
      assert.equal(
        none.lines().find((l) => l.msg === 'compiler caught up with the log')?.fromCheckpoint,
        null,
      );
      assertIdentical(fromLog, fromZero, 'fallback to the log vs zero');
    } finally {
      await ckStore.close();
      await events.close();
    }
  });
});
