/**
 * A stuck object in the Kubernetes ingestor against a real `nats-server -js` (issue 9): the
 * server's permissions refuse publishes of one Mapping's subject, an ordinary failure that
 * retrying may cure. The other objects are published meanwhile; once that one has failed for the
 * stall threshold the source is not ready (`/readyz`) and `attache_ingestor_stalled` is 1; deleting
 * the object abandons its failing publish (the log never held it), and the source is ready again.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { Registry } from 'prom-client';
import { JetStreamEventLog } from '../../../shared/events/jetstream-event-log.ts';
import { silentLogger } from '../../../shared/runtime/logger.ts';
import { type FakeKube, startFakeKube } from '../../../test/fake-kube/fake-kube.ts';
import { eventually } from '../../../test/harness/eventually.ts';
import { startNats, type TestServer } from '../../../test/harness/servers.ts';
import type { KubernetesIngestor } from './kubernetes-ingestor.ts';
import { ambassador, metricValue, readAll, testIngestor, V3 } from './testing.ts';

let server: TestServer;
let fake: FakeKube;
let dir: string;
let events: JetStreamEventLog;
let ingestor: KubernetesIngestor | undefined;

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'attache-k8s-retries-'));
  const conf = path.join(dir, 'nats.conf');
  // Everything is allowed except publishing the one blocked object's events.
  fs.writeFileSync(
    conf,
    `authorization { users = [ { user: ing, password: ing, permissions: { publish: { allow: [">"], deny: ["attache.ev.kr.Mapping.apps.blocked"] } } } ] }\n`,
  );
  server = await startNats({ file: conf });
  fake = await startFakeKube();
});

after(async () => {
  await ingestor?.close();
  await events?.close();
  await fake?.close();
  await server?.dispose();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('kubernetes ingestor retries — one object that cannot be published stalls the source, holds up no other, and its deletion cancels it', {
  timeout: 90_000,
}, async () => {
  events = await JetStreamEventLog.connect({
    url: server.url,
    security: { user: 'ing', pass: 'ing' },
    log: silentLogger(),
    streamName: 'K8S_RETRIES',
    publishTimeoutMs: 1_000,
  });
  const registry = new Registry();
  const labels = { source: 'k8s', cluster: 'kr' };
  const stalled = () => metricValue(registry, 'attache_ingestor_stalled', labels);
  const failures = () => metricValue(registry, 'attache_ingestor_publish_failures_total', labels);
  const names = async () =>
    (await readAll(events)).filter((e) => e.event.op === 'upsert').map((e) => e.event.name);

  fake.apply(ambassador('Mapping', 'a', { prefix: '/a/' }, 'apps'));
  ingestor = testIngestor(fake, events, {
    cluster: 'kr',
    namespaces: ['apps'],
    registry,
    backoff: { initialMs: 100, maxMs: 500, factor: 2 },
    stallAfterMs: 1_500,
  });
  await ingestor.start();
  assert.equal(ingestor.ready(), true);

  fake.apply(ambassador('Mapping', 'blocked', { prefix: '/blocked/' }, 'apps'));
  fake.apply(ambassador('Mapping', 'b', { prefix: '/b/' }, 'apps'));
  await eventually(async () => assert.deepEqual((await names()).sort(), ['a', 'b']), { timeoutMs: 30_000 });
  await eventually(async () => assert.ok((await failures()) >= 2, 'the blocked object is retried'), {
    timeoutMs: 30_000,
  });
  // Later changes keep flowing while it is retried.
  fake.apply(ambassador('Mapping', 'c', { prefix: '/c/' }, 'apps'));
  await eventually(async () => assert.ok((await names()).includes('c')), { timeoutMs: 30_000 });
  // Failing past the stall threshold: not ready, and the metric says so.
  await eventually(
    () => assert.equal(ingestor!.ready(), false, 'a stuck object makes the source not ready'),
    {
      timeoutMs: 30_000,
    },
  );
  assert.equal(await stalled(), 1);

  // Deleting it abandons its failing publish: the log never held it, so there is nothing to send.
  fake.delete({ apiVersion: V3, kind: 'Mapping' }, 'apps', 'blocked');
  await eventually(() => assert.equal(ingestor!.ready(), true, 'ready again once nothing fails'), {
    timeoutMs: 30_000,
  });
  await ingestor.flush();
  assert.equal(await stalled(), 0);
  const settled = await failures();
  await new Promise((r) => setTimeout(r, 1_500));
  assert.equal(await failures(), settled, 'no more attempts after the object was deleted');
  assert.ok(!(await names()).includes('blocked'));
});
