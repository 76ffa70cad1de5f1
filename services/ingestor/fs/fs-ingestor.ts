/**
 * The YAML-directory ingestor: publishes every change to the objects defined under a directory
 * as an event of one source cluster.
 *
 * Start-up reconciles against the log, not against memory: it folds what the log says this
 * cluster last published, compares it with the directory, publishes upserts for new or changed
 * objects and tombstones for vanished ones (so deletes made while it was down are not missed),
 * then a `resync` marker. After that, per-directory `fs.watch` hints and a periodic rescan (the
 * safety net) trigger scans; each scan recomputes the set of objects whose log state differs from
 * the directory, and one publisher drains that set sequentially, in (file, document) order. Retries
 * are per object: an object whose publish fails waits out its own backoff while the others are
 * published, and each attempt publishes the object's latest change, so an object that changes
 * several times is published once with its latest content, a deleted file cancels its pending
 * publishes, and nothing is dropped.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import type { Registry } from 'prom-client';
import {
  type EventEnvelope,
  INGEST_ERROR_API_VERSION,
  INGEST_ERROR_KIND,
  type IngestErrorSpec,
  objectKey,
  rejectEventFor,
  type SourceObject,
} from '../../../shared/events/envelope.ts';
import type { EventLog, PublishAck } from '../../../shared/events/event-log.ts';
import { messageIdFor } from '../../../shared/events/subjects.ts';
import { ConfigError, EventTooLargeError, errorMessage } from '../../../shared/runtime/errors.ts';
import type { Logger } from '../../../shared/runtime/logger.ts';
import { type Backoff, backoffDelay, retryUntilDone } from '../../../shared/runtime/retry.ts';
import type { Runner } from '../../../shared/runtime/runner.ts';
import { contentHash } from '../shared/canonical.ts';
import { type IngestorMetrics, ingestorMetrics } from '../shared/ingestor-metrics.ts';
import { publishWithRetry } from '../shared/publish-with-retry.ts';
import { readPublishedState, resyncMarker } from '../shared/published-state.ts';
import { SerialTask } from '../shared/serial-task.ts';
import { DirectoryWatcher } from './directory-watcher.ts';
import { type DirectoryScan, type ParseCache, scanDirectory } from './load-directory.ts';
import type { LoadError, LoadedDocument } from './loaded-document.ts';
import {
  type Change,
  changeFor,
  type DesiredObject,
  eventFor,
  type LogRecord,
  publicationOrder,
} from './reconcile.ts';

export interface FsIngestorOptions {
  /** Directory of YAML to ingest. */
  dir: string;
  /** Source cluster name of every event; must be unique to this directory. */
  cluster: string;
  events: EventLog;
  log: Logger;
  registry: Registry;
  /** Period of the full rescan that backs up `fs.watch` (default 1000 ms). */
  pollIntervalMs?: number;
  /** Publisher identity (default `fs/<cluster>/<hostname>`). */
  ingestorId?: string;
  /** Use `fs.watch` hints (default true); without them changes arrive with the next rescan. */
  watch?: boolean;
  /** Quiet time after a `fs.watch` hint before the scan it triggers (default 50 ms): editors write in bursts. */
  watchDebounceMs?: number;
  /**
   * Anti-entropy period (default 60 s; 0 turns it off): re-reads what the log holds for this
   * cluster since the last check, and where its newest event for an object is not the one this
   * ingestor published (a lost event, or a forged one such as a tombstone published by someone
   * else), takes the log's word for it, so the next scan republishes what the directory holds.
   */
  antiEntropyIntervalMs?: number;
  /** Retry backoff for publishing and reading the log. */
  backoff?: Backoff;
  /** After how long without a successful publish, while changes are pending, the source counts as stalled (default 60 s). */
  stallAfterMs?: number;
}

const SOURCE = 'fs';
const WATCH_DEBOUNCE_MS = 50;

