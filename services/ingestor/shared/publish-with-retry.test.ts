import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { EventEnvelope } from '../../../shared/events/envelope.ts';
import { MemoryEventLog } from '../../../shared/events/memory-event-log.ts';
import { silentLogger } from '../../../shared/runtime/logger.ts';
import { backoffDelay } from '../../../shared/runtime/retry.ts';
import { FlakyEventLog } from './flaky-event-log.ts';
import { publishWithRetry } from './publish-with-retry.ts';

const fast = { initialMs: 1, maxMs: 5, factor: 2 };

function event(name: string): EventEnvelope {
  return {
    v: 1,
    cluster: 'c',
    kind: 'Mapping',
    namespace: 'default',
    name,
    op: 'upsert',
    resourceVersion: 'abc.0',
    generation: 0,
    observedAt: new Date(0).toISOString(),
    ingestor: 'test',
  };
}

describe('publishWithRetry', () => {
  test('publishWithRetry — retries failures with the same message id until stored once', async () => {
    const memory = new MemoryEventLog();
    const log = new FlakyEventLog(memory);
    log.failNext = 3;
    const failures: number[] = [];
    const ack = await publishWithRetry(log, event('a'), {
      signal: new AbortController().signal,
      log: silentLogger(),
      backoff: fast,
      onFailure: (_err, attempt) => failures.push(attempt),
    });
    assert.deepEqual(ack, { seq: 1, duplicate: false });
    assert.deepEqual(failures, [0, 1, 2]);
    assert.equal(log.attempts.length, 4);
    assert.equal(new Set(log.attempts).size, 1);
    assert.equal(await memory.lastSeq(), 1);
  });

  test('publishWithRetry — a lost acknowledgement is de-duplicated on retry', async () => {
    const memory = new MemoryEventLog();
    const log = new FlakyEventLog(memory);
    log.loseNextAck = true;
    const ack = await publishWithRetry(log, event('a'), {
      signal: new AbortController().signal,
      log: silentLogger(),
      backoff: fast,
    });
    assert.deepEqual(ack, { seq: 1, duplicate: true });
    assert.equal(await memory.lastSeq(), 1);
  });

  test('publishWithRetry — aborting stops the retries with the abort reason', async () => {
    const log = new FlakyEventLog(new MemoryEventLog());
    log.failing = true;
    const ac = new AbortController();
    const p = publishWithRetry(log, event('a'), { signal: ac.signal, log: silentLogger(), backoff: fast });
    setTimeout(() => ac.abort(new Error('stop')), 20);
    await assert.rejects(p, /stop/);
    assert.ok(log.attempts.length >= 1);
  });

  test('backoffDelay — grows exponentially within [d/2, d] and is capped', () => {
    const b = { initialMs: 100, maxMs: 1000, factor: 2 };
    for (let i = 0; i < 50; i++) {
      const d0 = backoffDelay(0, b);
      const d3 = backoffDelay(3, b);
      const d9 = backoffDelay(9, b);
      assert.ok(d0 >= 50 && d0 <= 100, `attempt 0: ${d0}`);
      assert.ok(d3 >= 400 && d3 <= 800, `attempt 3: ${d3}`);
      assert.ok(d9 >= 500 && d9 <= 1000, `attempt 9: ${d9}`);
    }
  });
});
