/**
 * Per-object retries in the YAML ingestor against a real `nats-server -js` (issue 9): the server's
 * permissions refuse publishes of one object's subject, an ordinary failure that retrying may cure.
 * That object is retried on its own backoff while every other change is published, and deleting
 * its file cancels its pending publishes.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { Registry } from 'prom-client';
import { JetStreamEventLog } from '../../../shared/events/jetstream-event-log.ts';
import { silentLogger } from '../../../shared/runtime/logger.ts';
import { eventually } from '../../../test/harness/eventually.ts';
import { startNats, type TestServer } from '../../../test/harness/servers.ts';
import { FsIngestor } from './fs-ingestor.ts';

const mapping = (name: string) =>
  `apiVersion: getambassador.io/v3alpha1\nkind: Mapping\nmetadata: { name: ${name}, namespace: default }\nspec: { prefix: /${name}/, service: backend:80 }\n`;

let server: TestServer;
let dir: string;
let events: JetStreamEventLog;
let ingestor: FsIngestor;

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'attache-fs-retries-'));
  const conf = path.join(dir, 'nats.conf');
  // Everything is allowed except publishing the one blocked object's event.
  fs.writeFileSync(
    conf,
    `authorization { users = [ { user: ing, password: ing, permissions: { publish: { allow: [">"], deny: ["attache.ev.rt.Mapping.default.blocked"] } } } ] }\n`,
  );
  server = await startNats({ file: conf });
  fs.mkdirSync(path.join(dir, 'yaml'));
});

after(async () => {
  await ingestor?.close();
  await events?.close();
  await server?.dispose();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('fs ingestor retries — one object that cannot be published holds up no other, and deleting its file cancels its publishes', {
  timeout: 90_000,
}, async () => {
  const yaml = path.join(dir, 'yaml');
  events = await JetStreamEventLog.connect({
    url: server.url,
    security: { user: 'ing', pass: 'ing' },
    log: silentLogger(),
    streamName: 'FS_RETRIES',
    publishTimeoutMs: 1_000,
  });
  const registry = new Registry();
  ingestor = new FsIngestor({
    dir: yaml,
    cluster: 'rt',
    events,
    log: silentLogger(),
    registry,
    pollIntervalMs: 100,
    backoff: { initialMs: 200, maxMs: 1_000, factor: 2 },
    stallAfterMs: 2_000,
  });
  await ingestor.start();
  const names = async () => {
    const out: string[] = [];
    for await (const e of events.read({ fromSeq: 1 })) if (e.event.op === 'upsert') out.push(e.event.name);
    return out;
  };
  const stalled = async () =>
    (await registry.getSingleMetric('attache_ingestor_stalled')?.get())?.values.find(
      (v) => v.labels.cluster === 'rt',
    )?.value ?? 0;
  const failures = async () =>
    (await registry.getSingleMetric('attache_ingestor_publish_failures_total')?.get())?.values[0]?.value ?? 0;

  // The blocked object sorts first, so a sequential publisher retrying it forever would publish
  // nothing after it.
  fs.writeFileSync(path.join(yaml, 'a-blocked.yaml'), mapping('blocked'));
  fs.writeFileSync(path.join(yaml, 'b.yaml'), mapping('b'));
  fs.writeFileSync(path.join(yaml, 'c.yaml'), mapping('c'));
  await eventually(async () => assert.deepEqual((await names()).sort(), ['b', 'c']), { timeoutMs: 30_000 });
  await eventually(async () => assert.ok((await failures()) >= 2, 'the blocked object is retried'), {
    timeoutMs: 30_000,
  });
  // Later changes keep flowing while it is retried.
  fs.writeFileSync(path.join(yaml, 'd.yaml'), mapping('d'));
  await eventually(async () => assert.ok((await names()).includes('d')), { timeoutMs: 30_000 });
  // It has failed past the stall threshold: the source reports it.
  await eventually(() => assert.equal(ingestor.ready(), false, 'a stuck object makes the source not ready'), {
    timeoutMs: 30_000,
  });
  assert.equal(await stalled(), 1, 'attache_ingestor_stalled reports it');

  // Deleting its file cancels its pending publishes: the retries stop and everything is flushed.
  fs.rmSync(path.join(yaml, 'a-blocked.yaml'));
  await ingestor.flush();
  const settled = await failures();
  await new Promise((r) => setTimeout(r, 1_500));
  assert.equal(await failures(), settled, 'no more attempts after the file was deleted');
  assert.ok(!(await names()).includes('blocked'));
  assert.equal(ingestor.ready(), true);
  assert.equal(await stalled(), 0);
});