export class FsIngestor implements Runner {
  readonly name = 'fs-ingestor';
  private readonly ingestorId: string;
  private readonly metrics: IngestorMetrics;
  private readonly labels: { source: string; cluster: string };
  /** What the log holds per objectKey. */
  private readonly logged = new Map<string, LogRecord>();
  /** What the directory held at the last scan, per objectKey. */
  private desired = new Map<string, DesiredObject>();
  /** Files and directories whose objects are held (see `DirectoryScan.incomplete`). */
  private incomplete: string[] = [];
  /** Keys that may need publishing; recomputed by every scan, drained by the publisher. */
  private pending = new Set<string>();
  /** Highest sequence of this cluster's events known to this process. */
  private lastSeq = 0;
  private readonly cache: ParseCache = new Map();
  /** Content hashes of the objects the parse cache holds (see {@link hashOf}). */
  private readonly hashes = new WeakMap<SourceObject, string>();
  /** objectKeys of the objects the parse cache holds (see {@link keyOf}). */
  private readonly keys = new WeakMap<SourceObject, string>();
  /** The documents of the scan that built `desired` (see {@link updateDesired}). */
  private previousDocuments?: readonly LoadedDocument[];
  /** Keys of the IngestError objects in `desired`. */
  private errorKeys = new Set<string>();
  /** A scan has built `desired` (the next may skip that when nothing changed). */
  private scanned = false;
  private reportedErrors = new Map<string, LoadError>();
  private readonly scans = new SerialTask(() => this.scan());
  /** Anti-entropy is due: the next scan first compares the log with `logged`. */
  private checkLog = false;
  /** Sequence up to which anti-entropy has read the log. */
  private checkedSeq = 0;
  private antiEntropyTimer?: NodeJS.Timeout;
  /**
   * Objects being repaired → the sequence of the log's disagreeing event. Their republished event
   * gets a message id naming that sequence: the original id may still be in the log's
   * de-duplication window, which would swallow the repair.
   */
  private readonly repairs = new Map<string, number>();
  private readonly publisher = new SerialTask(() => this.drain());
  /** Objects whose last publish failed: attempts so far, next attempt, first failure. */
  private readonly retries = new Map<string, { attempts: number; notBefore: number; since: number }>();
  /** Ends the drain's wait for a backoff early (a scan found changes). */
  private wake?: () => void;
  private readonly abort = new AbortController();
  private watcher?: DirectoryWatcher;
  private timer?: NodeJS.Timeout;
  private isReady = false;
  private closed = false;
  /** When a publish last succeeded, or pending changes last appeared after none were pending. */
  private progressAt = Date.now();

  constructor(private readonly opts: FsIngestorOptions) {
    this.ingestorId = opts.ingestorId ?? `fs/${opts.cluster}/${os.hostname()}`;
    this.metrics = ingestorMetrics(opts.registry);
    this.labels = { source: SOURCE, cluster: opts.cluster };
  }

