/**
 * Publishes per-object status to the NATS KV bucket `ATTACHE_STATUS` (shared/events/status-keys.ts)
 * after each commit, so every cluster's ingestor can write it back to Kubernetes.
 *
 * - A key is written only when its (state, reason) differs from what the bucket holds; `version`
 *   records the snapshot that first produced that state. On start the bucket's current values are
 *   loaded (in the background once the first commit is made, off the compiler's start-up;
 *   nothing is written before they are known), so a restarted or newly elected compiler does not
 *   rewrite unchanged statuses.
 * - An object compiled in several groups gets one status: an error in any group wins. Nothing is
 *   written before every group has committed once, so a partial view never deletes a status.
 * - A key is deleted when its object no longer has a status in any group (deleted, or moved to a
 *   group this compiler does not compile).
 * - Writes run one batch at a time, off the compile path. A failed write is logged and retried with
 *   the next commit; it never blocks or fails a commit.
 */
import { jetstreamManager } from '@nats-io/jetstream';
import { type KV, Kvm } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Counter, type Registry } from 'prom-client';
import { INGEST_ERROR_KIND } from '../../shared/events/envelope.ts';
import {
  decodeStatus,
  encodeStatus,
  type ObjectStatus,
  parseStatusKey,
  STATUS_BUCKET,
  statusKey,
} from '../../shared/events/status-keys.ts';
import { type NatsSecurity, natsServers } from '../../shared/runtime/connection-flags.ts';
import { errorMessage } from '../../shared/runtime/errors.ts';
import type { Logger } from '../../shared/runtime/logger.ts';
import type { Runner } from '../../shared/runtime/runner.ts';
import type { Diagnostic, SourceRecord } from './contracts.ts';
import { type GroupStatus, identity, mergeStatuses, objectStatuses } from './object-status.ts';
import type { CommittedCompile } from './runner.ts';
import { sourceRefOf } from './sources/parse-sources.ts';

export interface StatusPublisherOptions {
  /** NATS URL(s) (JetStream enabled), comma-separated for a cluster. */
  url: string;
  /** Credentials and TLS. */
  security?: NatsSecurity;
  log: Logger;
  registry: Registry;
  /** Every group the compiler compiles: nothing is written until each has committed once. */
  groups: readonly string[];
  /** Bucket name; default `ATTACHE_STATUS`. */
  bucket?: string;
  /** Replicas of the bucket's stream (NATS cluster): set at creation and enforced after. */
  replicas?: number;
}

/** Status writes in flight at once. */
const PUTS_IN_FLIGHT = 64;

export class StatusPublisher implements Runner {
  readonly name = 'status-publisher';
  private nc?: NatsConnection;
  private kv?: KV;
  /** What the bucket holds, by object identity. */
  private readonly written = new Map<string, ObjectStatus & { key: string }>();
  /** Latest statuses per group. */
  private readonly byGroup = new Map<string, Map<string, GroupStatus>>();
  /** Each group's last commit: the next one's statuses are updated from it when it allows. */
  private readonly lastCommit = new Map<
    string,
    { records: readonly SourceRecord[]; diagnostics: readonly Diagnostic[]; loadProblems: boolean }
  >();
  /** Object identities whose status may have changed since the last flush ('all': every one). */
  private dirty: Set<string> | 'all' = 'all';
  private version = 0;
  private flushing?: Promise<void>;
  private again = false;
  private started = false;
  /** The bucket, opened by start; `kv` once what it holds is read. */
  private bucket?: KV;
  /** Reading what the bucket holds (from the first commit on); `kv` is set once it is done. */
  private loading?: Promise<void>;
  private readonly writes;

  constructor(private readonly opts: StatusPublisherOptions) {
    this.writes = new Counter({
      name: 'attache_status_writes_total',
      help: 'object status writes to the status bucket by operation and outcome',
      labelNames: ['op', 'outcome'],
      registers: [opts.registry],
    });
  }

