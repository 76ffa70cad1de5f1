/**
 * One fuzz round on the real tiers: a golden case's inputs are written to a YAML directory that an
 * `attache dev` pipeline ingests into a real JetStream log and compiles into a real Redis store.
 * Once settled, its committed resources are the baseline. Then the hostile items are added — YAML
 * documents and files in the directory, raw messages published straight into the stream — and the
 * round checks, within deadlines:
 *
 * - no crash: the pipeline reports no fatal error;
 * - no stall: the ingestor flushes and the compiler commits the log's last sequence;
 * - isolation: every committed resource (type, name, hash) equals the baseline;
 * - diagnosis: every hostile item has an error diagnostic naming it, and every new error names a
 *   hostile item (never blames a good object); a message over max_payload is refused by the server.
 *
 * A round returns its failures instead of throwing, so the caller can minimise the input.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { jetstream } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import type { DevPipeline } from '../../services/cli/dev.ts';
import type { Diagnostic } from '../../services/compiler/contracts.ts';
import { GOLDEN_ROOT, loadCase } from '../../services/compiler/golden-cases.ts';
import { startTestDevPipeline } from '../harness/dev-pipeline.ts';
import { freePort } from '../harness/ports.ts';
import { startNats, type TestServer } from '../harness/servers.ts';
import { type GoodIdentity, type Item, oversizeBytes } from './generate.ts';

const GROUP = 'default';
const CLUSTER = 'fz';
/** Documents per batch file: many objects without thousands of files to rescan. */
const DOCS_PER_FILE = 25;

export interface RoundInput {
  golden: string;
  items: Item[];
}

export interface RoundResult {
  failures: string[];
  /** Committed resources of the baseline, and new error diagnostics after the items. */
  resources: number;
  errors: number;
  ms: number;
}

/**
 * Golden cases the fuzzer mixes into: single-cluster cases without compile options (their
 * inputs are one YAML directory as `attache dev` reads it).
 */
export function fuzzableCases(): string[] {
  return fs
    .readdirSync(GOLDEN_ROOT)
    .filter((name) => {
      const dir = path.join(GOLDEN_ROOT, name);
      if (!fs.existsSync(path.join(dir, 'in')) || fs.existsSync(path.join(dir, 'options.json'))) return false;
      return fs.readdirSync(path.join(dir, 'in'), { withFileTypes: true }).every((e) => e.isFile());
    })
    .sort();
}

/** Identities of a golden case's objects (what a duplicate copies). */
export function goodIdentities(golden: string): GoodIdentity[] {
  return loadCase(golden).flatMap(({ object }) =>
    typeof object.metadata?.name === 'string'
      ? [
          {
            apiVersion: object.apiVersion,
            kind: object.kind,
            name: object.metadata.name,
            ...(object.metadata.namespace ? { namespace: object.metadata.namespace } : {}),
          },
        ]
      : [],
  );
}

/** The server's max_payload, for sizing the near-limit and oversize messages. */
export async function maxPayloadOf(nats: TestServer): Promise<number> {
  const nc = await connect({ servers: nats.url });
  try {
    return nc.info?.max_payload ?? 1024 * 1024;
  } finally {
    await nc.close();
  }
}

type Located = { item: Item; file?: string; document?: number };

/** Runs one round against a fresh nats-server (a clean stream) and the given Redis. */
export async function runRound(
  input: RoundInput,
  redisUrl: string,
  opts: { deadlineMs?: number } = {},
): Promise<RoundResult> {
  const started = Date.now();
  const deadlineMs = opts.deadlineMs ?? 120_000;
  const failures: string[] = [];
  const nats = await startNats();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'attache-fuzz-'));
  let fatal: unknown;
  let pipeline: (DevPipeline & { close(): Promise<void> }) | undefined;
  try {
    for (const f of fs.readdirSync(path.join(GOLDEN_ROOT, input.golden, 'in')))
      fs.copyFileSync(path.join(GOLDEN_ROOT, input.golden, 'in', f), path.join(dir, f));
    pipeline = await startTestDevPipeline({
      configDirs: [dir],
      cluster: CLUSTER,
      groups: [GROUP],
      bind: '127.0.0.1',
      xdsPort: await freePort(),
      adminPort: await freePort(),
      natsUrl: nats.url,
      redisUrl,
      redisPrefix: `attache-fuzz-${process.pid}-${started}-${Math.random().toString(36).slice(2)}:`,
    }).catch((err: unknown) => {
      fatal = err;
      return undefined;
    });
    if (!pipeline) return done([`the pipeline did not start: ${String(fatal)}`]);
    await settle(pipeline, deadlineMs);
    const baseline = await committed(pipeline);
    const before = errorsOf(pipeline);

    const located = await addItems(input.items, dir, nats.url, failures);
    const stalled = await settle(pipeline, deadlineMs).then(
      () => undefined,
      (err: unknown) => `stall: not settled within ${deadlineMs} ms after the hostile items (${String(err)})`,
    );
    if (stalled) failures.push(stalled);
    const after = await committed(pipeline);
    for (const [key, hash] of baseline)
      if (after.get(key) !== hash)
        failures.push(`good resource changed: ${key} ${hash} → ${after.get(key) ?? 'missing'}`);
    for (const [key] of after)
      if (!baseline.has(key)) failures.push(`resource added by a hostile item: ${key}`);

    const beforeKeys = new Set(before.map((d) => JSON.stringify(d)));
    const fresh = errorsOf(pipeline).filter((d) => !beforeKeys.has(JSON.stringify(d)));
    for (const l of located) {
      if (l.item.t === 'event' && l.item.name === null) continue;
      if (!fresh.some((d) => names(d, l))) failures.push(`not diagnosed: ${describe(l)}`);
    }
    for (const d of fresh)
      if (!located.some((l) => names(d, l)))
        failures.push(
          `an error names no hostile item: ${d.source.kind} ${d.source.namespace}/${d.source.name} (${d.source.file ?? ''}): ${d.message.slice(0, 200)}`,
        );
    if (fatal) failures.push(`fatal: ${String(fatal)}`);
    return done(failures, baseline.size, fresh.length);
  } catch (err) {
    return done([...failures, `round threw: ${err instanceof Error ? err.stack : String(err)}`]);
  } finally {
    await pipeline?.close().catch(() => {});
    await nats.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  }

  function done(f: string[], resources = 0, errors = 0): RoundResult {
    return { failures: f, resources, errors, ms: Date.now() - started };
  }
}

