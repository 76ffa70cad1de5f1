/**
 * The {@link EventLog} contract suite: every implementation runs these same tests (see
 * `event-log.test.ts`). `open` returns a fresh, empty log per test and a cleanup that releases it.
 * Callers must ack durable deliveries in sequence order; the suite only relies on that.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ENVELOPE_VERSION, type EventEnvelope } from './envelope.ts';
import type { DurableDelivery, EventLog, LoggedEvent } from './event-log.ts';
import { clusterSubjects, subjectFor } from './subjects.ts';

export interface OpenedLog {
  log: EventLog;
  cleanup(): Promise<void>;
}

const TEST_TIMEOUT_MS = 20_000;
const WAIT_MS = 10_000;

export function eventLogContract(name: string, open: () => Promise<OpenedLog>): void {
  describe(`event log contract (${name})`, () => {
    const withLog = (fn: (log: EventLog) => Promise<void>) => async () => {
      const opened = await open();
      try {
        await fn(opened.log);
      } finally {
        await opened.cleanup();
      }
    };
    const opts = { timeout: TEST_TIMEOUT_MS };
    /** An iteration waiting on an empty log ends, having delivered nothing, once its signal aborts. */
    const endsWhenAborted = (iterate: (log: EventLog, signal: AbortSignal) => AsyncIterable<LoggedEvent>) =>
      withLog(async (log) => {
        const ac = new AbortController();
        const f = follower(iterate(log, ac.signal));
        await sleep(300);
        ac.abort();
        assert.deepEqual(await f.done(), []);
      });

    test(
      'lastSeq — is 0 on an empty log',
      opts,
      withLog(async (log) => {
        assert.equal(await log.lastSeq(), 0);
      }),
    );

    test(
      'publish — sequences start at 1 and increase by one per stored event',
      opts,
      withLog(async (log) => {
        const acks = [];
        for (const n of ['a', 'b', 'c']) acks.push(await log.publish(mapping('east', n)));
        assert.deepEqual(acks, [
          { seq: 1, duplicate: false },
          { seq: 2, duplicate: false },
          { seq: 3, duplicate: false },
        ]);
        assert.equal(await log.lastSeq(), 3);
      }),
    );

    test(
      'publish — a repeated message id appends nothing and returns the original sequence',
      opts,
      withLog(async (log) => {
        const first = mapping('east', 'a');
        assert.deepEqual(await log.publish(first), { seq: 1, duplicate: false });
        assert.deepEqual(await log.publish(mapping('east', 'b'), { msgId: 'explicit-1' }), {
          seq: 2,
          duplicate: false,
        });
        assert.deepEqual(await log.publish(structuredClone(first)), { seq: 1, duplicate: true });
        assert.deepEqual(await log.publish(mapping('east', 'c'), { msgId: 'explicit-1' }), {
          seq: 2,
          duplicate: true,
        });
        // Same object, new resourceVersion: a new change, so a new default id.
        assert.deepEqual(await log.publish({ ...first, resourceVersion: '2' }), { seq: 3, duplicate: false });
        assert.equal(await log.lastSeq(), 3);
        const stored = await collect(log.read({ fromSeq: 1 }));
        assert.deepEqual(
          stored.map((e) => [e.event.name, e.event.resourceVersion]),
          [
            ['a', '1'],
            ['b', '1'],
            ['a', '2'],
          ],
        );
      }),
    );

    test(
      'read — delivers an inclusive range in sequence order and caps it at the last sequence',
      opts,
      withLog(async (log) => {
        for (let i = 1; i <= 5; i++) await log.publish(mapping('east', `m${i}`));
        assert.deepEqual(seqs(await collect(log.read({ fromSeq: 2, toSeq: 4 }))), [2, 3, 4]);
        assert.deepEqual(seqs(await collect(log.read({ fromSeq: 1 }))), [1, 2, 3, 4, 5]);
        assert.deepEqual(seqs(await collect(log.read({ fromSeq: 4, toSeq: 99 }))), [4, 5]);
        assert.deepEqual(seqs(await collect(log.read({ fromSeq: 3, toSeq: 3 }))), [3]);
        assert.deepEqual(seqs(await collect(log.read({ fromSeq: 6 }))), []);
        assert.deepEqual(seqs(await collect(log.read({ fromSeq: 4, toSeq: 2 }))), []);
      }),
    );

    test(
      'read — ends at once on an empty log',
      opts,
      withLog(async (log) => {
        assert.deepEqual(await collect(log.read({ fromSeq: 1 })), []);
        assert.deepEqual(
          await collect(log.read({ fromSeq: 1, toSeq: 10, subjects: clusterSubjects('east') })),
          [],
        );
      }),
    );

    test(
      'read — toSeq defaults to the last sequence when the read starts',
      opts,
      withLog(async (log) => {
        for (let i = 1; i <= 3; i++) await log.publish(mapping('east', `m${i}`));
        const it = log.read({ fromSeq: 1 })[Symbol.asyncIterator]();
        const first = await it.next();
        assert.equal(first.done, false);
        assert.equal((first.value as LoggedEvent).seq, 1);
        await log.publish(mapping('east', 'late'));
        const rest: number[] = [];
        for (let r = await it.next(); !r.done; r = await it.next()) rest.push(r.value.seq);
        assert.deepEqual(rest, [2, 3]);
      }),
    );

    test(
      'read — subject filters select events, including per-cluster filters over both roots',
      opts,
      withLog(async (log) => {
        await log.publish(mapping('east', 'a')); // 1
        await log.publish(endpoints('west', 'svc')); // 2
        await log.publish(mapping('west', 'b')); // 3
        await log.publish(endpoints('east', 'svc')); // 4
        await log.publish(resync('east')); // 5
        await log.publish(mapping('west', 'c')); // 6
        await log.publish(mapping('north', 'd')); // 7
        assert.deepEqual(
          seqs(await collect(log.read({ fromSeq: 1, subjects: clusterSubjects('east') }))),
          [1, 4, 5],
        );
        assert.deepEqual(
          seqs(await collect(log.read({ fromSeq: 1, subjects: clusterSubjects('west') }))),
          [2, 3, 6],
        );
        assert.deepEqual(
          seqs(await collect(log.read({ fromSeq: 3, toSeq: 5, subjects: clusterSubjects('west') }))),
          [3],
        );
        assert.deepEqual(
          seqs(
            await collect(
              log.read({ fromSeq: 1, subjects: [...clusterSubjects('east'), ...clusterSubjects('north')] }),
            ),
          ),
          [1, 4, 5, 7],
        );
        assert.deepEqual(seqs(await collect(log.read({ fromSeq: 1, subjects: ['attache.ep.>'] }))), [2, 4]);
        assert.deepEqual(
          seqs(await collect(log.read({ fromSeq: 1, subjects: ['attache.ev.*.Mapping.>'] }))),
          [1, 3, 6, 7],
        );
        assert.deepEqual(seqs(await collect(log.read({ fromSeq: 1, subjects: [] }))), [1, 2, 3, 4, 5, 6, 7]);
        // Filters that match nothing in range still end the read.
        assert.deepEqual(
          seqs(await collect(log.read({ fromSeq: 1, subjects: clusterSubjects('south') }))),
          [],
        );
        assert.deepEqual(
          seqs(await collect(log.read({ fromSeq: 1, toSeq: 6, subjects: clusterSubjects('north') }))),
          [],
        );
      }),
    );

    test(
      'follow — delivers stored events, then later appends, until aborted',
      opts,
      withLog(async (log) => {
        await log.publish(mapping('east', 'a'));
        await log.publish(mapping('west', 'b'));
        await log.publish(mapping('east', 'c'));
        const ac = new AbortController();
        const all = follower(log.follow({ fromSeq: 2, signal: ac.signal }));
        const east = follower(
          log.follow({ fromSeq: 1, subjects: clusterSubjects('east'), signal: ac.signal }),
        );
        await all.waitFor(2);
        await log.publish(endpoints('east', 'svc'));
        await log.publish(mapping('west', 'd'));
        await all.waitFor(4);
        await east.waitFor(3);
        ac.abort();
        assert.deepEqual(seqs(await all.done()), [2, 3, 4, 5]);
        assert.deepEqual(seqs(await east.done()), [1, 3, 4]);
      }),
    );

    test(
      'follow — ends when aborted while waiting for new events',
      opts,
      endsWhenAborted((log, signal) => log.follow({ fromSeq: 1, signal })),
    );

    test(
      'durable — a new iteration resumes after the last acknowledged event',
      opts,
      withLog(async (log) => {
        for (let i = 1; i <= 4; i++) await log.publish(mapping('east', `m${i}`));
        const first = await takeDurable(log, 'compiler', 3, { ackAll: true });
        assert.deepEqual(seqs(first), [1, 2, 3]);
        await log.publish(mapping('east', 'm5'));
        const second = await takeDurable(log, 'compiler', 2, { ackAll: true });
        assert.deepEqual(seqs(second), [4, 5]);
        // Another name keeps its own position.
        assert.deepEqual(seqs(await takeDurable(log, 'other', 5, { ackAll: true })), [1, 2, 3, 4, 5]);
      }),
    );

    test(
      'durable — unacknowledged events are redelivered to the next iteration, in order',
      opts,
      withLog(async (log) => {
        for (let i = 1; i <= 4; i++) await log.publish(mapping('east', `m${i}`));
        const first = await takeDurable(log, 'compiler', 3, { ackFirst: 1 });
        assert.deepEqual(seqs(first), [1, 2, 3]);
        const second = await takeDurable(log, 'compiler', 3, { ackAll: true });
        assert.deepEqual(seqs(second), [2, 3, 4]);
        await log.publish(mapping('east', 'm5'));
        assert.deepEqual(seqs(await takeDurable(log, 'compiler', 1, { ackAll: true })), [5]);
      }),
    );

    test(
      'durable — subject filters select events and acks move past skipped ones',
      opts,
      withLog(async (log) => {
        await log.publish(mapping('east', 'a')); // 1
        await log.publish(endpoints('west', 'svc')); // 2
        await log.publish(mapping('west', 'b')); // 3
        await log.publish(endpoints('east', 'svc')); // 4
        const subjects = clusterSubjects('west');
        assert.deepEqual(seqs(await takeDurable(log, 'west', 2, { ackAll: true, subjects })), [2, 3]);
        await log.publish(mapping('east', 'c')); // 5
        await log.publish(mapping('west', 'd')); // 6
        assert.deepEqual(seqs(await takeDurable(log, 'west', 1, { ackAll: true, subjects })), [6]);
      }),
    );

    test(
      'durable — ends when aborted while waiting for new events',
      opts,
      endsWhenAborted((log, signal) => log.durable('idle', { signal })),
    );

    test(
      'envelope — every field round-trips through the log, on the subject subjectFor() gives',
      opts,
      withLog(async (log) => {
        const spec = {
          prefix: '/quote/',
          service: 'quote:80',
          weight: 0.5,
          retries: [1, 2, null],
          enabled: true,
        };
        const full: EventEnvelope = {
          v: ENVELOPE_VERSION,
          cluster: 'prod.eu-west',
          kind: 'Mapping',
          namespace: 'team a',
          name: 'quote.v2*>',
          op: 'upsert',
          resourceVersion: '123456',
          generation: 7,
          observedAt: '2024-05-01T12:34:56.789Z',
          ingestor: 'kubernetes/prod.eu-west/host-1',
          object: {
            apiVersion: 'getambassador.io/v3alpha1',
            kind: 'Mapping',
            metadata: {
              name: 'quote.v2*>',
              namespace: 'team a',
              uid: '0b6c6f8e-1111-2222-3333-444455556666',
              resourceVersion: '123456',
              generation: 7,
              labels: { app: 'quote', 'tier.example.com/x': 'ünïcødé' },
              annotations: { note: 'line1\nline2' },
            },
            spec,
          },
          origin: { file: 'dir/mappings.yaml', document: 2 },
        };
        const tomb: EventEnvelope = { ...mapping('prod.eu-west', 'gone'), op: 'delete', object: undefined };
        delete tomb.object;
        const expected = structuredClone(full);
        await log.publish(full);
        await log.publish(tomb);
        await log.publish(resync('prod.eu-west'));
        // History is immutable: changing the published object afterwards changes nothing stored.
        spec.prefix = '/changed/';
        const stored = await collect(log.read({ fromSeq: 1 }));
        assert.equal(stored.length, 3);
        assert.deepEqual(stored[0]?.event, expected);
        assert.equal(stored[0]?.subject, subjectFor(expected));
        assert.deepEqual(stored[1]?.event, tomb);
        assert.equal(stored[1]?.event.object, undefined);
        assert.deepEqual(stored[2]?.event, resync('prod.eu-west'));
        assert.equal(stored[2]?.subject, subjectFor(resync('prod.eu-west')));
      }),
    );

    test(
      'close — ends open follow and durable iterations',
      opts,
      withLog(async (log) => {
        await log.publish(mapping('east', 'a'));
        const signal = new AbortController().signal;
        const following = follower(log.follow({ fromSeq: 1, signal }));
        const consuming = follower(log.durable('closing', { signal }));
        await following.waitFor(1);
        await consuming.waitFor(1);
        await log.close();
        assert.deepEqual(seqs(await following.done()), [1]);
        assert.deepEqual(seqs(await consuming.done()), [1]);
      }),
    );

    test(
      'close — can be called twice',
      opts,
      withLog(async (log) => {
        await log.publish(mapping('east', 'a'));
        await log.close();
        await log.close();
        await assert.rejects(log.publish(mapping('east', 'b')));
      }),
    );
  });
}

