import assert from 'node:assert/strict';
import { test } from 'node:test';
import { objectKey } from '../../../shared/events/envelope.ts';
import type { LoggedEvent } from '../../../shared/events/event-log.ts';
import { MemoryEventLog } from '../../../shared/events/memory-event-log.ts';
import { silentLogger } from '../../../shared/runtime/logger.ts';
import { type DesiredState, PublishQueue } from './publish-queue.ts';

const state = (name: string, note: string): DesiredState => ({
  key: objectKey({ cluster: 'k', kind: 'Mapping', namespace: 'default', name }),
  kind: 'Mapping',
  namespace: 'default',
  name,
  group: 'getambassador.io',
  op: 'upsert',
  resourceVersion: `${name}-1`,
  hash: `${name}-${note.length}`,
  object: {
    apiVersion: 'getambassador.io/v3alpha1',
    kind: 'Mapping',
    metadata: { name, namespace: 'default', annotations: { note } },
    spec: { prefix: `/${name}/`, service: 'backend' },
  },
});

test('publish queue — an object too large for the log is recorded as rejected; the others are published', async () => {
  // A 64 KiB max_payload stands in for NATS's; random text does not compress under it.
  const events = new MemoryEventLog(120_000, 64 * 1024);
  const abort = new AbortController();
  const queue = new PublishQueue({
    cluster: 'k',
    ingestorId: 'k8s/k/test',
    events,
    log: silentLogger(),
    signal: abort.signal,
    backoff: { initialMs: 1, maxMs: 5, factor: 2 },
  });
  const noise = Array.from({ length: 200_000 }, () => Math.random().toString(36).slice(2, 3)).join('');
  queue.offer(state('huge', noise));
  queue.offer(state('small', 'fine'));
  await queue.idle();
  const logged: LoggedEvent[] = [];
  for await (const e of events.read({ fromSeq: 1 })) logged.push(e);
  assert.deepEqual(logged.map((e) => `${e.event.op} ${e.event.name}`).sort(), [
    'reject huge',
    'upsert small',
  ]);
  assert.match(String(logged.find((e) => e.event.op === 'reject')?.event.reason), /max_payload/);
  // The rejected version counts as handled: offering it again publishes nothing.
  assert.equal(queue.offer(state('huge', noise)), 'unchanged');
  abort.abort();
});

test('publish queue — held back while canPublish says no, published once it says yes; pause drops what is pending', async () => {
  const events = new MemoryEventLog();
  const abort = new AbortController();
  let leader = false;
  const queue = new PublishQueue({
    cluster: 'k',
    ingestorId: 'k8s/k/test',
    events,
    log: silentLogger(),
    signal: abort.signal,
    backoff: { initialMs: 1, maxMs: 5, factor: 2 },
    canPublish: () => leader,
  });
  const names = async () => {
    const out: string[] = [];
    for await (const e of events.read({ fromSeq: 1 })) out.push(e.event.name);
    return out;
  };
  assert.equal(queue.offer(state('a', 'x')), 'queued');
  await new Promise((r) => setTimeout(r, 300));
  assert.deepEqual(await names(), [], 'nothing is sent while the replica does not lead');
  // The renewal comes back without a leadership change: the queue asks again by itself.
  leader = true;
  await queue.idle();
  assert.deepEqual(await names(), ['a']);
  // Leadership lost: pending states are dropped, nothing more is sent.
  leader = false;
  assert.equal(queue.offer(state('b', 'x')), 'queued');
  queue.pause();
  assert.equal(queue.size, 0);
  await queue.idle();
  leader = true;
  queue.resume();
  await new Promise((r) => setTimeout(r, 300));
  assert.deepEqual(await names(), ['a'], 'a dropped state is not sent after resuming');
  // The next leader term publishes what is offered again.
  assert.equal(queue.offer(state('b', 'x')), 'queued');
  await queue.idle();
  assert.deepEqual(await names(), ['a', 'b']);
  abort.abort();
});
