/**
 * The fs ingestor's incremental change path (parse cache, positional reuse of desired entries,
 * pending recomputed only for what changed) publishes exactly what a full reconciliation would:
 * after every random edit of a multi-document file — documents edited, inserted, deleted, made
 * malformed, given identities that duplicate another file's, block scalars holding `---` and
 * `...` lines — the events one long-running ingestor publishes equal, one for one, those a freshly
 * started ingestor publishes when it reconciles the same directory against a copy of the same log
 * (a full parse of every file and a comparison of every object).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { Registry } from 'prom-client';
import type { EventLog, LoggedEvent } from '../../../shared/events/event-log.ts';
import { MemoryEventLog } from '../../../shared/events/memory-event-log.ts';
import { silentLogger } from '../../../shared/runtime/logger.ts';
import { prng } from '../../compiler/test-prng.ts';
import { FsIngestor } from './fs-ingestor.ts';

type Random = () => number;
const pick = <T>(r: Random, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;

/** One document: mostly Mappings, some with block scalars or quoted strings holding marker-like lines. */
function document(r: Random, id: number, variant: number): string {
  const roll = r();
  if (roll < 0.04) return 'apiVersion: v1\nkind: Service\nmetadata:\n  name: x\n bad: indent';
  if (roll < 0.06) return '# only a comment';
  if (roll < 0.08) return '- not\n- an object';
  const lines = [
    'apiVersion: getambassador.io/v3alpha1',
    'kind: Mapping',
    `metadata: { name: m-${id}, namespace: ns }`,
    'spec:',
    `  prefix: /p-${id}/`,
    `  service: svc-${id % 7}:80`,
  ];
  if (variant % 3 === 1) lines.push(`  timeout_ms: ${1000 + variant}`);
  if (r() < 0.15) lines.push('  docs: |', '    ---', '    not a marker', '    ...', '    still text');
  if (r() < 0.1) lines.push(`  note: "two\n    --- lines ${variant}"`);
  if (r() < 0.1) lines.push('  headers: >-', `    folded ${variant}`, '    --- x');
  return lines.join('\n');
}

const ids = (n: number) => Array.from({ length: n }, (_, i) => i);

test('fs ingestor — incremental edits publish what a full reconciliation publishes', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'attache-fs-incremental-'));
  const events = new MemoryEventLog();
  const ingestors: FsIngestor[] = [];
  t.after(async () => {
    for (const i of ingestors) await i.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const start = async (log: EventLog) => {
    const ingestor = new FsIngestor({
      dir,
      cluster: 'dev',
      events: log,
      log: silentLogger(),
      registry: new Registry(),
      ingestorId: 'fs/dev/test',
      watch: false,
      pollIntervalMs: 3_600_000,
      antiEntropyIntervalMs: 0,
    });
    ingestors.push(ingestor);
    await ingestor.start();
    return ingestor;
  };
  const read = async (log: EventLog, fromSeq: number) => {
    const out: LoggedEvent[] = [];
    for await (const e of log.read({ fromSeq })) out.push(e);
    return out;
  };
  const shape = (xs: LoggedEvent[]) =>
    xs
      .filter(({ event: e }) => e.op !== 'resync')
      .map(({ event: e }) => [e.op, e.kind, e.namespace, e.name, e.resourceVersion, e.object, e.origin]);

  const r = prng(7);
  let next = 200;
  let variant = 0;
  const main = ids(next).map((id) => ({ id, text: document(r, id, 0) }));
  const extra: { id: number; text: string }[] = [];
  const write = (rel: string, docs: { text: string }[]) => {
    const file = path.join(dir, rel);
    fs.writeFileSync(`${file}.tmp~`, `${docs.map((d) => d.text).join('\n---\n')}\n`);
    fs.renameSync(`${file}.tmp~`, file);
  };
  write('main.yaml', main);
  write('extra.yaml', extra);
  const ingestor = await start(events);

  for (let step = 0; step < 120; step++) {
    const op = pick(r, ['edit', 'edit', 'edit', 'insert', 'delete', 'duplicate', 'unduplicate'] as const);
    const at = Math.floor(r() * main.length);
    const doc = main[at] as { id: number; text: string };
    if (op === 'edit') doc.text = document(r, doc.id, ++variant);
    else if (op === 'insert') main.splice(at, 0, { id: next, text: document(r, next++, 0) });
    else if (op === 'delete') main.splice(at, 1);
    else if (op === 'duplicate') extra.push({ id: doc.id, text: document(r, doc.id, ++variant) });
    else extra.splice(Math.floor(r() * extra.length), 1);
    write(
      op === 'duplicate' || op === 'unduplicate' ? 'extra.yaml' : 'main.yaml',
      op.endsWith('duplicate') ? extra : main,
    );

    // The reference: a new ingestor reconciling the same directory against a copy of the log.
    const before = await read(events, 1);
    const copy = new MemoryEventLog();
    for (const { event } of before) await copy.publish(event);
    const from = before.length + 1;

    await ingestor.flush();
    const reference = await start(copy);
    await reference.close();
    assert.deepEqual(
      shape(await read(events, from)),
      shape(await read(copy, from)),
      `step ${step}: ${op} at document ${at}`,
    );
  }
});