function base(cluster: string, kind: string, name: string): EventEnvelope {
  return {
    v: ENVELOPE_VERSION,
    cluster,
    kind,
    namespace: 'default',
    name,
    op: 'upsert',
    resourceVersion: '1',
    generation: 1,
    observedAt: '2024-01-01T00:00:00.000Z',
    ingestor: `test/${cluster}/host`,
    object: {
      apiVersion: 'getambassador.io/v3alpha1',
      kind,
      metadata: { name, namespace: 'default', resourceVersion: '1', generation: 1 },
      spec: { prefix: `/${name}/`, service: name },
    },
  };
}

function mapping(cluster: string, name: string): EventEnvelope {
  return base(cluster, 'Mapping', name);
}

function endpoints(cluster: string, name: string): EventEnvelope {
  return base(cluster, 'EndpointSlice', name);
}

function resync(cluster: string): EventEnvelope {
  const e = base(cluster, '', '');
  delete e.object;
  return { ...e, op: 'resync', namespace: '', resourceVersion: 'r1' };
}

function seqs(events: readonly LoggedEvent[]): number[] {
  return events.map((e) => e.seq);
}

/** Drains a finite iterable, failing instead of hanging if it does not end. */
async function collect(iterable: AsyncIterable<LoggedEvent>): Promise<LoggedEvent[]> {
  const out: LoggedEvent[] = [];
  const drain = (async () => {
    for await (const e of iterable) out.push(e);
  })();
  await deadline(drain, `read did not end (got ${out.length} events)`);
  return out;
}