/** Writes documents (in batch files that sort before the golden ones), files, and raw events. */
async function addItems(
  items: readonly Item[],
  dir: string,
  natsUrl: string,
  failures: string[],
): Promise<Located[]> {
  const located: Located[] = [];
  const docs = items.filter((i) => i.t === 'doc');
  for (let b = 0; b * DOCS_PER_FILE < docs.length; b++) {
    const file = `00-fz-${String(b).padStart(4, '0')}.yaml`;
    const batch = docs.slice(b * DOCS_PER_FILE, (b + 1) * DOCS_PER_FILE);
    batch.forEach((item, document) => {
      located.push({ item, file, document });
    });
    fs.writeFileSync(path.join(dir, file), batch.map((d) => `---\n${d.yaml}`).join(''));
  }
  for (const item of items) {
    if (item.t !== 'file') continue;
    located.push({ item, file: item.file });
    fs.writeFileSync(path.join(dir, item.file), Buffer.from(item.b64, 'base64'));
  }
  const events = items.filter((i) => i.t === 'event');
  if (events.length === 0) return located;
  const nc = await connect({ servers: natsUrl });
  try {
    const js = jetstream(nc);
    const maxPayload = nc.info?.max_payload ?? 1024 * 1024;
    for (const item of events) {
      located.push({ item });
      const data = item.name === null ? oversizeBytes(maxPayload) : Buffer.from(item.b64, 'base64');
      const stored = await js.publish(item.subject, data).then(
        () => true,
        () => false,
      );
      if (item.name === null && stored)
        failures.push(`the server stored an oversize message on ${item.subject}`);
      if (item.name !== null && !stored)
        failures.push(`could not publish the raw message on ${item.subject}`);
    }
  } finally {
    await nc.close();
  }
  return located;
}

function names(d: Diagnostic, l: Located): boolean {
  const { item } = l;
  if (item.t === 'event') return d.source.name === item.name;
  if (item.t === 'file') return d.source.file === item.file || d.source.name === item.file;
  const here = d.source.file === l.file && d.source.document === l.document;
  return item.duplicate ? here : here || d.source.name === item.name;
}

function describe(l: Located): string {
  const { item } = l;
  if (item.t === 'event') return `raw event ${item.subject} (${item.b64.length} base64 chars)`;
  if (item.t === 'file') return `file ${item.file}`;
  return `${item.duplicate ? 'duplicate ' : ''}document ${l.file}#${l.document} ${item.name}: ${item.yaml.slice(0, 300)}`;
}

function errorsOf(p: DevPipeline): Diagnostic[] {
  const ds = p.compiler.groupStatus().find((g) => g.group === GROUP)?.diagnostics ?? [];
  return ds.filter((d) => d.severity === 'error');
}

async function committed(p: DevPipeline): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const version = await p.store.head(GROUP);
  if (version === null) return out;
  const manifest = await p.store.getManifest(GROUP, version);
  for (const [typeUrl, t] of Object.entries(manifest?.types ?? {}))
    for (const r of t.resources) out.set(`${typeUrl} ${r.name}`, r.hash);
  return out;
}

/** Every ingestor flushed and the head is the log's last sequence, within the deadline. */
async function settle(p: DevPipeline, deadlineMs: number): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  const flushed = Promise.all(p.ingestors.map((i) => i.flush()));
  await Promise.race([
    flushed,
    new Promise((_, reject) =>
      setTimeout(() => reject(new Error('ingestor flush timed out')), deadlineMs).unref(),
    ),
  ]);
  for (;;) {
    const last = await p.events.lastSeq();
    await p.compiler.idle();
    if ((await p.store.head(GROUP)) === last) return;
    if (Date.now() > deadline) throw new Error(`head ${await p.store.head(GROUP)} never reached ${last}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