  /** Reconciles the directory with the log and publishes the result and a resync marker. */
  async start(): Promise<void> {
    const { dir, cluster, events, log } = this.opts;
    const st = await fs.stat(dir).catch(() => undefined);
    if (!st?.isDirectory())
      throw new ConfigError(`YAML directory ${dir} does not exist or is not a directory`);

    const state = await retryUntilDone(() => readPublishedState(events, cluster), {
      signal: this.abort.signal,
      log,
      what: 'read event log',
      backoff: this.opts.backoff,
    });
    for (const [key, { seq, event }] of state.objects) {
      this.logged.set(key, {
        kind: event.kind,
        namespace: event.namespace,
        name: event.name,
        seq,
        // A rejected version is held like a live one (its delete must still be published); its
        // content is unknown here, so the next scan tries it once more.
        live: event.op === 'upsert' || event.op === 'reject',
        hash: event.object ? contentHash(event.object) : '',
        ...(event.origin ? { origin: event.origin } : {}),
      });
    }
    this.lastSeq = state.lastSeq;
    this.checkedSeq = state.lastSeq;

    await this.scans.request();
    await this.publisher.request();
    await this.publishResync();
    if (this.closed) return;
    this.isReady = true;
    log.info(
      { dir, cluster, objects: this.desired.size, lastSeq: this.lastSeq },
      'YAML directory reconciled',
    );

    if (this.opts.watch ?? true) {
      this.watcher = new DirectoryWatcher(
        () => this.scans.trigger(),
        log,
        this.opts.watchDebounceMs ?? WATCH_DEBOUNCE_MS,
      );
      this.scans.trigger(); // syncs the watcher with the tree and covers changes made during start-up
    }
    this.timer = setInterval(() => this.scans.trigger(), this.opts.pollIntervalMs ?? 1000);
    const antiEntropy = this.opts.antiEntropyIntervalMs ?? 60_000;
    if (antiEntropy > 0) {
      this.antiEntropyTimer = setInterval(() => {
        this.checkLog = true;
        this.scans.trigger();
      }, antiEntropy);
    }
  }

  /** Ready once reconciled, and not while changes have waited without any publish succeeding. */
  ready(): boolean {
    return this.isReady && !this.stalled();
  }

  /**
   * Changes are pending and nothing has been published for the stall threshold, or one object has
   * failed to publish for that long (the others flow, but that object is stuck).
   */
  stalled(): boolean {
    const after = this.opts.stallAfterMs ?? 60_000;
    const now = Date.now();
    let oldestFailure = now;
    for (const r of this.retries.values()) oldestFailure = Math.min(oldestFailure, r.since);
    const stalled = this.pending.size > 0 && (now - this.progressAt > after || now - oldestFailure > after);
    this.metrics.stalled.set(this.labels, stalled ? 1 : 0);
    return stalled;
  }

  /**
   * Resolves once everything on disk at the time of the call has been scanned and every change
   * found is stored in the log (it waits through publish retries). Rejects if the ingestor closes.
   */
  async flush(): Promise<void> {
    if (this.closed) throw new Error('fs ingestor is closed');
    await this.scans.request();
    await this.publisher.request();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.isReady = false;
    clearInterval(this.timer);
    clearInterval(this.antiEntropyTimer);
    this.watcher?.close();
    this.abort.abort(new Error('fs ingestor closed'));
    await Promise.all([this.scans.settled(), this.publisher.settled()]);
  }

  /**
   * Anti-entropy: folds the cluster's events since the last check and adopts the log's newest
   * event for every object where it differs from what this ingestor recorded publishing. The
   * reconciliation that follows (same comparison as at start-up, reconcile.ts) republishes the
   * directory's state for those objects.
   */
  private async compareWithLog(): Promise<void> {
    const { cluster, events, log } = this.opts;
    const diverged: string[] = [];
    try {
      const state = await readPublishedState(events, cluster, this.checkedSeq + 1);
      for (const [key, { seq, event }] of state.objects) {
        const mine = this.logged.get(key);
        const live = event.op === 'upsert';
        const hash = event.object ? contentHash(event.object) : '';
        if (mine && mine.seq >= seq) continue;
        if (!mine && !live) {
          // A tombstone for an object this ingestor never published: nothing live to repair.
          this.logged.set(key, {
            kind: event.kind,
            namespace: event.namespace,
            name: event.name,
            seq,
            live,
            hash,
          });
          continue;
        }
        const same = mine !== undefined && mine.live === live && (!live || mine.hash === hash);
        if (same) {
          mine.seq = seq;
          continue;
        }
        diverged.push(key);
        this.repairs.set(key, seq);
        this.logged.set(key, {
          kind: event.kind,
          namespace: event.namespace,
          name: event.name,
          seq,
          live,
          hash,
          ...(mine?.origin ? { origin: mine.origin } : event.origin ? { origin: event.origin } : {}),
        });
      }
      this.checkedSeq = Math.max(this.checkedSeq, state.lastSeq);
      this.lastSeq = Math.max(this.lastSeq, state.lastSeq);
    } catch (err) {
      log.warn(
        { err: errorMessage(err) },
        'anti-entropy could not read the event log; trying again next period',
      );
      return;
    }
    if (diverged.length === 0) return;
    this.metrics.antiEntropyRepairs.inc(this.labels, diverged.length);
    log.warn(
      { objects: diverged.slice(0, 20), count: diverged.length },
      'anti-entropy: the event log disagrees with what this ingestor published (lost or forged events); republishing the source state',
    );
  }

