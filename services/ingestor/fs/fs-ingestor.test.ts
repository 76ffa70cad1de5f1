import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, type TestContext, test } from 'node:test';
import { Registry } from 'prom-client';
import type { EventLog, LoggedEvent } from '../../../shared/events/event-log.ts';
import { MemoryEventLog } from '../../../shared/events/memory-event-log.ts';
import { ConfigError } from '../../../shared/runtime/errors.ts';
import { silentLogger } from '../../../shared/runtime/logger.ts';
import { captureLogs } from '../../../test/harness/capture-logs.ts';
import { FlakyEventLog } from '../shared/flaky-event-log.ts';
import { FsIngestor, type FsIngestorOptions } from './fs-ingestor.ts';

const CLUSTER = 'dev';
const fastRetry = { initialMs: 5, maxMs: 20, factor: 2 };

function mapping(name: string, prefix: string, namespace?: string): string {
  return [
    'apiVersion: getambassador.io/v3alpha1',
    'kind: Mapping',
    'metadata:',
    `  name: ${name}`,
    ...(namespace ? [`  namespace: ${namespace}`] : []),
    'spec:',
    `  prefix: ${prefix}`,
    '  service: backend:80',
  ].join('\n');
}

/** A temporary directory, an event log and the ingestors started on them; all closed after the test. */
function setup(t: TestContext, events: EventLog = new MemoryEventLog()) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'attache-fs-ingestor-'));
  const started: FsIngestor[] = [];
  t.after(async () => {
    for (const i of started) await i.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return {
    dir,
    events,
    write(rel: string, ...docs: string[]) {
      const file = path.join(dir, rel);
      fs.mkdirSync(path.dirname(file), { recursive: true });
      // Write-then-rename, as editors and `git checkout` do, so no scan sees half a file.
      fs.writeFileSync(`${file}.tmp~`, `${docs.join('\n---\n')}\n`);
      fs.renameSync(`${file}.tmp~`, file);
    },
    remove(rel: string) {
      fs.rmSync(path.join(dir, rel), { recursive: true });
    },
    async start(opts: Partial<FsIngestorOptions> = {}): Promise<FsIngestor> {
      const ingestor = new FsIngestor({
        dir,
        cluster: CLUSTER,
        events,
        log: silentLogger(),
        registry: new Registry(),
        ingestorId: 'fs/dev/test',
        pollIntervalMs: 60_000,
        backoff: fastRetry,
        ...opts,
      });
      started.push(ingestor);
      await ingestor.start();
      return ingestor;
    },
    async read(fromSeq = 1): Promise<LoggedEvent[]> {
      const out: LoggedEvent[] = [];
      for await (const e of events.read({ fromSeq })) out.push(e);
      return out;
    },
  };
}

/**
 * `op kind namespace/name` of each event, the shape most assertions compare. IngestError events
 * (load problems made visible to the compiler) are left out; {@link ingestErrors} lists them.
 */
function ops(events: LoggedEvent[]): string[] {
  return events
    .filter(({ event: e }) => e.kind !== 'IngestError')
    .map(({ event: e }) =>
      e.op === 'resync' ? 'resync' : `${e.op} ${e.kind} ${e.namespace ? `${e.namespace}/` : ''}${e.name}`,
    );
}

/** `op name` of each IngestError event. */
function ingestErrors(events: LoggedEvent[]): string[] {
  return events.filter(({ event: e }) => e.kind === 'IngestError').map(({ event: e }) => `${e.op} ${e.name}`);
}

async function eventually<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  deadlineMs = 5_000,
): Promise<T> {
  const until = Date.now() + deadlineMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function metricValue(
  registry: Registry,
  name: string,
  labels: Record<string, string>,
): Promise<number> {
  const metric = registry.getSingleMetric(name);
  const { values } = await (metric as NonNullable<typeof metric>).get();
  const hit = values.find((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x));
  return hit?.value ?? 0;
}

describe('FsIngestor', () => {
  test('fs ingestor — multi-document files in nested folders publish one upsert each in sorted order', async (t) => {
    const h = setup(t);
    h.write('b.yaml', mapping('b1', '/b1/'), '# empty', mapping('b2', '/b2/', 'prod'));
    h.write('a/z.yml', mapping('az', '/az/'));
    h.write('a/deep/er/x.yaml', mapping('x', '/x/'));
    h.write('.hidden.yaml', mapping('hidden', '/h/'));
    h.write('.git/config.yaml', mapping('git', '/g/'));
    h.write('notes.txt', 'not yaml');
    await h.start();

    const events = await h.read();
    assert.deepEqual(ops(events), [
      'upsert Mapping default/x',
      'upsert Mapping default/az',
      'upsert Mapping default/b1',
      'upsert Mapping prod/b2',
      'resync',
    ]);
    const b2 = events[3]?.event;
    assert.deepEqual(b2?.origin, { file: 'b.yaml', document: 2 });
    assert.equal(b2?.cluster, CLUSTER);
    assert.equal(b2?.ingestor, 'fs/dev/test');
    assert.equal(b2?.generation, 0);
    assert.match(b2?.resourceVersion ?? '', /^[0-9a-f]{16}\.0$/);
    assert.deepEqual(b2?.object?.spec, { prefix: '/b2/', service: 'backend:80' });
    assert.ok(!Number.isNaN(Date.parse(b2?.observedAt ?? '')));
    const resync = events[4]?.event;
    assert.deepEqual(
      [resync?.kind, resync?.namespace, resync?.name, resync?.resourceVersion],
      ['', '', '', 'resync.4'], // the marker's version is the sequence just before it,
    );

    // Same directory, fresh log: byte-for-byte the same sequence of messages.
    const other = new MemoryEventLog();
    const again = new FsIngestor({
      dir: h.dir,
      cluster: CLUSTER,
      events: other,
      log: silentLogger(),
      registry: new Registry(),
      ingestorId: 'fs/dev/test',
      watch: false,
    });
    await again.start();
    await again.close();
    const replay: LoggedEvent[] = [];
    for await (const e of other.read({ fromSeq: 1 })) replay.push(e);
    assert.deepEqual(
      replay.map((e) => [e.seq, e.subject, e.event.resourceVersion]),
      events.map((e) => [e.seq, e.subject, e.event.resourceVersion]),
    );
  });

  test('fs ingestor — an edit publishes exactly one upsert; an unchanged rescan publishes nothing', async (t) => {
    const h = setup(t);
    h.write('m.yaml', mapping('a', '/a/'), mapping('b', '/b/'));
    const ingestor = await h.start();
    const before = await h.events.lastSeq();
    h.write('m.yaml', mapping('a', '/a/'), `${mapping('b', '/b-v2/')}\n# reformatted`);
    await ingestor.flush();
    await ingestor.flush();
    const added = await h.read(before + 1);
    assert.deepEqual(ops(added), ['upsert Mapping default/b']);
    const [first] = await h.read();
    const bFirst = (await h.read()).find((e) => e.event.name === 'b');
    assert.ok(first);
    assert.equal(added[0]?.event.resourceVersion.split('.')[1], String(bFirst?.seq));
    assert.deepEqual(added[0]?.event.object?.spec, { prefix: '/b-v2/', service: 'backend:80' });
  });

  test('fs ingestor — edits, inserts and deletes in the middle of a 10,000-document file publish only those objects, with true lines', async (t) => {
    const h = setup(t);
    const docs = Array.from({ length: 10_000 }, (_, i) => mapping(`m-${i}`, `/m-${i}/`));
    const put = () => h.write('big.yaml', ...docs);
    put();
    const ingestor = await h.start();
    const step = async (edit: () => void): Promise<LoggedEvent[]> => {
      const before = await h.events.lastSeq();
      edit();
      put();
      await ingestor.flush();
      return h.read(before + 1);
    };
    let added = await step(() => {
      docs[5000] = mapping('m-5000', '/m-5000-v2/');
    });
    assert.deepEqual(ops(added), ['upsert Mapping default/m-5000']);
    assert.deepEqual(added[0]?.event.origin, { file: 'big.yaml', document: 5000 });

    added = await step(() => docs.splice(4000, 0, mapping('new', '/new/')));
    assert.deepEqual(ops(added), ['upsert Mapping default/new']);
    assert.deepEqual(added[0]?.event.origin, { file: 'big.yaml', document: 4000 });

    added = await step(() => docs.splice(7000, 1));
    assert.deepEqual(ops(added), ['delete Mapping default/m-6999']);

    // A broken document after the edits: its IngestError names the line it is on now.
    added = await step(() => {
      docs[8000] = `${mapping('m-7999', '/m-7999/')}\n  prefix: /duplicate/`;
    });
    assert.deepEqual(ops(added), []);
    const [error] = added.filter((e) => e.event.kind === 'IngestError');
    const spec = error?.event.object?.spec as { document?: number; line?: number } | undefined;
    const text = fs.readFileSync(path.join(h.dir, 'big.yaml'), 'utf8');
    const line = text.slice(0, text.indexOf('  prefix: /duplicate/')).split('\n').length;
    assert.deepEqual([spec?.document, spec?.line], [8000, line]);
  });

  test('fs ingestor — removing a document from a file publishes its delete', async (t) => {
    const h = setup(t);
    h.write('m.yaml', mapping('a', '/a/'), mapping('b', '/b/'), mapping('c', '/c/'));
    const ingestor = await h.start();
    const before = await h.events.lastSeq();
    h.write('m.yaml', mapping('a', '/a/'), mapping('c', '/c/'));
    await ingestor.flush();
    const added = await h.read(before + 1);
    assert.deepEqual(ops(added), ['delete Mapping default/b']);
    assert.equal(added[0]?.event.object, undefined);
    assert.deepEqual(added[0]?.event.origin, { file: 'm.yaml', document: 1 });
  });

  test('fs ingestor — deleting a file publishes a delete for every object it held', async (t) => {
    const h = setup(t);
    h.write('keep.yaml', mapping('keep', '/k/'));
    h.write('sub/gone.yaml', mapping('g1', '/g1/'), mapping('g2', '/g2/', 'prod'));
    const ingestor = await h.start();
    const before = await h.events.lastSeq();
    h.remove('sub');
    await ingestor.flush();
    assert.deepEqual(ops(await h.read(before + 1)), ['delete Mapping default/g1', 'delete Mapping prod/g2']);
  });

  test('fs ingestor — invalid YAML is a LoadError and deletes nothing; fixing it resumes publishing', async (t) => {
    const h = setup(t);
    const logs = captureLogs();
    h.write('m.yaml', mapping('a', '/a/'), mapping('b', '/b/'));
    h.write('other.yaml', mapping('o', '/o/'));
    const registry = new Registry();
    const ingestor = await h.start({ log: logs.log, registry });
    const before = await h.events.lastSeq();

    h.write('m.yaml', 'apiVersion: v1\nkind: [broken\n');
    await ingestor.flush();
    const broken = await h.read(before + 1);
    assert.deepEqual(ops(broken), [], 'a broken file must not delete what it defined');
    assert.deepEqual(ingestErrors(broken), ['upsert m.yaml#0'], 'the parse error reaches the log');
    const spec = broken[0]?.event.object?.spec as { message?: string } | undefined;
    assert.match(String(spec?.message), /invalid YAML/);
    const warning = logs.lines().find((l) => l.level === 40 && l.file === 'm.yaml');
    assert.ok(warning, 'the LoadError is logged at warn');
    assert.equal(warning.document, 0);
    assert.match(String(warning.msg), /m\.yaml document 0: invalid YAML/);
    assert.equal(await metricValue(registry, 'attache_ingestor_load_errors', { cluster: CLUSTER }), 1);

    // A document without metadata.name holds deletes the same way: the object may be in there.
    h.write('m.yaml', mapping('a', '/a/'), 'apiVersion: v1\nkind: Mapping\nmetadata: {}');
    await ingestor.flush();
    assert.deepEqual(ops(await h.read(before + 1)), []);

    h.write('m.yaml', mapping('a', '/a-v2/'));
    await ingestor.flush();
    const fixed = await h.read(before + 1);
    assert.deepEqual(ops(fixed), ['upsert Mapping default/a', 'delete Mapping default/b']);
    assert.ok(ingestErrors(fixed).includes('delete m.yaml#0'), 'the fixed file clears its IngestError');
    assert.equal(await metricValue(registry, 'attache_ingestor_load_errors', { cluster: CLUSTER }), 0);
  });

  test('fs ingestor — a directory that vanishes deletes nothing; its return publishes only real changes', async (t) => {
    const h = setup(t);
    const sub = path.join(h.dir, 'src');
    fs.mkdirSync(sub);
    fs.writeFileSync(path.join(sub, 'a.yaml'), mapping('a', '/a/'));
    fs.writeFileSync(path.join(sub, 'b.yaml'), mapping('b', '/b/'));
    const ingestor = new FsIngestor({
      dir: sub,
      cluster: CLUSTER,
      events: h.events,
      log: silentLogger(),
      registry: new Registry(),
      pollIntervalMs: 60_000,
    });
    t.after(() => ingestor.close());
    await ingestor.start();
    const before = await h.events.lastSeq();
    fs.renameSync(sub, path.join(h.dir, 'unmounted'));
    await ingestor.flush();
    assert.deepEqual(ops(await h.read(before + 1)), [], 'an unreadable root holds every object');
    fs.mkdirSync(sub);
    fs.writeFileSync(path.join(sub, 'a.yaml'), mapping('a', '/a/'));
    await ingestor.flush();
    assert.deepEqual(ops(await h.read(before + 1)), ['delete Mapping default/b']);
  });

  test('fs ingestor — restart reconciles with the log: one delete, one upsert, nothing for unchanged objects', async (t) => {
    const h = setup(t);
    h.write('a.yaml', mapping('a', '/a/'));
    h.write('b.yaml', mapping('b', '/b/'));
    h.write('c.yaml', mapping('c', '/c/'));
    const first = await h.start();
    await first.close();
    const before = await h.events.lastSeq();

    h.remove('b.yaml');
    h.write('c.yaml', mapping('c', '/c-v2/'));
    await h.start({ ingestorId: 'fs/dev/second' });
    const added = await h.read(before + 1);
    assert.deepEqual(ops(added), ['upsert Mapping default/c', 'delete Mapping default/b', 'resync']);
    assert.equal(added[2]?.event.resourceVersion, `resync.${before + 2}`);
    assert.equal(added[0]?.event.ingestor, 'fs/dev/second');
  });

  test('fs ingestor — restart with a broken file keeps its objects and publishes no deletes', async (t) => {
    const h = setup(t);
    h.write('a.yaml', mapping('a', '/a/'));
    h.write('b.yaml', mapping('b', '/b/'));
    await (await h.start()).close();
    const before = await h.events.lastSeq();
    h.write('b.yaml', 'kind: Mapping\nmetadata: {name: b}\nspec: {prefix: [\n');
    await h.start();
    assert.deepEqual(ops(await h.read(before + 1)), ['resync']);
  });

  test('fs ingestor — reverting to earlier content publishes a new event', async (t) => {
    const h = setup(t);
    h.write('m.yaml', mapping('a', '/v1/'));
    const ingestor = await h.start();
    h.write('m.yaml', mapping('a', '/v2/'));
    await ingestor.flush();
    h.write('m.yaml', mapping('a', '/v1/'));
    await ingestor.flush();
    const ups = (await h.read()).filter((e) => e.event.op === 'upsert');
    assert.equal(ups.length, 3);
    const [v1, v2, back] = ups.map((e) => e.event.resourceVersion.split('.'));
    assert.equal(back?.[0], v1?.[0], 'same content, same hash');
    assert.notEqual(back?.[0], v2?.[0]);
    assert.deepEqual(
      ups.map((e) => e.event.resourceVersion.split('.')[1]),
      ['0', String(ups[0]?.seq), String(ups[1]?.seq)],
    );
  });

  test('fs ingestor — duplicate identity is a LoadError naming both places; the first copy is published', async (t) => {
    const h = setup(t);
    const logs = captureLogs();
    h.write('a.yaml', mapping('same', '/first/'));
    h.write('b.yaml', mapping('same', '/second/', 'default'));
    const ingestor = await h.start({ log: logs.log });
    const events = await h.read();
    assert.deepEqual(ops(events), ['upsert Mapping default/same', 'resync']);
    assert.deepEqual(events[0]?.event.object?.spec, { prefix: '/first/', service: 'backend:80' });
    const warning = logs.lines().find((l) => l.level === 40 && l.file === 'b.yaml');
    assert.equal(warning?.kind, 'Mapping');
    assert.equal(warning?.name, 'same');
    assert.match(String(warning?.msg), /already defined in a\.yaml document 0.*b\.yaml document 0/);

    // Removing the winner promotes the other copy: one upsert, no delete.
    const before = await h.events.lastSeq();
    h.remove('a.yaml');
    await ingestor.flush();
    const added = await h.read(before + 1);
    assert.deepEqual(ops(added), ['upsert Mapping default/same']);
    assert.deepEqual(added[0]?.event.object?.spec, { prefix: '/second/', service: 'backend:80' });
  });

  test('fs ingestor — a later duplicate that sorts earlier never replaces the established object', async (t) => {
    const h = setup(t);
    const logs = captureLogs();
    h.write('m.yaml', mapping('echo', '/echo/', 'default'));
    const ingestor = await h.start({ log: logs.log });
    const before = await h.events.lastSeq();
    h.write('00-hostile.yaml', mapping('echo', '/nowhere/', 'default'));
    await ingestor.flush();
    assert.deepEqual(ops(await h.read(before + 1)), [], 'nothing is republished');
    const warning = logs.lines().find((l) => l.level === 40 && l.file === '00-hostile.yaml');
    assert.match(
      String(warning?.msg),
      /already defined in m\.yaml document 0.*established first and keeps serving.*00-hostile\.yaml document 0/,
    );

    // A restarted ingestor reads the established origin from the log and keeps it too.
    await ingestor.close();
    const restarted = await h.start();
    assert.deepEqual(ops(await h.read(before + 1)), ['resync']);

    // Editing the established copy still publishes it.
    const mid = await h.events.lastSeq();
    h.write('m.yaml', mapping('echo', '/echo-v2/', 'default'));
    await restarted.flush();
    const edits = (await h.read(mid + 1)).filter((e) => e.event.op === 'upsert');
    assert.deepEqual(edits[0]?.event.object?.spec, { prefix: '/echo-v2/', service: 'backend:80' });
  });

  test('fs ingestor — fs.watch publishes a change without flush or a rescan', async (t) => {
    const h = setup(t);
    h.write('m.yaml', mapping('a', '/a/'));
    await h.start({ pollIntervalMs: 600_000 });
    const before = await h.events.lastSeq();
    // The post-start scan syncs the watchers onto the tree; new subdirectories get watched too.
    h.write('m.yaml', mapping('a', '/a-v2/'));
    const edit = await eventually('upsert from the watcher', async () => {
      const added = await h.read(before + 1);
      return added.length > 0 ? added : undefined;
    });
    assert.deepEqual(ops(edit), ['upsert Mapping default/a']);

    fs.mkdirSync(path.join(h.dir, 'sub'));
    await eventually('subdirectory watched', async () => {
      h.write('sub/n.yaml', mapping('n', '/n/'));
      await new Promise((r) => setTimeout(r, 100));
      const added = await h.read(before + 2);
      return added.length > 0 ? added : undefined;
    });
    assert.deepEqual(ops(await h.read(before + 2)), ['upsert Mapping default/n']);
  });

  test('fs ingestor — with watching off, the periodic rescan still publishes changes', async (t) => {
    const h = setup(t);
    h.write('m.yaml', mapping('a', '/a/'));
    await h.start({ watch: false, pollIntervalMs: 30 });
    const before = await h.events.lastSeq();
    h.remove('m.yaml');
    const added = await eventually('delete from the rescan', async () => {
      const events = await h.read(before + 1);
      return events.length > 0 ? events : undefined;
    });
    assert.deepEqual(ops(added), ['delete Mapping default/a']);
  });

  test('fs ingestor — failed publishes are retried with the same id; changes made meanwhile are coalesced', async (t) => {
    const memory = new MemoryEventLog();
    const flaky = new FlakyEventLog(memory);
    const h = setup(t, flaky);
    const registry = new Registry();
    h.write('a.yaml', mapping('a', '/a/'));
    h.write('b.yaml', mapping('b', '/b/'));
    flaky.failNext = 2;
    const ingestor = await h.start({ registry, watch: false, pollIntervalMs: 20 });
    // a and b each failed once and were retried on their own jittered backoff, so either may land
    // first; the resync marker waits for both.
    const initial = ops(await h.read());
    assert.deepEqual(initial.slice(0, 2).sort(), ['upsert Mapping default/a', 'upsert Mapping default/b']);
    assert.equal(initial[2], 'resync');
    assert.equal(initial.length, 3);
    assert.deepEqual(
      [...flaky.attempts.slice(2, 4)].sort(),
      [...flaky.attempts.slice(0, 2)].sort(),
      'each retry reuses its message id',
    );

    const before = await h.events.lastSeq();
    flaky.failing = true;
    h.write('a.yaml', mapping('a', '/a-v2/'));
    h.write('b.yaml', mapping('b', '/b-v2/'));
    const stuck = flaky.attempts.length;
    await eventually('publish attempts failing', async () =>
      flaky.attempts.length > stuck + 2 ? true : undefined,
    );
    h.write('b.yaml', mapping('b', '/b-v3/'));
    h.write('c.yaml', mapping('c', '/c/'));
    // Once a rescan has seen c.yaml it has seen b-v3 too (written before it).
    await eventually('three pending changes', async () =>
      (await metricValue(registry, 'attache_ingestor_pending_changes', { cluster: CLUSTER })) === 3
        ? true
        : undefined,
    );
    assert.deepEqual(await h.read(before + 1), []);

    flaky.failing = false;
    await ingestor.flush();
    // Retries are per object, so objects retried on their own backoff may land in any order.
    const added = (await h.read(before + 1)).sort((x, y) => (x.event.name < y.event.name ? -1 : 1));
    assert.deepEqual(ops(added), [
      'upsert Mapping default/a',
      'upsert Mapping default/b',
      'upsert Mapping default/c',
    ]);
    assert.deepEqual(
      added[1]?.event.object?.spec,
      { prefix: '/b-v3/', service: 'backend:80' },
      'b-v2 coalesced',
    );
    assert.equal(await metricValue(registry, 'attache_ingestor_pending_changes', { cluster: CLUSTER }), 0);
    assert.ok(
      (await metricValue(registry, 'attache_ingestor_publish_failures_total', { cluster: CLUSTER })) >= 4,
    );
    assert.equal(
      await metricValue(registry, 'attache_ingestor_events_published_total', {
        cluster: CLUSTER,
        op: 'upsert',
      }),
      5,
    );
  });

  test('fs ingestor — a directory that does not exist fails start with a ConfigError', async () => {
    const ingestor = new FsIngestor({
      dir: path.join(os.tmpdir(), `attache-no-such-dir-${process.pid}`),
      cluster: CLUSTER,
      events: new MemoryEventLog(),
      log: silentLogger(),
      registry: new Registry(),
    });
    await assert.rejects(ingestor.start(), ConfigError);
    assert.equal(ingestor.ready(), false);
    await ingestor.close();
  });

  test('fs ingestor — ready after start, not after close; flush after close rejects', async (t) => {
    const h = setup(t);
    h.write('m.yaml', mapping('a', '/a/'));
    const ingestor = await h.start();
    assert.equal(ingestor.ready(), true);
    await ingestor.close();
    assert.equal(ingestor.ready(), false);
    await assert.rejects(ingestor.flush(), /closed/);
  });

  test('fs ingestor — anti-entropy republishes an object whose newest event is a forged tombstone, within its period', async (t) => {
    const env = setup(t);
    env.write('a.yaml', mapping('kept', '/kept/'), mapping('victim', '/victim/'));
    const registry = new Registry();
    const { log, lines } = captureLogs();
    await env.start({ antiEntropyIntervalMs: 100, registry, log });
    const original = (await env.read()).find((e) => e.event.name === 'victim' && e.event.op === 'upsert');
    assert.ok(original);
    // Someone with write access to the log (an operator, a compromised client) publishes a
    // tombstone the directory does not support.
    const forged = await env.events.publish({
      ...original.event,
      op: 'delete',
      object: undefined,
      resourceVersion: 'forged',
    });
    const repaired = await eventually('the upsert to be republished after the tombstone', async () =>
      (await env.read(forged.seq + 1)).find((e) => e.event.name === 'victim' && e.event.op === 'upsert'),
    );
    assert.deepEqual(repaired.event.object, original.event.object, 'the directory’s object, unchanged');
    assert.equal(
      await metricValue(registry, 'attache_ingestor_anti_entropy_repairs_total', { cluster: CLUSTER }),
      1,
    );
    assert.ok(
      lines().some((l) => String(l.msg).startsWith('anti-entropy:') && l.level === 40),
      'a warning says so',
    );
    // Nothing else was republished, and the repair is not repeated.
    await new Promise((r) => setTimeout(r, 400));
    assert.deepEqual(ops(await env.read(forged.seq + 1)), ['upsert Mapping default/victim']);
  });
});

describe('FsIngestor isolation', () => {
  test('fs ingestor — an object too large for the log is recorded as rejected and later changes flow on', async (t) => {
    // A log with a 64 KiB max_payload stands in for NATS's; the JetStream log refuses the same way.
    const h = setup(t, new MemoryEventLog(120_000, 64 * 1024));
    h.write('a.yaml', mapping('first', '/first/'));
    const ingestor = await h.start();
    const before = await h.events.lastSeq();
    // Random text does not compress: far over the limit even deflated.
    const noise = Array.from({ length: 200_000 }, () => Math.random().toString(36).slice(2, 3)).join('');
    h.write(
      'b.yaml',
      [
        'apiVersion: getambassador.io/v3alpha1',
        'kind: Mapping',
        'metadata:',
        '  name: huge',
        `  annotations: { note: "${noise}" }`,
        'spec:',
        '  prefix: /huge/',
        '  service: backend:80',
      ].join('\n'),
    );
    h.write('c.yaml', mapping('after', '/after/'));
    await ingestor.flush();
    const added = await h.read(before + 1);
    assert.deepEqual(ops(added), ['reject Mapping default/huge', 'upsert Mapping default/after']);
    const rejected = added.find((e) => e.event.op === 'reject')!.event;
    assert.match(String(rejected.reason), /over the log's max_payload of 65536 bytes/);
    assert.equal(rejected.object, undefined);

    // Nothing is retried while the file is unchanged; deleting it publishes the tombstone.
    const mid = await h.events.lastSeq();
    await ingestor.flush();
    assert.deepEqual(ops(await h.read(mid + 1)), []);
    h.remove('b.yaml');
    await ingestor.flush();
    assert.deepEqual(ops(await h.read(mid + 1)), ['delete Mapping default/huge']);
    assert.ok(ingestor.ready());
  });

  test('fs ingestor — bytes that are not UTF-8 are an IngestError naming the file and byte offset', async (t) => {
    const h = setup(t);
    const ingestor = await h.start();
    const before = await h.events.lastSeq();
    const text = Buffer.from(`${mapping('latin', '/caf')}`, 'utf8');
    fs.writeFileSync(path.join(h.dir, 'latin.yaml'), Buffer.concat([text, Buffer.from([0xe9, 0x2f, 0x0a])]));
    await ingestor.flush();
    const added = await h.read(before + 1);
    assert.deepEqual(ops(added), [], 'nothing mangled is published');
    assert.deepEqual(ingestErrors(added), ['upsert latin.yaml']);
    const spec = added[0]?.event.object?.spec as { message?: string } | undefined;
    assert.equal(spec?.message, `not valid UTF-8: invalid byte 0xe9 at byte offset ${text.length}`);
  });

  test('fs ingestor — a source whose publishes keep failing is reported stalled', async (t) => {
    const events = new FlakyEventLog(new MemoryEventLog());
    const h = setup(t, events);
    const registry = new Registry();
    const ingestor = await h.start({ registry, stallAfterMs: 0 });
    assert.ok(ingestor.ready());
    events.failing = true;
    h.write('m.yaml', mapping('a', '/a/'));
    void ingestor.flush().catch(() => {});
    await eventually('stalled', async () => (ingestor.ready() ? undefined : true));
    assert.equal(await metricValue(registry, 'attache_ingestor_stalled', { cluster: CLUSTER }), 1);
    events.failing = false;
    await eventually('recovered', async () => (ingestor.ready() ? true : undefined));
  });
});
