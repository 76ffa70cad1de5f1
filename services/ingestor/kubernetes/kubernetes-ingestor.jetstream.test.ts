/**
 * The Kubernetes ingestor against the production log: a real `nats-server -js` on a free port,
 * killed (SIGKILL) for 10 s while objects change, and the fake API server (test/fake-kube).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Registry } from 'prom-client';
import type { EventLog } from '../../../shared/events/event-log.ts';
import { JetStreamEventLog } from '../../../shared/events/jetstream-event-log.ts';
import { silentLogger } from '../../../shared/runtime/logger.ts';
import { type FakeKube, startFakeKube } from '../../../test/fake-kube/fake-kube.ts';
import { eventually } from '../../../test/harness/eventually.ts';
import { startNats, type TestServer } from '../../../test/harness/servers.ts';
import {
  ambassador,
  describeEvents,
  endpointSlice,
  finalStates,
  metricValue,
  readAll,
  testIngestor,
  V3,
} from './testing.ts';

/** This test's events only: both tests share the stream, each as its own source cluster. */
async function ofCluster(events: EventLog, cluster: string) {
  return (await readAll(events)).filter((e) => e.event.cluster === cluster);
}

describe('KubernetesIngestor on JetStream', () => {
  let nats: TestServer;
  let fake: FakeKube;

  before(async () => {
    nats = await startNats();
    fake = await startFakeKube();
  });

  after(async () => {
    await fake?.close();
    await nats?.dispose();
  });

  const connect = (streamName: string) =>
    JetStreamEventLog.connect({ url: nats.url, log: silentLogger(), streamName, publishTimeoutMs: 1_000 });

  test('kubernetes ingestor on JetStream — a restart publishes tombstones for objects deleted while it was down', {
    timeout: 60_000,
  }, async () => {
    const events = await connect('K8S');
    const CLUSTER = 'restart';
    try {
      for (let i = 0; i < 3; i++)
        fake.apply(ambassador('Mapping', `r${i}`, { prefix: `/r${i}/` }, 'restart'));
      let ingestor = testIngestor(fake, events, { namespaces: ['restart'], cluster: 'restart' });
      await ingestor.start();
      await ingestor.close();
      fake.delete({ apiVersion: V3, kind: 'Mapping' }, 'restart', 'r0');
      fake.apply(ambassador('Mapping', 'r1', { prefix: '/r1-v2/' }, 'restart'));
      ingestor = testIngestor(fake, events, { namespaces: ['restart'], cluster: 'restart' });
      await ingestor.start();
      await ingestor.close();
      assert.deepEqual(
        describeEvents(await ofCluster(events, CLUSTER))
          .slice(4)
          .sort(),
        ['delete Mapping restart/r0', 'resync', 'upsert Mapping restart/r1'],
      );
    } finally {
      await events.close();
    }
  });

  test('kubernetes ingestor on JetStream — NATS down for 10 s while objects change: afterwards the log holds every final state', {
    timeout: 90_000,
  }, async () => {
    const events = await connect('K8S');
    const CLUSTER = 'outage';
    const registry = new Registry();
    const ingestor = testIngestor(fake, events, { namespaces: ['outage'], registry, cluster: 'outage' });
    try {
      for (let i = 0; i < 30; i++)
        fake.apply(ambassador('Mapping', `o${i}`, { prefix: `/o${i}/v0/` }, 'outage'));
      await ingestor.start();
      assert.equal((await ofCluster(events, CLUSTER)).length, 31);

      await nats.stop();
      const changesStart = Date.now();
      let maxGauge = 0;
      const sample = async () => {
        maxGauge = Math.max(
          maxGauge,
          await metricValue(registry, 'attache_ingestor_pending_changes', { source: 'k8s' }),
        );
      };
      // For 10 s: every Mapping changes three times, a few are deleted, new ones and slices appear.
      for (let v = 1; v <= 3; v++) {
        for (let i = 0; i < 30; i++)
          fake.apply(ambassador('Mapping', `o${i}`, { prefix: `/o${i}/v${v}/` }, 'outage'));
        fake.apply(endpointSlice(`slice-${v}`, 'svc', [`10.0.0.${v}`], 'outage'));
        await new Promise((r) => setTimeout(r, 1_000));
        await sample();
      }
      for (const i of [3, 13, 23]) fake.delete({ apiVersion: V3, kind: 'Mapping' }, 'outage', `o${i}`);
      fake.apply(ambassador('Mapping', 'late', { prefix: '/late/' }, 'outage'));
      while (Date.now() - changesStart < 10_000) {
        await new Promise((r) => setTimeout(r, 500));
        await sample();
      }
      assert.ok(maxGauge >= 30, `the buffer gauge rose (max ${maxGauge})`);
      assert.ok(ingestor.buffered <= 64 + 35, `one pending state per object: ${ingestor.buffered}`);

      await nats.start();
      await eventually(async () => assert.equal(ingestor.buffered, 0, 'drained'), { timeoutMs: 30_000 });
      await ingestor.flush();
      assert.equal(
        await metricValue(registry, 'attache_ingestor_pending_changes', { source: 'k8s' }),
        0,
        'gauge fell',
      );

      const all = await ofCluster(events, CLUSTER);
      const finals = finalStates(all);
      const live = [...finals.entries()].filter(([, e]) => e.event.op === 'upsert').map(([k]) => k);
      assert.equal(live.length, 27 + 1 + 3, `27 Mappings, late, 3 slices: ${live.join(', ')}`);
      for (let i = 0; i < 30; i++) {
        const e = finals.get(`Mapping outage/o${i}`);
        if ([3, 13, 23].includes(i)) assert.equal(e?.event.op, 'delete', `o${i} deleted`);
        else {
          assert.equal((e?.event.object?.spec as { prefix?: string })?.prefix, `/o${i}/v3/`, `o${i} final`);
          const rv = fake.get({ apiVersion: V3, kind: 'Mapping' }, 'outage', `o${i}`)?.metadata
            .resourceVersion;
          assert.equal(e?.event.resourceVersion, rv, `o${i} resourceVersion`);
        }
      }
      // Coalesced: at most one in-flight and one pending state per object crossed the outage.
      const afterStart = all.slice(31).filter((e) => e.event.op !== 'resync');
      assert.ok(afterStart.length <= 2 * 34, `${afterStart.length} events for 34 objects`);
      assert.ok(
        (await metricValue(registry, 'attache_ingestor_publish_failures_total')) > 0,
        'publishes were retried',
      );
    } finally {
      await ingestor.close();
      await events.close();
    }
  });
});
