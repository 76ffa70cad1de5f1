/**
 * The runner's endpoint fast path against real NATS JetStream and Redis: EndpointSlice updates
 * commit through the fast path (its counter moves) a version that differs from the one before
 * only in EDS (every other type, the diagnostics and the provenance unchanged), every committed snapshot — fast path or not —
 * is byte-identical to a full compile of the log up to its version (manifest and every blob), and
 * any other change (a new slice, a Mapping) goes back to a full compile.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { EventEnvelope, SourceObject } from '../../shared/events/envelope.ts';
import { JetStreamEventLog } from '../../shared/events/jetstream-event-log.ts';
import { createLogger, silentLogger } from '../../shared/runtime/logger.ts';
import { createRegistry } from '../../shared/runtime/metrics.ts';
import { encodeManifest, manifestHashes } from '../../shared/snapshot/manifest.ts';
import { RedisSnapshotStore } from '../../shared/snapshot/redis-snapshot-store.ts';
import { ENDPOINT_TYPE } from '../../shared/xds/type-urls.ts';
import { eventually } from '../../test/harness/eventually.ts';
import { startNats, startRedis, type TestServer } from '../../test/harness/servers.ts';
import { compile } from './compile.ts';
import { CompilerRunner } from './runner.ts';
import { buildSnapshot } from './runner-snapshot.ts';
import { WorldState } from './runner-world.ts';

let version = 0;

/** An upsert event; every one gets a new resourceVersion (the log deduplicates repeats). */
function envelope(object: SourceObject): EventEnvelope {
  return {
    v: 1,
    cluster: 'c1',
    kind: object.kind,
    namespace: object.metadata.namespace ?? '',
    name: object.metadata.name,
    op: 'upsert',
    resourceVersion: String(++version),
    generation: 0,
    observedAt: '',
    ingestor: 'test',
    object,
  };
}

const service = (s: number): SourceObject => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name: `svc-${s}`, namespace: 'ns' },
  spec: { ports: [{ name: 'http', port: 80, protocol: 'TCP' }] },
});
const slice = (s: number, ips: string[], idx = 0): SourceObject => ({
  apiVersion: 'discovery.k8s.io/v1',
  kind: 'EndpointSlice',
  metadata: {
    name: `svc-${s}-${idx}`,
    namespace: 'ns',
    labels: { 'kubernetes.io/service-name': `svc-${s}` },
  },
  addressType: 'IPv4',
  ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
  endpoints: ips.map((ip) => ({ addresses: [ip] })),
});
const mapping = (s: number, timeout = 0): SourceObject => ({
  apiVersion: 'getambassador.io/v3alpha1',
  kind: 'Mapping',
  metadata: { name: `m-${s}`, namespace: 'ns' },
  spec: {
    hostname: '*',
    prefix: `/s${s}/`,
    service: `svc-${s}`,
    ...(timeout ? { timeout_ms: timeout } : {}),
  },
});