  private async scan(): Promise<void> {
    if (this.closed) return;
    let repaired = false;
    const checked = this.checkLog;
    if (this.checkLog) {
      this.checkLog = false;
      const before = this.repairs.size;
      await this.compareWithLog();
      repaired = this.repairs.size !== before;
    }
    const { dir, cluster, log } = this.opts;
    let result: Awaited<ReturnType<typeof scanDirectory>>;
    try {
      result = await scanDirectory(dir, {
        cache: this.cache,
        established: (kind, namespace, name) => {
          const held = this.logged.get(objectKey({ cluster, kind, namespace, name }));
          return held?.live ? held.origin : undefined;
        },
      });
    } catch (err) {
      // scanDirectory reports content problems as LoadErrors; this is a bug or a system failure,
      // and the next rescan tries again with nothing changed meanwhile.
      log.error({ dir, err: errorMessage(err) }, 'scan failed');
      return;
    }
    if (this.closed) return;
    this.watcher?.sync(result.directories);
    // Nothing on disk changed and the log agrees: the desired state and what is pending stand.
    // This is what a periodic rescan of an unchanged tree costs: a listing and a stat per file.
    if (result.unchanged && !repaired && this.scanned) return;
    // A scan after which the log may say something new about any object, or in which the held
    // files changed, recomputes every object's change; any other scan only those whose desired
    // state changed, plus those already pending (see updateDesired).
    const everything = !this.scanned || checked || !sameList(result.incomplete, this.incomplete);
    this.scanned = true;
    this.reportLoadErrors(result.errors);
    const dirty = this.updateDesired(result, everything);
    this.incomplete = result.incomplete;

    const pending = new Set<string>();
    if (!dirty) {
      for (const key of this.desired.keys()) if (this.changeFor(key)) pending.add(key);
      for (const key of this.logged.keys()) if (this.changeFor(key)) pending.add(key);
    } else {
      for (const key of this.pending) if (this.changeFor(key)) pending.add(key);
      for (const key of dirty) if (this.changeFor(key)) pending.add(key);
    }
    if (this.pending.size === 0 && pending.size > 0) this.progressAt = Date.now();
    this.pending = pending;
    this.updatePendingGauge();
    this.stalled();
    for (const key of this.retries.keys()) if (!pending.has(key)) this.retries.delete(key);
    if (pending.size > 0) {
      // Wake a drain waiting out a failed object's backoff when there is other work to do.
      if ([...pending].some((key) => !this.retries.has(key))) this.wake?.();
      this.publisher.trigger();
    }
  }