  async start(): Promise<void> {
    this.nc = await connect({
      ...this.opts.security,
      servers: natsServers(this.opts.url),
      name: 'attache-status-publisher',
      // Without it every put builds two Error objects with stacks (~40 µs each) for an async
      // trace nobody reads: a failed write is logged by its message only.
      noAsyncTraces: true,
    });
    const bucket = this.opts.bucket ?? STATUS_BUCKET;
    const replicas = this.opts.replicas;
    const kv = await new Kvm(this.nc).create(bucket, { history: 1, ...(replicas ? { replicas } : {}) });
    if (replicas) {
      // An existing bucket keeps the replicas it was created with unless its stream is updated.
      const jsm = await jetstreamManager(this.nc);
      const info = await jsm.streams.info(`KV_${bucket}`);
      if (info.config.num_replicas !== replicas) {
        await jsm.streams.update(`KV_${bucket}`, { ...info.config, num_replicas: replicas });
        this.opts.log.info({ bucket, replicas }, 'status bucket replicas updated');
      }
    }
    // What is written already is read after the first commit, so the compiler's start-up (which
    // ends with that commit) neither waits for it nor shares the CPU with it; nothing is written
    // until it is known (flush needs `kv`).
    this.bucket = kv;
    this.started = true;
  }

  /**
   * Reads what the bucket holds, in one pass (each key's last value): reading the keys and then
   * each value was a round trip per object, 0.55-0.75 s of a compiler's start-up at 1,000
   * Mappings. Then lets flushes run, and flushes what commits asked for meanwhile.
   */
  private async loadWritten(kv: KV): Promise<void> {
    try {
      if ((await kv.status()).values > 0) {
        const watch = await kv.watch();
        // Should the bucket empty meanwhile, nothing arrives: stop waiting (statuses not known
        // here are merely written again).
        const guard = setTimeout(() => watch.stop(), 10_000);
        try {
          for await (const entry of watch) {
            const parts = parseStatusKey(entry.key);
            const value = entry.operation === 'PUT' ? decodeStatus(entry.string()) : undefined;
            if (parts && value) this.written.set(identity(parts), { ...value, key: entry.key });
            if (entry.delta === 0) break;
          }
        } finally {
          clearTimeout(guard);
          watch.stop();
        }
      }
    } catch (err) {
      this.opts.log.warn(
        { err: errorMessage(err) },
        'cannot read the status bucket: statuses already written are written again',
      );
    }
    this.kv = kv;
    this.kick();
  }

  ready(): boolean {
    return this.started;
  }

  /**
   * The runner's commit hook. Never throws; the writes happen in the background. A commit with
   * the same diagnostics as the group's previous one and a few replaced records (one Mapping
   * edited) updates only those records' statuses and writes only theirs: recomputing and
   * comparing every object's status was O(objects) per commit, 10,000s at scale.
   */
  onCommit = (commit: CommittedCompile): void => {
    const prev = this.lastCommit.get(commit.group);
    const statuses = this.byGroup.get(commit.group);
    const changed =
      prev && statuses && !prev.loadProblems && prev.diagnostics === commit.diagnostics
        ? replaced(prev.records, commit.records)
        : undefined;
    let loadProblems = prev?.loadProblems ?? false;
    if (changed && statuses && this.dirty !== 'all') {
      for (const [was, is] of changed) {
        for (const id of statusIds(was)) {
          statuses.delete(id);
          this.dirty.add(id);
        }
        for (const [id, s] of objectStatuses(commit.group, [is], commit.diagnostics)) {
          statuses.set(id, s);
          this.dirty.add(id);
        }
      }
    } else {
      this.byGroup.set(commit.group, objectStatuses(commit.group, commit.records, commit.diagnostics));
      this.dirty = 'all';
      // Ingest-error records name other objects, whose statuses then depend on them: full passes.
      loadProblems = commit.records.some((r) => r.object?.kind === INGEST_ERROR_KIND);
    }
    this.lastCommit.set(commit.group, {
      records: commit.records,
      diagnostics: commit.diagnostics,
      loadProblems,
    });
    this.version = Math.max(this.version, commit.version);
    if (this.bucket) this.loading ??= this.loadWritten(this.bucket);
    this.kick();
  };

  /** Resolves once every status known so far is written (tests). */
  async idle(): Promise<void> {
    await this.loading;
    while (this.flushing) await this.flushing;
  }