/** Runs an unbounded iteration in the background; `done` resolves once it returns. */
function follower<T extends LoggedEvent>(iterable: AsyncIterable<T>) {
  const seen: T[] = [];
  const waiters: Array<() => void> = [];
  const run = (async () => {
    for await (const e of iterable) {
      seen.push(e);
      for (const w of waiters.splice(0)) w();
    }
    return seen;
  })();
  // Observed through done(); a failing test may never get there.
  run.catch(() => {});
  return {
    seen,
    done: () => deadline(run, 'iteration did not end after abort'),
    async waitFor(count: number): Promise<void> {
      const reached = (async () => {
        while (seen.length < count) await new Promise<void>((resolve) => waiters.push(resolve));
      })();
      await deadline(reached, `expected ${count} deliveries, got ${seen.length}`);
    },
  };
}

/** Takes `count` durable deliveries in one iteration, acking as told, then ends the iteration. */
async function takeDurable(
  log: EventLog,
  name: string,
  count: number,
  how: { ackAll?: boolean; ackFirst?: number; subjects?: string[] },
): Promise<DurableDelivery[]> {
  const ac = new AbortController();
  const got: DurableDelivery[] = [];
  const run = (async () => {
    for await (const d of log.durable(name, { signal: ac.signal, subjects: how.subjects })) {
      got.push(d);
      if (how.ackAll || got.length <= (how.ackFirst ?? 0)) await d.ack();
      if (got.length === count) break;
    }
  })();
  try {
    await deadline(run, `durable ${name}: expected ${count} deliveries, got ${got.length}`);
  } finally {
    ac.abort();
  }
  return got;
}

async function deadline<T>(p: Promise<T>, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), WAIT_MS);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