  /**
   * Brings `desired` to what `result` holds. Returns the keys whose desired state (presence or
   * content hash) changed, or undefined after rebuilding it whole (`all`, or when an IngestError's
   * name collides with a document's identity), when every key must be compared again.
   *
   * The parse cache hands back the same parsed object for a document whose text is unchanged, so
   * a document with the same object, file and index at the same position as in the previous scan
   * has the same entry: an edit to one document of a large file costs a comparison per document.
   * Keys are unique in `result.documents`, so a key that left a changed position and did not
   * arrive at another changed position is gone.
   *
   * Why the other keys need no new comparison: an object's change depends only on its desired
   * state, its log record and the held files. A log record changes outside a full scan only when
   * the publisher records its own publish of a pending key (which stays pending until it has no
   * change); log reads and a change in the held files make the scan a full one.
   */
  private updateDesired(result: DirectoryScan, all: boolean): string[] | undefined {
    const docs = result.documents;
    const errors = this.errorEntries(result.errors, docs.length);
    const prev = this.previousDocuments;
    this.previousDocuments = docs;
    if (all || !prev) return this.rebuildDesired(docs, errors);
    const dirty: string[] = [];
    const left: string[] = [];
    const arrived = new Set<string>();
    for (let i = 0; i < Math.max(docs.length, prev.length); i++) {
      const d = docs[i];
      const p = prev[i];
      if (d === p || (d && p && d.object === p.object && d.document === p.document && d.file === p.file))
        continue;
      if (p) left.push(this.keyOf(p.object));
      if (!d) continue;
      const key = this.keyOf(d.object);
      if (this.errorKeys.has(key)) return this.rebuildDesired(docs, errors);
      arrived.add(key);
      const entry = this.desiredEntry(d, i);
      if (this.desired.get(key)?.hash !== entry.hash) dirty.push(key);
      this.desired.set(key, entry);
      this.recordOrigin(key, entry.origin);
    }
    for (const key of left) {
      if (arrived.has(key)) continue;
      this.desired.delete(key);
      dirty.push(key);
    }
    for (const [key, entry] of errors) {
      const held = this.desired.get(key);
      if (held && !this.errorKeys.has(key)) return this.rebuildDesired(docs, errors);
      if (held?.hash !== entry.hash) dirty.push(key);
      this.desired.set(key, entry);
    }
    for (const key of this.errorKeys) {
      if (errors.has(key)) continue;
      this.desired.delete(key);
      dirty.push(key);
    }
    this.errorKeys = new Set(errors.keys());
    return dirty;
  }

  /** `desired` built from scratch: documents in order, then load problems. */
  private rebuildDesired(docs: readonly LoadedDocument[], errors: Map<string, DesiredObject>): undefined {
    this.desired = new Map();
    docs.forEach((d, order) => {
      const key = this.keyOf(d.object);
      const entry = this.desiredEntry(d, order);
      this.desired.set(key, entry);
      this.recordOrigin(key, entry.origin);
    });
    // An IngestError named like a document replaces it, and takes the order it would have had.
    for (const [key, entry] of errors) this.desired.set(key, { ...entry, order: this.desired.size });
    this.errorKeys = new Set(errors.keys());
    return undefined;
  }

  private desiredEntry(d: LoadedDocument, order: number): DesiredObject {
    const { object } = d;
    return {
      kind: object.kind,
      namespace: object.metadata.namespace ?? '',
      name: object.metadata.name,
      object,
      hash: this.hashOf(object),
      origin: { file: d.file, document: d.document },
      order,
    };
  }

  /**
   * Load problems as desired IngestError objects (so the compiler's status shows them), ordered
   * after `documents` documents. Content-equal problems keep their object, and so their hash.
   */
  private errorEntries(errors: readonly LoadError[], documents: number): Map<string, DesiredObject> {
    const { cluster } = this.opts;
    const out = new Map<string, DesiredObject>();
    for (const e of errors) {
      const name = e.document === undefined ? e.file : `${e.file}#${e.document}`;
      const object = ingestErrorObject(name, e);
      const identity = { kind: INGEST_ERROR_KIND, namespace: '', name };
      const key = objectKey({ cluster, ...identity });
      const origin = { file: e.file, document: e.document ?? 0 };
      out.set(key, { ...identity, object, hash: contentHash(object), origin, order: documents + out.size });
    }
    return out;
  }

