/**
 * The Kubernetes ingestor against the production log: a real `nats-server -js` on a free port,
 * killed (SIGKILL) for 10 s while objects change, events forged into it by hand (anti-entropy),
 * and the fake API server (test/fake-kube).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { jetstream } from '@nats-io/jetstream';
import { connect as natsConnect } from '@nats-io/transport-node';
import { Registry } from 'prom-client';
import { type EventEnvelope, encodeEvent } from '../../../shared/events/envelope.ts';
import type { EventLog } from '../../../shared/events/event-log.ts';
import { JetStreamEventLog } from '../../../shared/events/jetstream-event-log.ts';
import { subjectFor } from '../../../shared/events/subjects.ts';
import { silentLogger } from '../../../shared/runtime/logger.ts';
import { type FakeKube, startFakeKube } from '../../../test/fake-kube/fake-kube.ts';
import { captureLogs } from '../../../test/harness/capture-logs.ts';
import { eventually } from '../../../test/harness/eventually.ts';
import { startNats, type TestServer } from '../../../test/harness/servers.ts';
import {
  ambassador,
  describeEvents,
  endpointSlice,
  finalStates,
  metricValue,
  readAll,
  secret,
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
  test('kubernetes ingestor on JetStream — anti-entropy repairs events forged into NATS by hand within its period, from its caches, without a LIST', {
    timeout: 60_000,
  }, async () => {
    const events = await connect('K8S');
    const CLUSTER = 'forged';
    const NS = 'forged';
    const PERIOD_MS = 1_000;
    const registry = new Registry();
    const logs = captureLogs('info');
    fake.apply(ambassador('Mapping', 'kept', { prefix: '/kept/', service: 'kept' }, NS));
    fake.apply(ambassador('Host', 'host', { hostname: 'h.example', tlsSecret: { name: 'cert' } }, NS));
    fake.apply(secret('cert', NS));
    const ingestor = testIngestor(fake, events, {
      namespaces: [NS],
      cluster: CLUSTER,
      registry,
      log: logs.log,
      antiEntropyIntervalMs: PERIOD_MS,
    });
    const nc = await natsConnect({ servers: nats.url });
    try {
      await ingestor.start();
      const lists = () => fake.requests().filter((r) => r.verb === 'list').length;
      const listsAfterStart = lists();
      const repairs = () =>
        metricValue(registry, 'attache_ingestor_anti_entropy_repairs_total', { cluster: CLUSTER });

      // Idle periods: the comparison finds nothing and publishes nothing.
      const before = (await ofCluster(events, CLUSTER)).length;
      await new Promise((r) => setTimeout(r, 2.5 * PERIOD_MS));
      assert.equal((await ofCluster(events, CLUSTER)).length, before, 'nothing published while idle');
      assert.equal(await repairs(), 0);

      // Forged by hand, straight into the stream, claiming to be the ingestor: a tombstone for a
      // live Mapping, a Secret upsert carrying someone else's key, and a Mapping that does not exist.
      const forge = (e: Partial<EventEnvelope> & Pick<EventEnvelope, 'kind' | 'name' | 'op'>) => {
        const event: EventEnvelope = {
          v: 1,
          cluster: CLUSTER,
          namespace: NS,
          resourceVersion: 'forged',
          generation: 0,
          observedAt: new Date().toISOString(),
          ingestor: `k8s/${CLUSTER}/forger`,
          ...e,
        };
        return jetstream(nc).publish(subjectFor(event), encodeEvent(event), {
          msgID: `forged-${e.kind}-${e.name}-${Date.now()}`,
        });
      };
      const forgedAt = Date.now();
      await forge({ kind: 'Mapping', name: 'kept', op: 'delete' });
      const evilSecret = {
        ...secret('cert', NS),
        data: { 'tls.crt': 'ZXZpbA==', 'tls.key': 'ZXZpbA==' },
      };
      await forge({ kind: 'Secret', name: 'cert', op: 'upsert', object: evilSecret as never });
      await forge({
        kind: 'Mapping',
        name: 'ghost',
        op: 'upsert',
        object: ambassador('Mapping', 'ghost', { prefix: '/', service: 'evil' }, NS) as never,
      });

      const finals = await eventually(
        async () => {
          const f = finalStates(await ofCluster(events, CLUSTER));
          assert.equal(f.get(`Mapping ${NS}/kept`)?.event.op, 'upsert', 'the tombstoned Mapping is back');
          assert.equal(f.get(`Mapping ${NS}/ghost`)?.event.op, 'delete', 'the forged Mapping is gone');
          assert.notEqual(
            f.get(`Secret ${NS}/cert`)?.event.resourceVersion,
            'forged',
            'the real Secret is back',
          );
          return f;
        },
        { timeoutMs: 20_000, intervalMs: 100 },
      );
      const repairedInMs = Date.now() - forgedAt;
      const rv = (kind: string, name: string) =>
        fake.get({ apiVersion: kind === 'Secret' ? 'v1' : V3, kind }, NS, name)?.metadata.resourceVersion;
      assert.equal(finals.get(`Mapping ${NS}/kept`)?.event.resourceVersion, rv('Mapping', 'kept'));
      assert.equal(finals.get(`Secret ${NS}/cert`)?.event.resourceVersion, rv('Secret', 'cert'));
      assert.deepEqual(
        (finals.get(`Secret ${NS}/cert`)?.event.object as { data?: unknown })?.data,
        secret('cert', NS).data,
      );
      assert.ok(repairedInMs < 2 * PERIOD_MS + 10_000, `repaired ${repairedInMs} ms after the forgery`);
      assert.equal(await repairs(), 3, 'each repaired object counted once');
      const warning = logs.lines().find((l) => String(l.msg).startsWith('anti-entropy:'));
      assert.equal(warning?.level, 40, 'a warning names the repair');
      assert.equal(warning?.count, 3);
      assert.deepEqual(warning?.claimedPublishers, [`k8s/${CLUSTER}/forger`]);
      assert.equal(lists(), listsAfterStart, 'anti-entropy read the informer caches: no LIST request');

      // Once repaired, later periods agree with the log again.
      const settled = (await ofCluster(events, CLUSTER)).length;
      await new Promise((r) => setTimeout(r, 2.5 * PERIOD_MS));
      assert.equal((await ofCluster(events, CLUSTER)).length, settled, 'no repair loop');
      assert.equal(await repairs(), 3);
      console.log(
        `anti-entropy repaired 3 forged events ${repairedInMs} ms after they were written (period ${PERIOD_MS} ms)`,
      );
    } finally {
      await nc.close();
      await ingestor.close();
      await events.close();
    }
  });
});
