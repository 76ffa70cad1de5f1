/**
 * JetStream-only behaviour: stream setup, the server filter choice, and faults — nats-server
 * killed (SIGKILL) and restarted on the same port and data directory.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { freePort } from '../../test/harness/ports.ts';
import { startNats, type TestServer } from '../../test/harness/servers.ts';
import { DependencyError } from '../runtime/errors.ts';
import { silentLogger } from '../runtime/logger.ts';
import { ENVELOPE_VERSION, type EventEnvelope } from './envelope.ts';
import type { LoggedEvent } from './event-log.ts';
import { coveringFilter, JetStreamEventLog } from './jetstream-event-log.ts';
import { clusterSubjects } from './subjects.ts';

describe('coveringFilter', () => {
  test('coveringFilter — keeps a single filter that lies within a stream subject', () => {
    assert.equal(coveringFilter(['attache.ev.east.>']), 'attache.ev.east.>');
    assert.equal(
      coveringFilter(['attache.ep.*.EndpointSlice.default.web']),
      'attache.ep.*.EndpointSlice.default.web',
    );
  });

  test('coveringFilter — widens differing tokens to * and stops at >', () => {
    assert.equal(coveringFilter(['attache.ev.a.>', 'attache.ev.b.>']), 'attache.ev.*.>');
    assert.equal(
      coveringFilter(['attache.ev.a.Mapping.ns.x', 'attache.ev.a.Host.ns.y']),
      'attache.ev.a.*.ns.*',
    );
    assert.equal(coveringFilter(['attache.ev.a.Mapping.>', 'attache.ev.a.>']), 'attache.ev.a.>');
  });

  test('coveringFilter — gives no server filter when no single filter within the stream covers all', () => {
    assert.equal(coveringFilter(undefined), undefined);
    assert.equal(coveringFilter([]), undefined);
    assert.equal(coveringFilter(clusterSubjects('east')), undefined);
    assert.equal(coveringFilter(['attache.ev.a.Mapping.ns', 'attache.ev.a.Mapping.ns.x']), undefined);
    assert.equal(coveringFilter(['attache.>']), undefined);
  });
});

describe('JetStreamEventLog faults', () => {
  let server: TestServer;
  let streams = 0;
  const opened: JetStreamEventLog[] = [];

  before(async () => {
    server = await startNats();
  });

  after(async () => {
    await Promise.all(opened.map((l) => l.close()));
    await server?.dispose();
  });

  async function open(
    extra: {
      publishTimeoutMs?: number;
      duplicateWindowMs?: number;
      ackWaitMs?: number;
      streamName?: string;
    } = {},
  ) {
    const streamName = extra.streamName ?? `FAULTS_${++streams}`;
    // A short timeout keeps the outage cases short (in-flight publishes are re-sent on reconnect
    // whatever the timeout; the case that shows it uses the 5 s default).
    const log = await JetStreamEventLog.connect({
      url: server.url,
      log: silentLogger(),
      streamName,
      publishTimeoutMs: 1_000,
      ...extra,
    });
    opened.push(log);
    return { log, streamName };
  }

  /** Uses a fresh connection: one that lived through a restart may still be reconnecting. */
  async function dropStream(log: JetStreamEventLog, streamName: string): Promise<void> {
    await log.close();
    const admin = await connect({ servers: server.url, name: 'jetstream-fault-test-admin' });
    try {
      await (await jetstreamManager(admin)).streams.delete(streamName);
    } finally {
      await admin.close();
    }
  }

  async function restartServer(): Promise<void> {
    await server.stop();
    await server.start();
  }

  test('connect — fails with DependencyError promptly when NATS is unreachable', async () => {
    const url = `nats://127.0.0.1:${await freePort()}`;
    const started = Date.now();
    await assert.rejects(
      JetStreamEventLog.connect({ url, log: silentLogger(), requestTimeoutMs: 1_000 }),
      (err: unknown) => err instanceof DependencyError && err.message.includes(url),
    );
    assert.ok(Date.now() - started < 5_000);
  });

  test('connect — updates an existing stream whose settings differ', async () => {
    const first = await open({ duplicateWindowMs: 60_000 });
    await first.log.close();
    const second = await open({ streamName: first.streamName, duplicateWindowMs: 30_000 });
    const admin = await connect({ servers: server.url, name: 'jetstream-fault-test-admin' });
    const info = await (await jetstreamManager(admin)).streams.info(first.streamName);
    await admin.close();
    assert.equal(info.config.duplicate_window, 30_000 * 1_000_000);
    assert.equal(info.config.storage, 'file');
    assert.deepEqual([...info.config.subjects].sort(), ['attache.ep.>', 'attache.ev.>']);
    await dropStream(second.log, second.streamName);
  });

  test('follow — continues across a nats-server restart with no gap and no duplicate', {
    timeout: 40_000,
  }, async () => {
    const { log, streamName } = await open();
    for (let i = 1; i <= 20; i++) await log.publish(event(`before-${i}`));
    const ac = new AbortController();
    const seen: LoggedEvent[] = [];
    const following = (async () => {
      for await (const e of log.follow({ fromSeq: 1, signal: ac.signal })) seen.push(e);
    })();
    await until(() => seen.length === 20, 'follower to catch up');
    await restartServer();
    for (let i = 1; i <= 20; i++) await publishUntilStored(log, event(`after-${i}`));
    await until(() => seen.length >= 40, 'follower to see events published after the restart', 30_000);
    await sleep(200);
    ac.abort();
    await following;
    assert.deepEqual(
      seen.map((e) => e.seq),
      Array.from({ length: 40 }, (_, i) => i + 1),
    );
    assert.equal(seen[20]?.event.name, 'after-1');
    await dropStream(log, streamName);
  });

  test('publish — throws DependencyError within its timeout while NATS is down, then stores the retry once', {
    timeout: 40_000,
  }, async () => {
    const { log, streamName } = await open({ publishTimeoutMs: 1_000 });
    await log.publish(event('first'));
    await server.stop();
    const e = event('during-outage');
    const started = Date.now();
    await assert.rejects(log.publish(e, { msgId: 'outage-1' }), DependencyError);
    const elapsed = Date.now() - started;
    assert.ok(elapsed < 2_500, `publish took ${elapsed} ms to fail`);
    await server.start();
    const ack = await publishUntilStored(log, e, 'outage-1');
    assert.equal(ack.seq, 2);
    // A later retry of the same id is a duplicate of that one event.
    assert.deepEqual(await log.publish(e, { msgId: 'outage-1' }), { seq: 2, duplicate: true });
    assert.equal(await log.lastSeq(), 2);
    const names = [];
    for await (const stored of log.read({ fromSeq: 1 })) names.push(stored.event.name);
    assert.deepEqual(names, ['first', 'during-outage']);
    await dropStream(log, streamName);
  });

  test('publish — in flight while nats-server is down, re-sent as soon as the client reconnects: acknowledged promptly, stored once', {
    timeout: 40_000,
  }, async (t) => {
    // The 5 s default: the publishes must not wait it out after NATS is back.
    const { log, streamName } = await open({ publishTimeoutMs: 5_000 });
    await log.publish(event('first'));
    // Killed: the client is reconnecting while these are published, and they stay in flight.
    await server.stop();
    const sentAt = Date.now();
    const acks = Array.from({ length: 20 }, (_, i) =>
      log.publish(event(`in-flight-${i}`)).then((ack) => ({ ack, at: Date.now() })),
    );
    await sleep(300);
    await server.start();
    const backAt = Date.now();
    const settled = await Promise.allSettled(acks);
    const failures = settled.filter((r) => r.status === 'rejected').map((r) => String(r.reason));
    assert.deepEqual(failures, [], 'every in-flight publish is acknowledged');
    const at = settled.map((r) => (r.status === 'fulfilled' ? r.value.at : 0));
    const slowest = Math.max(...at) - backAt;
    t.diagnostic(
      `server back ${backAt - sentAt} ms after the publishes were sent; all 20 acknowledged ${slowest} ms after it was back`,
    );
    assert.ok(
      slowest < 2_500,
      `the last ack came ${slowest} ms after NATS returned (the publish timeout is 5 s)`,
    );
    const names: string[] = [];
    for await (const stored of log.read({ fromSeq: 1 })) names.push(stored.event.name);
    assert.deepEqual(
      names.slice(1).sort(),
      Array.from({ length: 20 }, (_, i) => `in-flight-${i}`).sort(),
      'each stored once',
    );
    await dropStream(log, streamName);
  });

  test('durable — an event redelivered after the ack wait is not yielded twice in one iteration', async () => {
    const { log, streamName } = await open({ ackWaitMs: 500 });
    for (let i = 1; i <= 3; i++) await log.publish(event(`slow-${i}`));
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(), 10_000);
    const seen: number[] = [];
    for await (const d of log.durable('slow', { signal: ac.signal })) {
      seen.push(d.seq);
      // Outlive the ack wait so the server redelivers this and the buffered deliveries.
      if (d.seq === 1) await sleep(1_300);
      await d.ack();
      if (d.seq === 3) await log.publish(event('slow-4'));
      if (d.seq === 4) break;
    }
    clearTimeout(timer);
    assert.deepEqual(seen, [1, 2, 3, 4]);
    // The late acks were accepted: a new iteration has nothing to redeliver.
    await log.publish(event('slow-5'));
    assert.deepEqual(await takeAcked(log, 'slow', 1), [5]);
    await dropStream(log, streamName);
  });

  test('durable — resumes after the last acknowledged event across a graceful nats-server restart', {
    timeout: 40_000,
  }, async () => {
    const { log, streamName } = await open();
    for (let i = 1; i <= 5; i++) await log.publish(event(`e-${i}`));
    assert.deepEqual(await takeAcked(log, 'graceful', 3), [1, 2, 3]);
    await server.stop('SIGTERM');
    await server.start();
    await publishUntilStored(log, event('e-6'));
    assert.deepEqual(await takeAcked(log, 'graceful', 3), [4, 5, 6]);
    await dropStream(log, streamName);
  });

  test('durable — after nats-server is killed, redelivers from at or before the first unacknowledged event, in order', {
    timeout: 40_000,
  }, async () => {
    const { log, streamName } = await open();
    for (let i = 1; i <= 5; i++) await log.publish(event(`e-${i}`));
    assert.deepEqual(await takeAcked(log, 'killed', 3), [1, 2, 3]);
    await restartServer();
    await publishUntilStored(log, event('e-6'));
    // JetStream writes consumer state asynchronously, so acks just before SIGKILL may be replayed;
    // what must hold is no skipped event and sequence order.
    const after = await takeAcked(log, 'killed', 6, 6);
    const first = after[0] ?? 0;
    assert.ok(first >= 1 && first <= 4, `resumed at ${first}`);
    assert.deepEqual(
      after,
      Array.from({ length: 7 - first }, (_, i) => first + i),
    );
    await dropStream(log, streamName);
  });
});