describe('compiler runner endpoint fast path', () => {
  let nats: TestServer;
  let redis: TestServer;
  before(async () => {
    [nats, redis] = await Promise.all([startNats(), startRedis()]);
  });
  after(async () => {
    await Promise.all([nats?.stop(), redis?.stop()]);
  });

  test('runner fast path — endpoint updates take it, and every commit equals a full compile of the log', async () => {
    const log = silentLogger();
    const events = await JetStreamEventLog.connect({ url: nats.url, log });
    const store = await RedisSnapshotStore.connect({ url: redis.url, log, prefix: 'fastpath:' });
    const registry = createRegistry('compiler');
    const runner = new CompilerRunner({
      events,
      store,
      groups: ['default'],
      log,
      registry,
      debounceMs: 5,
      maxDelayMs: 50,
      retention: 100,
      onFatal: (err) => assert.fail(String(err)),
    });
    const fastPathCount = async () =>
      (await registry.getSingleMetric('attache_compiler_endpoint_fast_path_total')?.get())?.values.reduce(
        (a, v) => a + v.value,
        0,
      ) ?? 0;
    try {
      for (let s = 0; s < 3; s++) {
        await events.publish(envelope(service(s)));
        await events.publish(envelope(slice(s, [`10.0.${s}.1`])));
        await events.publish(envelope(mapping(s)));
      }
      await runner.start();
      const steps: [SourceObject, boolean][] = [
        [slice(0, ['10.0.0.1', '10.0.0.2']), true],
        [slice(1, []), true],
        [slice(2, ['10.0.2.9', 'not-an-ip']), false], // a diagnostic appears: full compile
        [slice(2, ['10.0.2.9']), false], // and disappears: full compile again
        [slice(1, ['10.0.1.7']), true],
        [slice(1, ['10.0.1.8'], 1), false], // a new slice
        [mapping(0, 3000), false],
        [slice(0, ['10.0.0.3']), true],
      ];
      let expected = 0;
      for (const [object, fast] of steps) {
        const base = await store.getManifest('default', (await store.head('default')) ?? 0);
        const ack = await events.publish(envelope(object));
        await eventually(async () => assert.ok(((await store.head('default')) ?? 0) >= ack.seq), {
          timeoutMs: 20_000,
        });
        await runner.idle(); // the commit is in Redis; let the runner finish its bookkeeping
        if (fast) expected++;
        const where = `after ${object.kind} ${object.metadata.name}`;
        assert.equal(await fastPathCount(), expected, where);
        if (!fast) continue;
        // The committed version differs from the one before only in EDS hashes.
        const next = await store.getManifest('default', ack.seq);
        assert.ok(base && next, where);
        assert.notEqual(next.types[ENDPOINT_TYPE]?.version, base.types[ENDPOINT_TYPE]?.version, where);
        const rest = (m: typeof base) => ({
          ...m,
          version: 0,
          types: { ...m.types, [ENDPOINT_TYPE]: undefined },
        });
        assert.deepEqual(rest(next), rest(base), `${where}: only EDS changed`);
      }

      // Every committed version equals a full compile of the log up to it.
      const versions = await store.versions('default');
      assert.ok(versions.length >= steps.length);
      for (const version of versions) {
        const world = new WorldState();
        for await (const e of events.read({ fromSeq: 1, toSeq: version })) world.apply(e.seq, e.event);
        const rebuilt = buildSnapshot('default', version, compile(world.records(), { group: 'default' }));
        const committed = await store.getManifest('default', version);
        assert.ok(committed, `manifest ${version}`);
        assert.deepEqual(encodeManifest(committed), encodeManifest(rebuilt.manifest), `manifest ${version}`);
        const blobs = await store.getBlobs(manifestHashes(committed));
        for (const h of manifestHashes(rebuilt.manifest))
          assert.deepEqual(blobs.get(h), rebuilt.blobs.get(h), `blob ${h} of ${version}`);
      }
    } finally {
      await runner.close();
      await store.close();
      await events.close();
    }
  });

  test('runner gc — a due gc waits until no change arrives for a while, and then runs', async () => {
    const log = process.env.DEBUG_GC ? createLogger('t') : silentLogger();
    const events = await JetStreamEventLog.connect({ url: nats.url, log });
    const store = await RedisSnapshotStore.connect({ url: redis.url, log, prefix: 'gcidle:' });
    const runner = new CompilerRunner({
      events,
      store,
      groups: ['default'],
      log,
      registry: createRegistry('compiler'),
      debounceMs: 5,
      maxDelayMs: 50,
      retention: 1,
      gcEvery: 2,
      // Long enough that a loaded CI machine's commit-to-commit gap never looks idle.
      gcIdleMs: 5_000,
      onFatal: (err) => assert.fail(String(err)),
    });
    try {
      await events.publish(envelope(service(0)));
      await events.publish(envelope(mapping(0)));
      await runner.start();
      const commit = async (timeout: number) => {
        const ack = await events.publish(envelope(mapping(0, timeout)));
        await eventually(async () => assert.ok(((await store.head('default')) ?? 0) >= ack.seq), {
          timeoutMs: 10_000,
        });
        await runner.idle();
      };
      // The first commit and this one: gc is due, but changes keep coming within gcIdleMs.
      await commit(1001);
      await commit(1002);
      assert.ok((await store.versions('default')).length >= 3, 'no gc while changes keep coming');
      // Quiet: the due gc runs and keeps only the head.
      await eventually(async () => assert.equal((await store.versions('default')).length, 1), {
        timeoutMs: 20_000,
      });
    } finally {
      await runner.close();
      await store.close();
      await events.close();
    }
  });
});