  async close(): Promise<void> {
    await this.idle().catch(() => {});
    await this.nc?.drain().catch(() => {});
  }

  private kick(): void {
    if (this.flushing) {
      this.again = true;
      return;
    }
    this.flushing = this.flush().finally(() => {
      this.flushing = undefined;
      if (this.again) {
        this.again = false;
        this.kick();
      }
    });
  }

  private async flush(): Promise<void> {
    const kv = this.kv;
    // Until every group has reported, an object's status (and whether it still exists) is unknown.
    if (!kv || this.opts.groups.some((g) => !this.byGroup.has(g))) return;
    const dirty = this.dirty;
    this.dirty = new Set();
    const desired = new Map<string, GroupStatus>();
    const ids = dirty === 'all' ? new Set([...this.byGroup.values()].flatMap((m) => [...m.keys()])) : dirty;
    for (const id of ids) {
      const merged = mergeStatuses([...this.byGroup.values()].flatMap((m) => m.get(id) ?? []));
      if (merged) desired.set(id, merged);
    }
    let failed = 0;
    const puts: (() => Promise<void>)[] = [];
    for (const [id, s] of [...desired].sort(([a], [b]) => (a < b ? -1 : 1))) {
      const held = this.written.get(id);
      if (held && held.state === s.state && held.reason === s.reason) continue;
      const value: ObjectStatus = { state: s.state, reason: s.reason, version: this.version };
      const key = statusKey(s.object);
      puts.push(async () => {
        try {
          await kv.put(key, encodeStatus(value));
          this.written.set(id, { ...value, key });
          this.writes.inc({ op: 'put', outcome: 'ok' });
        } catch (err) {
          failed++;
          this.writes.inc({ op: 'put', outcome: 'error' });
          this.opts.log.warn(
            { key, err: errorMessage(err) },
            'status write failed; retried after the next commit',
          );
        }
      });
    }
    // A few dozen in flight: the client writes them to its socket together (one write per put,
    // one at a time, kept the compiler's event loop busy for seconds after a first commit of
    // 14,000 objects, in front of the next changes), while the ordering of keys does not matter.
    for (let i = 0; i < puts.length; i += PUTS_IN_FLIGHT)
      await Promise.all(puts.slice(i, i + PUTS_IN_FLIGHT).map((put) => put()));
    for (const [id, held] of dirty === 'all'
      ? [...this.written]
      : [...dirty].map((id) => [id, this.written.get(id)] as const)) {
      if (!held || desired.has(id)) continue;
      try {
        await kv.delete(held.key);
        this.written.delete(id);
        this.writes.inc({ op: 'delete', outcome: 'ok' });
      } catch (err) {
        failed++;
        this.writes.inc({ op: 'delete', outcome: 'error' });
        this.opts.log.warn({ key: held.key, err: errorMessage(err) }, 'status delete failed; retried later');
      }
    }
    if (failed > 0) this.opts.log.warn({ failed }, 'some statuses were not published');
  }
}

/** Record pairs that differ between two same-length lists (at most 1,000), else undefined. */
function replaced(
  before: readonly SourceRecord[],
  after: readonly SourceRecord[],
): [SourceRecord, SourceRecord][] | undefined {
  if (before.length !== after.length) return undefined;
  const out: [SourceRecord, SourceRecord][] = [];
  for (let i = 0; i < after.length; i++) {
    const was = before[i] as SourceRecord;
    const is = after[i] as SourceRecord;
    if (was === is) continue;
    // An ingest-error record stands for another object; a full pass sorts those out.
    if (was.object?.kind === INGEST_ERROR_KIND || is.object?.kind === INGEST_ERROR_KIND) return undefined;
    out.push([was, is]);
    if (out.length > 1_000) return undefined;
  }
  return out;
}

/** The status identities a record had (its own object's). */
function statusIds(r: SourceRecord): string[] {
  const source = sourceRefOf(r);
  return source && source.name !== ''
    ? [
        identity({
          cluster: source.cluster,
          kind: source.kind,
          namespace: source.namespace,
          name: source.name,
        }),
      ]
    : [];
}
