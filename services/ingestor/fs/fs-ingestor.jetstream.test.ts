/**
 * The fs ingestor against the production log: a real `nats-server -js` on a free port, killed
 * (SIGKILL) and restarted on the same data directory while changes are pending.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Registry } from 'prom-client';
import type { LoggedEvent } from '../../../shared/events/event-log.ts';
import { JetStreamEventLog } from '../../../shared/events/jetstream-event-log.ts';
import { silentLogger } from '../../../shared/runtime/logger.ts';
import { startNats, type TestServer } from '../../../test/harness/servers.ts';
import { FsIngestor } from './fs-ingestor.ts';

function mapping(name: string, prefix: string): string {
  return `apiVersion: getambassador.io/v3alpha1\nkind: Mapping\nmetadata:\n  name: ${name}\nspec:\n  prefix: ${prefix}\n  service: backend:80\n`;
}

describe('FsIngestor on JetStream', () => {
  let server: TestServer;
  let dir: string;

  before(async () => {
    server = await startNats();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'attache-fs-jetstream-'));
  });

  after(async () => {
    await server?.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('fs ingestor on JetStream — reconciles across restarts and publishes a change made while NATS was down exactly once', {
    timeout: 60_000,
  }, async () => {
    const connect = () =>
      JetStreamEventLog.connect({
        url: server.url,
        log: silentLogger(),
        streamName: 'FS_INGESTOR',
        publishTimeoutMs: 1_000,
      });
    const registry = new Registry();
    const ingestor = (events: JetStreamEventLog) =>
      new FsIngestor({
        dir,
        cluster: 'js',
        events,
        log: silentLogger(),
        registry,
        backoff: { initialMs: 50, maxMs: 500, factor: 2 },
      });
    const readAll = async (events: JetStreamEventLog, fromSeq = 1) => {
      const out: LoggedEvent[] = [];
      for await (const e of events.read({ fromSeq })) out.push(e);
      return out.map((e) => `${e.seq} ${e.event.op} ${e.event.name}`);
    };

    fs.writeFileSync(path.join(dir, 'a.yaml'), mapping('a', '/a/'));
    fs.writeFileSync(path.join(dir, 'b.yaml'), mapping('b', '/b/'));
    let events = await connect();
    let ing = ingestor(events);
    await ing.start();
    assert.deepEqual(await readAll(events), ['1 upsert a', '2 upsert b', '3 resync ']);

    // NATS dies; a change made meanwhile waits (retried with the same id) and is stored once.
    await server.stop();
    fs.writeFileSync(path.join(dir, 'a.yaml'), mapping('a', '/a-v2/'));
    const flushed = ing.flush();
    await new Promise((r) => setTimeout(r, 1_500));
    await server.start();
    await flushed;
    assert.deepEqual(await readAll(events, 4), ['4 upsert a']);
    const failures = await registry.getSingleMetric('attache_ingestor_publish_failures_total')?.get();
    assert.ok(
      (failures?.values[0]?.value ?? 0) > 0,
      'the publish failed while NATS was down and was retried',
    );
    await ing.close();
    await events.close();

    // Restart: a file deleted while the ingestor was down gets its tombstone from the log's view.
    fs.rmSync(path.join(dir, 'b.yaml'));
    events = await connect();
    ing = ingestor(events);
    await ing.start();
    assert.deepEqual(await readAll(events, 5), ['5 delete b', '6 resync ']);
    await ing.close();
    await events.close();
  });
});