  /** Where the log's record of `key` was last seen (the object's file may be held, see reconcile.ts). */
  private recordOrigin(key: string, origin: DesiredObject['origin']): void {
    const known = this.logged.get(key);
    if (known) known.origin = origin;
  }

  /** The objectKey of a loaded object, computed once per parsed object. */
  private keyOf(object: SourceObject): string {
    let key = this.keys.get(object);
    if (key === undefined) {
      const { cluster } = this.opts;
      key = objectKey({
        cluster,
        kind: object.kind,
        namespace: object.metadata.namespace ?? '',
        name: object.metadata.name,
      });
      this.keys.set(object, key);
    }
    return key;
  }

  /** Content hash of a loaded object; an unchanged document keeps its object, so its hash is computed once. */
  private hashOf(object: SourceObject): string {
    let hash = this.hashes.get(object);
    if (hash === undefined) {
      hash = contentHash(object);
      this.hashes.set(object, hash);
    }
    return hash;
  }

  /**
   * Publishes pending changes one at a time until none is left. Each attempt is a single publish
   * of the object's current change (re-read from the latest scan), and a failed object waits out
   * its own backoff while the others go on: one object that cannot be published never holds up
   * the rest, and a file deleted meanwhile cancels its pending publishes (its next change is
   * none, or a tombstone for what the log holds).
   */
  private async drain(): Promise<void> {
    while (!this.closed && this.pending.size > 0) {
      let wakeAt = Number.POSITIVE_INFINITY;
      for (const key of publicationOrder(this.pending, this.desired)) {
        if (this.closed) return;
        const change = this.changeFor(key);
        const retry = this.retries.get(key);
        if (change && retry && retry.notBefore > Date.now()) {
          wakeAt = Math.min(wakeAt, retry.notBefore);
          continue;
        }
        if (change && !(await this.publish(change))) {
          const attempts = (retry?.attempts ?? 0) + 1;
          const notBefore = Date.now() + Math.round(backoffDelay(attempts - 1, this.opts.backoff));
          this.retries.set(key, { attempts, notBefore, since: retry?.since ?? Date.now() });
          wakeAt = Math.min(wakeAt, notBefore);
          continue;
        }
        this.retries.delete(key);
        if (!this.changeFor(key)) this.pending.delete(key);
        this.updatePendingGauge();
      }
      if (this.pending.size > 0 && Number.isFinite(wakeAt)) await this.sleepUntil(wakeAt);
    }
  }