function event(name: string): EventEnvelope {
  return {
    v: ENVELOPE_VERSION,
    cluster: 'east',
    kind: 'Mapping',
    namespace: 'default',
    name,
    op: 'upsert',
    resourceVersion: '1',
    generation: 1,
    observedAt: '2024-01-01T00:00:00.000Z',
    ingestor: 'test/east/host',
    object: {
      apiVersion: 'getambassador.io/v3alpha1',
      kind: 'Mapping',
      metadata: { name },
      spec: { prefix: '/' },
    },
  };
}

/** What an ingestor does: retry with the same message id until JetStream acknowledges. */
async function publishUntilStored(log: JetStreamEventLog, e: EventEnvelope, msgId?: string) {
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      return await log.publish(e, msgId ? { msgId } : undefined);
    } catch (err) {
      assert.ok(err instanceof DependencyError, `unexpected ${String(err)}`);
      if (Date.now() > deadline) throw err;
      await sleep(200);
    }
  }
}

/** Acks deliveries of durable `name` until `count` are taken or the delivery of sequence `lastSeq`. */
async function takeAcked(
  log: JetStreamEventLog,
  name: string,
  count: number,
  lastSeq = 0,
): Promise<number[]> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), 20_000);
  const seqs: number[] = [];
  try {
    for await (const d of log.durable(name, { signal: ac.signal })) {
      seqs.push(d.seq);
      await d.ack();
      if (seqs.length === count || d.seq === lastSeq) break;
    }
  } finally {
    clearTimeout(timer);
  }
  return seqs;
}

async function until(check: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