  /** Sleeps until `at`, or until a scan finds new changes or the ingestor closes. */
  private async sleepUntil(at: number): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, Math.max(0, at - Date.now()));
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
      this.abort.signal.addEventListener('abort', done, { once: true });
    });
    this.wake = undefined;
  }

  /**
   * One attempt to publish a change. False after an ordinary failure (logged and counted; the
   * drain retries the object after its backoff); an object too large for the log is recorded as
   * rejected instead.
   */
  private async publish(change: Change): Promise<boolean> {
    const { cluster, events, log } = this.opts;
    let event = eventFor(change, {
      cluster,
      ingestor: this.ingestorId,
      observedAt: new Date().toISOString(),
    });
    const repairOf = this.repairs.get(change.key);
    const send = (e: EventEnvelope) =>
      events.publish(e, {
        msgId: repairOf !== undefined ? `${messageIdFor(e)}/repair.${repairOf}` : messageIdFor(e),
      });
    let ack: PublishAck;
    try {
      try {
        ack = await send(event);
      } catch (err) {
        // An object too large for the log even compressed can never be published: record it as
        // rejected (so the compiler reports it and keeps its last good version) and move on; the
        // content hash is remembered, so it is tried again only once its file changes.
        if (!(err instanceof EventTooLargeError) || change.op !== 'upsert') throw err;
        event = rejectEventFor(event, `${err.message}; the object is not published`);
        log.warn(
          { kind: event.kind, namespace: event.namespace, name: event.name, file: event.origin?.file },
          `cannot publish ${event.kind} ${event.namespace}/${event.name}: ${err.message}`,
        );
        ack = await send(event);
        this.metrics.rejected.inc(this.labels);
      }
    } catch (err) {
      if (this.closed) return false;
      this.metrics.publishFailures.inc(this.labels);
      log.warn(
        {
          kind: event.kind,
          namespace: event.namespace,
          name: event.name,
          op: event.op,
          file: event.origin?.file,
          attempt: (this.retries.get(change.key)?.attempts ?? 0) + 1,
          err: errorMessage(err),
        },
        'publish event failed; retrying this object after its backoff, the others go on',
      );
      return false;
    }
    this.progressAt = Date.now();
    this.repairs.delete(change.key);
    const prev = change.prev;
    this.logged.set(change.key, {
      kind: event.kind,
      namespace: event.namespace,
      name: event.name,
      seq: ack.seq,
      live: change.op === 'upsert',
      hash: change.op === 'upsert' ? change.desired.hash : (prev?.hash ?? ''),
      ...(event.origin ? { origin: event.origin } : {}),
    });
    this.lastSeq = Math.max(this.lastSeq, ack.seq);
    this.metrics.published.inc({ ...this.labels, op: event.op });
    log.debug(
      {
        op: event.op,
        kind: event.kind,
        namespace: event.namespace,
        name: event.name,
        seq: ack.seq,
        duplicate: ack.duplicate,
        resourceVersion: event.resourceVersion,
        file: event.origin?.file,
        document: event.origin?.document,
      },
      'published change',
    );
    return true;
  }

  /** Marks the end of a full reconciliation (see {@link resyncMarker}). */
  private async publishResync(): Promise<void> {
    const { cluster, events, log } = this.opts;
    const ack = await publishWithRetry(events, resyncMarker(cluster, this.ingestorId, this.lastSeq), {
      signal: this.abort.signal,
      log,
      backoff: this.opts.backoff,
      context: { op: 'resync' },
    });
    this.lastSeq = Math.max(this.lastSeq, ack.seq);
    this.metrics.published.inc({ ...this.labels, op: 'resync' });
  }

  private changeFor(key: string): Change | undefined {
    return changeFor(key, this.desired, this.logged, this.incomplete);
  }

  private updatePendingGauge(): void {
    this.metrics.pending.set(this.labels, this.pending.size);
  }

  /** Logs each LoadError once, when it appears, and notes when a file's problems are resolved. */
  private reportLoadErrors(errors: readonly LoadError[]): void {
    const current = new Map(errors.map((e) => [JSON.stringify(e), e]));
    for (const [id, e] of current) {
      if (this.reportedErrors.has(id)) continue;
      this.opts.log.warn(
        { file: e.file, document: e.document, line: e.line, kind: e.kind, name: e.name },
        `cannot load ${e.file}${e.document === undefined ? '' : ` document ${e.document}`}: ${e.message}`,
      );
    }
    const failing = new Set(errors.map((e) => e.file));
    const resolved = new Set(
      [...this.reportedErrors.values()].map((e) => e.file).filter((f) => !failing.has(f)),
    );
    for (const file of resolved) this.opts.log.info({ file }, `${file} loads again`);
    this.reportedErrors = current;
    this.metrics.loadErrors.set(this.labels, errors.length);
  }
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function ingestErrorObject(name: string, e: LoadError): SourceObject {
  const spec: IngestErrorSpec = {
    file: e.file,
    ...(e.document !== undefined ? { document: e.document } : {}),
    ...(e.line !== undefined ? { line: e.line } : {}),
    ...(e.kind ? { kind: e.kind } : {}),
    ...(e.name ? { name: e.name } : {}),
    message: e.message,
  };
  return { apiVersion: INGEST_ERROR_API_VERSION, kind: INGEST_ERROR_KIND, metadata: { name }, spec };
}
