/**
 * The compiler runner: folds the event log into world state and commits one snapshot per group
 * after each burst of changes.
 *
 * - Start-up: claims leadership (`runner-leadership.ts`: a fencing epoch per group, and the leader
 *   lease when several replicas run), loads the newest usable checkpoint of the folded state
 *   (runner-checkpoint.ts; the whole log when there is none), folds the log from there up to its
 *   current end, commits if it leads, and only then reports ready (the Mapping fast path's indexes
 *   are built right after, off the start-up path); afterwards it follows the log.
 *   The leader writes a checkpoint after a compile every N events / T seconds. A standby compiles like the
 *   leader (world state and encoded output stay warm) but does not commit; once elected it
 *   commits the snapshot it already built.
 * - Debounce: a change schedules a compile after a quiet window (`debounceMs`) but never later than
 *   `maxDelayMs` after the first pending change, so a steady stream of changes cannot starve it.
 * - Snapshot version = sequence of the last folded event (provenance), so replaying the log to that
 *   sequence rebuilds the identical snapshot, and versions only move forward.
 * - Incremental compile (incremental.ts): each group's compiler keeps what unchanged objects parsed
 *   to and the encodings of unchanged resources and routes, so a change re-parses and re-encodes
 *   only what it touched; the output is byte-identical to a full compile.
 * - Endpoint fast path: when every event since the last build updated an existing EndpointSlice
 *   or Endpoints object (same Service, same origin), only the affected ClusterLoadAssignments are
 *   recomputed on top of that build (endpoint-fast-path.ts); the output is the one a full
 *   compile would give, and anything else falls back to a full compile.
 * - Sync barrier (sync-barrier.ts): nothing is committed while a source cluster is between the
 *   start of a (re)list and its `resync` marker, for at most `syncMaxWaitMs` (then the commit goes
 *   ahead with a warning), so no snapshot is built from half of a cluster's state.
 * - User errors are diagnostics (logged when they appear, served at /debug/status); a system error
 *   (invalid generated output) commits nothing and the last good snapshot keeps serving; a fenced
 *   commit is examined by the leadership: store data lost → new epoch and commit again; another
 *   replica leads → step down to standby (fatal only without a lease, i.e. a single replica).
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { objectKey } from '../../shared/events/envelope.ts';
import type { EventLog } from '../../shared/events/event-log.ts';
import { abortableSleep } from '../../shared/runtime/abortable-sleep.ts';
import { errorMessage, InvalidOutputError } from '../../shared/runtime/errors.ts';
import type { Logger } from '../../shared/runtime/logger.ts';
import { type Backoff, RetryBackoff } from '../../shared/runtime/retry.ts';
import type { Runner } from '../../shared/runtime/runner.ts';
import type { KeyRing } from '../../shared/runtime/secret-keys.ts';
import type { CheckpointStore } from '../../shared/snapshot/checkpoint-store.ts';
import type { LeaderLease } from '../../shared/snapshot/leader-lease.ts';
import { type Manifest, manifestHashes } from '../../shared/snapshot/manifest.ts';
import { sealSecretBlobs } from '../../shared/snapshot/sealed-blobs.ts';
import type { SnapshotStore } from '../../shared/snapshot/snapshot-store.ts';
import type { CompileOptions, CompileResult, Diagnostic, SourceRecord } from './contracts.ts';
import {
  type EndpointChanges,
  endpointServiceId,
  isFastPathUpdate,
  recompileEndpoints,
} from './endpoint-fast-path.ts';
import { IncrementalCompiler } from './incremental.ts';
import { Checkpointer, type CheckpointPolicy } from './runner-checkpoint.ts';
import { IdleScavenger } from './runner-idle-gc.ts';
import { Leadership } from './runner-leadership.ts';
import { type BuiltSnapshot, buildSnapshot } from './runner-snapshot.ts';
import { WorldState } from './runner-world.ts';
import { SyncBarrier } from './sync-barrier.ts';

/** Endpoint changes since the world was at `sinceSeq`, with their Services' objects as of now. */
type FastPathChanges = EndpointChanges & {
  sinceSeq: number;
  objectsOf: (serviceId: string) => SourceRecord[];
};

/** Re-following the event log after a failure: 100 ms doubling to 5 s, jittered. */
const FOLLOW_RETRY: Backoff = { initialMs: 100, maxMs: 5_000, factor: 2 };
/** How long the compiler must see no change before a due snapshot gc runs, unless configured (armGc). */
const GC_IDLE_MS = 500;
/** Shortest debounce window a young-generation collection is moved into (runner-idle-gc.ts). */
const SCAVENGE_IN_DEBOUNCE_MS = 20;

export interface CompilerRunnerOptions {
  events: EventLog;
  store: SnapshotStore;
  /** Groups (ambassador_id values) compiled from the same world state. */
  groups: readonly string[];
  log: Logger;
  registry: Registry;
  debounceMs: number;
  maxDelayMs: number;
  /** Versions kept per group; older ones are garbage-collected every `gcEvery` commits. */
  retention: number;
  gcEvery?: number;
  /** How long the compiler must see no change before a due gc runs; default 500 ms (armGc). */
  gcIdleMs?: number;
  /** Called with a fatal error (fenced without a lease); the service then shuts down. */
  onFatal: (err: unknown) => void;
  /** Leader lease shared by the compiler replicas; absent = this runner is the only committer. */
  lease?: LeaderLease;
  /** Compile options beyond the group (the multi-cluster endpoint policy); none by default. */
  compileOptions?: (group: string) => Omit<CompileOptions, 'group'>;
  /** Seals SDS blobs before they are committed (shared/snapshot/sealed-blobs.ts); plaintext without. */
  secretKeys?: KeyRing;
  /** Called after each successful commit (status publishing); must not throw. */
  onCommit?: (commit: CommittedCompile) => void;
  /** Longest a syncing source cluster holds commits (default 30 s; 0: never hold). */
  syncMaxWaitMs?: number;
  /**
   * Checkpoints of the folded state: loaded at start, written by the leader per the policy. Without,
   * start-up folds the whole log. `plaintext` is the event log's policy for unsealed Secrets.
   */
  checkpoints?: { store: CheckpointStore; policy: CheckpointPolicy; plaintext: 'refuse' | 'allow' };
}

/** What one successful commit was compiled from, and the diagnostics it produced. */
export interface CommittedCompile {
  group: string;
  version: number;
  records: readonly SourceRecord[];
  diagnostics: readonly Diagnostic[];
}

/** What the runner last did for one group (admin `/debug/status`). */
export interface GroupStatus {
  group: string;
  /** Last committed snapshot version, null before the first commit. */
  version: number | null;
  diagnostics: Diagnostic[];
  /** Set while the latest compile failed with a system error (last good still serving). */
  systemError: string | null;
}

/** One group's compile at one log sequence, kept until it is superseded. */
interface BuiltCompile {
  seq: number;
  result: CompileResult;
  snapshot: BuiltSnapshot;
  compileMs: number;
}

export class CompilerRunner implements Runner {
  readonly name = 'compiler';
  private readonly world = new WorldState();
  private readonly abort = new AbortController();
  private readonly leadership: Leadership;
  /** Last snapshot built per group (committed or not): a new leader commits it without compiling. */
  private readonly built = new Map<string, BuiltCompile>();
  /** Per group: reuses what the previous compiles parsed and encoded (incremental.ts). */
  private readonly compilers = new Map<string, IncrementalCompiler>();
  /**
   * This replica's last successful commit per group: the base of the next commit at the same
   * epoch, so the store checks only the blobs that are new (SnapshotStore CommitRequest.base).
   */
  private readonly lastCommit = new Map<string, CommitBase>();
  /**
   * Endpoint-object updates folded since the world was at `pendingSince` (the last compileAll),
   * or null once anything else was folded: then the next build is a full compile.
   */
  private pendingEndpoints: { services: Set<string>; objects: EndpointChanges['objects'][number][] } | null =
    null;
  private pendingSince = 0;
  private readonly status = new Map<string, GroupStatus>();
  /** Highest version committed (or found already stored) per group; a recommit never lowers it. */
  private readonly highest = new Map<string, number>();
  private started = false;
  private loop?: Promise<void>;
  private timer?: NodeJS.Timeout;
  private firstPendingAt = 0;
  private timerLateMs = 0;
  private compiling?: Promise<void>;
  private dirty = false;
  private commits = 0;
  /** Groups whose gc is due, with the commit count when it became due (armGc). */
  private readonly gcDue = new Map<string, number>();
  private gcTimer?: ReturnType<typeof setTimeout>;
  private readonly barrier: SyncBarrier;
  private barrierTimer?: NodeJS.Timeout;
  private readonly checkpointer?: Checkpointer;
  /** Collects the young generation in a debounce window, off the commit's path (runner-idle-gc.ts). */
  private readonly scavenger?: IdleScavenger;
  private readonly metrics;

  constructor(private readonly opts: CompilerRunnerOptions) {
    this.barrier = new SyncBarrier(opts.syncMaxWaitMs ?? 30_000);
    if (opts.debounceMs >= SCAVENGE_IN_DEBOUNCE_MS) this.scavenger = new IdleScavenger();
    if (opts.checkpoints) {
      this.checkpointer = new Checkpointer({
        ...opts.checkpoints,
        log: opts.log,
        registry: opts.registry,
        ...(opts.secretKeys ? { secretKeys: opts.secretKeys } : {}),
      });
    }
    this.leadership = new Leadership({
      store: opts.store,
      groups: opts.groups,
      log: opts.log,
      ...(opts.lease ? { lease: opts.lease } : {}),
      committedVersion: (group) => this.highest.get(group) ?? null,
      recommit: (groups) => this.recommit(groups),
      onFatal: opts.onFatal,
    });
    const r = opts.registry;
    const leadership = this.leadership;
    this.metrics = {
      events: new Counter({ name: 'attache_compiler_events_total', help: 'events folded', registers: [r] }),
      compiles: new Counter({
        name: 'attache_compiler_compiles_total',
        help: 'compilations by group and outcome',
        labelNames: ['group', 'outcome'],
        registers: [r],
      }),
      duration: new Histogram({
        name: 'attache_compiler_compile_seconds',
        help: 'compile + commit duration',
        labelNames: ['group'],
        buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
        registers: [r],
      }),
      version: new Gauge({
        name: 'attache_compiler_committed_version',
        help: 'last committed snapshot version (event sequence)',
        labelNames: ['group'],
        registers: [r],
      }),
      diagnostics: new Gauge({
        name: 'attache_compiler_diagnostics',
        help: 'current diagnostics by group and severity',
        labelNames: ['group', 'severity'],
        registers: [r],
      }),
      fastPath: new Counter({
        name: 'attache_compiler_endpoint_fast_path_total',
        help: 'snapshots built by the endpoint fast path instead of a full compile',
        labelNames: ['group'],
        registers: [r],
      }),
      mappingFastPath: new Counter({
        name: 'attache_compiler_mapping_fast_path_total',
        help: "snapshots built by patching the changed Mappings' route groups instead of a full compile",
        labelNames: ['group'],
        registers: [r],
      }),
      objects: new Gauge({
        name: 'attache_compiler_objects',
        help: 'objects in world state',
        registers: [r],
      }),
      leader: new Gauge({
        name: 'attache_compiler_leader',
        help: '1 while this replica may commit (holds the leader lease), else 0',
        registers: [r],
        collect() {
          this.set(leadership.isLeader() ? 1 : 0);
        },
      }),
      debounceScavenges: new Counter({
        name: 'attache_compiler_debounce_scavenges_total',
        help: 'young-generation collections run in a debounce window, before V8 would have run them in a commit',
        registers: [r],
      }),
      held: new Counter({
        name: 'attache_compiler_sync_holds_total',
        help: 'compiles deferred because a source cluster was between a relist and its resync marker',
        registers: [r],
      }),
    };
  }

  async start(): Promise<void> {
    for (const g of this.opts.groups) {
      this.status.set(g, { group: g, version: null, diagnostics: [], systemError: null });
    }
    // Where start-up spends its time (ms per step, in the caught-up log line): the benchmark's
    // checkpoint phase reads it.
    const ms: Record<string, number> = {};
    let t = performance.now();
    const step = (name: string) => {
      const now = performance.now();
      ms[name] = Math.round(now - t);
      t = now;
    };
    await this.leadership.start();
    step('leadership');
    const end = await this.opts.events.lastSeq();
    const checkpoint = await this.checkpointer?.load(this.opts.events, end);
    if (checkpoint) {
      this.world.restore(checkpoint);
      for (const cluster of checkpoint.syncing) this.barrier.observe({ cluster, op: 'upsert', relist: true });
    }
    step('checkpoint');
    const fromSeq = this.world.lastSeq + 1;
    if (end >= fromSeq) {
      for await (const e of this.opts.events.read({ fromSeq, toSeq: end })) this.fold(e.seq, e.event);
    }
    step('fold');
    await this.compileAll();
    step('compileAndCommit');
    this.started = true;
    // Committed and ready: now the Mapping fast path's indexes, which start-up left for later.
    setImmediate(() => {
      if (!this.abort.signal.aborted) for (const c of this.compilers.values()) c.prepare();
    });
    this.opts.log.info(
      {
        seq: this.world.lastSeq,
        objects: this.world.size,
        leader: this.leadership.isLeader(),
        fromCheckpoint: checkpoint?.seq ?? null,
        eventsFolded: Math.max(0, end - fromSeq + 1),
        ms,
      },
      'compiler caught up with the log',
    );
    this.loop = this.follow();
  }

  ready(): boolean {
    return this.started;
  }

  /** Status per group, for the admin API. */
  groupStatus(): GroupStatus[] {
    return [...this.status.values()];
  }

  /** Resolves once everything folded so far is compiled (tests and `dev` use it). */
  async idle(): Promise<void> {
    while (this.timer || this.compiling) {
      if (this.timer) {
        clearTimeout(this.timer);
        this.timer = undefined;
        this.compiling ??= this.runCompile();
      }
      await this.compiling;
    }
    await this.checkpointer?.settled();
  }

  async close(): Promise<void> {
    this.abort.abort();
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.gcTimer) clearTimeout(this.gcTimer);
    this.gcTimer = undefined;
    clearTimeout(this.barrierTimer);
    await this.loop?.catch(() => {});
    await this.compiling?.catch(() => {});
    await this.checkpointer?.settled();
    await this.leadership.close();
  }

  /** True while this replica commits (always without a lease). */
  isLeader(): boolean {
    return this.leadership.isLeader();
  }

  /**
   * Forgets what was committed for the groups and compiles now, so their current state is
   * committed again (the store answers `stale` if it already has it).
   */
  private recommit(groups: readonly string[]): void {
    for (const g of groups) {
      const status = this.status.get(g);
      if (status) status.version = null;
    }
    if (!this.started || this.abort.signal.aborted) return;
    if (this.compiling) {
      this.dirty = true;
      return;
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.compiling = this.runCompile();
  }

  private fold(seq: number, event: Parameters<WorldState['apply']>[1]): void {
    if (seq <= this.world.lastSeq) return;
    const before = this.world.apply(seq, event);
    this.barrier.observe(event);
    this.metrics.events.inc();
    if (event.op === 'resync' || !this.pendingEndpoints) return;
    const after = event.op === 'upsert' ? this.world.get(objectKey(event)) : undefined;
    const m = after?.object.metadata;
    const service = m && endpointServiceId(after.object.kind, m.namespace ?? '', m.name, after.object);
    if (service && isFastPathUpdate(before, after)) {
      this.pendingEndpoints.services.add(service);
      this.pendingEndpoints.objects.push({
        cluster: event.cluster,
        kind: event.kind,
        namespace: event.namespace,
        name: event.name,
      });
    } else this.pendingEndpoints = null;
  }

  private async follow(): Promise<void> {
    const retry = new RetryBackoff(FOLLOW_RETRY);
    while (!this.abort.signal.aborted) {
      try {
        for await (const e of this.opts.events.follow({
          fromSeq: this.world.lastSeq + 1,
          signal: this.abort.signal,
        })) {
          this.fold(e.seq, e.event);
          this.schedule();
          retry.reset();
        }
      } catch (err) {
        if (this.abort.signal.aborted) return;
        const retryInMs = retry.next();
        this.opts.log.warn({ err: errorMessage(err), retryInMs }, 'event log follow failed; retrying');
        await abortableSleep(retryInMs, this.abort.signal);
      }
    }
  }

  private schedule(): void {
    if (this.gcTimer) {
      clearTimeout(this.gcTimer);
      this.gcTimer = undefined;
    }
    const now = Date.now();
    if (!this.timer && !this.dirty) {
      this.firstPendingAt = now;
      // The first change of a burst: the debounce window ahead is idle time.
      if (!this.compiling && this.started && this.scavenger?.collectIfFull())
        this.metrics.debounceScavenges.inc();
    }
    if (this.compiling) {
      this.dirty = true;
      return;
    }
    if (this.timer) clearTimeout(this.timer);
    const remaining = Math.max(0, this.opts.maxDelayMs - (now - this.firstPendingAt));
    const delay = Math.min(this.opts.debounceMs, remaining);
    const due = performance.now() + delay;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      // How late the debounce timer fired: the event loop was busy elsewhere (GC, status writes).
      this.timerLateMs = performance.now() - due;
      this.compiling = this.runCompile();
    }, delay);
  }

  private async runCompile(): Promise<void> {
    try {
      await this.compileAll();
    } finally {
      this.compiling = undefined;
      if (this.dirty) {
        this.dirty = false;
        this.schedule();
      } else this.armGc();
    }
  }

  private async compileAll(): Promise<void> {
    if (this.heldBySync()) return;
    // Everything a group's build reads is taken now: later groups run after earlier commits
    // (awaits), while the log may have moved on.
    const records = this.world.records();
    const seq = this.world.lastSeq;
    const pending = this.pendingEndpoints;
    let changes: FastPathChanges | undefined;
    if (pending) {
      const byService = new Map([...pending.services].map((id) => [id, this.world.serviceObjects(id)]));
      changes = { ...pending, sinceSeq: this.pendingSince, objectsOf: (id) => byService.get(id) ?? [] };
    }
    this.pendingEndpoints = { services: new Set(), objects: [] };
    this.pendingSince = seq;
    this.metrics.objects.set(this.world.size);
    // The checkpoint is of the state compiled now, taken before the awaits below let the log move on.
    const checkpoint =
      this.checkpointer?.due(seq) && this.leadership.isLeader()
        ? { seq, last: this.world.lastEvent, syncing: this.barrier.open(), entries: this.world.entries() }
        : undefined;
    for (const group of this.opts.groups) {
      if (this.abort.signal.aborted) return;
      await this.compileGroup(group, records, seq, changes);
    }
    if (checkpoint) this.checkpointer?.save(checkpoint);
  }

  private async compileGroup(
    group: string,
    records: ReturnType<WorldState['records']>,
    seq: number,
    changes?: FastPathChanges,
  ): Promise<void> {
    const status = this.status.get(group);
    if (!status) return;
    if (seq === 0 || (status.version !== null && seq <= status.version)) {
      this.leadership.settled(group);
      return;
    }
    const leader = this.leadership.isLeader();
    const previous = this.built.get(group);
    if (!leader && previous?.seq === seq) {
      this.leadership.owe(group);
      return;
    }
    const endTimer = this.metrics.duration.startTimer({ group });
    const compileStart = performance.now();
    // Where this commit's time went, in the commit's log line (what a p99 outlier is made of).
    const phases = { compileMs: 0, snapshotMs: 0, storeMs: 0 };
    let result: CompileResult;
    let snapshot: BuiltSnapshot;
    if (previous?.seq === seq) {
      ({ result, snapshot } = previous);
    } else {
      try {
        const opts = { ...this.opts.compileOptions?.(group), group };
        // The fast path builds on the previous build only when the changes start right there.
        const fast =
          previous && changes?.sinceSeq === previous.seq
            ? recompileEndpoints(previous.result, changes, changes.objectsOf, opts)
            : null;
        if (fast) {
          this.metrics.fastPath.inc({ group });
          this.compilerOf(group).adopt(records, opts, fast);
        }
        if (fast) result = fast;
        else {
          const compiler = this.compilerOf(group);
          const before = compiler.fastPath;
          result = compiler.compile(records, opts);
          if (compiler.fastPath > before) this.metrics.mappingFastPath.inc({ group });
        }
      } catch (err) {
        const outcome = err instanceof InvalidOutputError ? 'invalid_output' : 'error';
        this.metrics.compiles.inc({ group, outcome });
        status.systemError = errorMessage(err);
        this.opts.log.error(
          { group, seq, err: errorMessage(err) },
          'compile failed: nothing published, the last good snapshot keeps serving',
        );
        // Nothing to commit until the next change; compiling the same state again would fail again.
        this.leadership.settled(group);
        endTimer();
        return;
      }
      this.reportDiagnostics(group, previous?.result.diagnostics ?? [], result.diagnostics);
      const snapshotStart = performance.now();
      snapshot = buildSnapshot(group, seq, result, previous);
      const builtAt = performance.now();
      this.built.set(group, { seq, result, snapshot, compileMs: builtAt - compileStart });
      phases.compileMs = snapshotStart - compileStart;
      phases.snapshotMs = builtAt - snapshotStart;
    }
    if (!leader) {
      // Committed once this replica leads: on election, or by the next renewal if the lease only
      // looked expired for a moment (a long compile, a late answer).
      this.leadership.owe(group);
      endTimer();
      return;
    }
    const { compileMs } = this.built.get(group) as BuiltCompile;
    const errors = result.diagnostics.filter((d) => d.severity === 'error').length;
    // Every blob goes with every commit: the store skips the ones it already holds cheaply, and a
    // blob last referenced by a collected manifest may be gone, so "known" locally proves nothing.
    const blobs = this.opts.secretKeys
      ? sealSecretBlobs(snapshot.manifest, snapshot.blobs, this.opts.secretKeys)
      : snapshot.blobs;
    let committed: Awaited<ReturnType<SnapshotStore['commit']>>;
    const epoch = this.leadership.epoch(group);
    try {
      const base = this.lastCommit.get(group);
      const storeStart = performance.now();
      committed = await this.opts.store.commit({
        epoch,
        manifest: snapshot.manifest,
        blobs,
        ...(base && base.epoch === epoch ? { base: base.forStore() } : {}),
        record: {
          group,
          version: seq,
          fromSeq: (status.version ?? 0) + 1,
          epoch,
          compileMs: Math.round(compileMs * 1000) / 1000,
          committedAt: new Date().toISOString(),
          errors,
          warnings: result.diagnostics.length - errors,
        },
      });
      phases.storeMs = performance.now() - storeStart;
    } catch (err) {
      this.metrics.compiles.inc({ group, outcome: 'store_error' });
      this.opts.log.error(
        { group, seq, err: errorMessage(err) },
        'commit failed; will retry on the next change',
      );
      this.retrySoon();
      endTimer();
      return;
    }
    endTimer();
    if (!committed.committed) {
      if (committed.reason === 'fenced') {
        this.metrics.compiles.inc({ group, outcome: 'fenced' });
        await this.leadership.fenced(group, epoch);
        return;
      }
      this.metrics.compiles.inc({ group, outcome: 'stale' });
      this.opts.log.info(
        { group, seq, head: committed.head },
        'store already has this version; nothing to do',
      );
      status.version = committed.head;
      this.noteCommitted(group, committed.head);
      return;
    }
    this.metrics.compiles.inc({ group, outcome: 'committed' });
    this.lastCommit.set(group, new CommitBase(epoch, seq, snapshot.manifest));
    this.metrics.version.set({ group }, seq);
    status.version = seq;
    this.noteCommitted(group, seq);
    status.diagnostics = result.diagnostics;
    status.systemError = null;
    this.opts.log.info(
      {
        group,
        version: seq,
        resources: result.resources.length,
        diagnostics: result.diagnostics.length,
        compileMs: round3(phases.compileMs),
        snapshotMs: round3(phases.snapshotMs),
        storeMs: round3(phases.storeMs),
        timerLateMs: round3(this.timerLateMs),
      },
      'snapshot committed',
    );
    this.opts.onCommit?.({ group, version: seq, records, diagnostics: result.diagnostics });
    this.commits++;
    const every = this.opts.gcEvery ?? 20;
    if (this.commits % every === 0 && !this.gcDue.has(group)) this.gcDue.set(group, this.commits);
    // A steady stream of changes never leaves the compiler idle: gc then runs at most `every`
    // commits late.
    for (const [g, since] of this.gcDue) if (this.commits - since >= every) this.runGc(g);
  }

  /**
   * A due gc waits for `gcIdleMs` (GC_IDLE_MS) without changes: its Redis reads and marking would otherwise
   * compete with the next commit (seen as 40 ms debounce-timer delays and 100 ms commits right
   * after a gc started).
   */
  private armGc(): void {
    if (this.gcTimer) clearTimeout(this.gcTimer);
    this.gcTimer = undefined;
    if (this.gcDue.size === 0 || this.abort.signal.aborted) return;
    this.gcTimer = setTimeout(() => {
      this.gcTimer = undefined;
      for (const g of [...this.gcDue.keys()]) this.runGc(g);
    }, this.opts.gcIdleMs ?? GC_IDLE_MS);
    this.gcTimer.unref?.();
  }

  private runGc(group: string): void {
    this.gcDue.delete(group);
    if (!this.leadership.isLeader()) return;
    this.opts.store.gc(group, this.opts.retention).catch((err: unknown) => {
      this.opts.log.warn({ group, err: errorMessage(err) }, 'snapshot gc failed');
    });
  }

  private compilerOf(group: string): IncrementalCompiler {
    let c = this.compilers.get(group);
    if (!c) {
      c = new IncrementalCompiler(group);
      this.compilers.set(group, c);
    }
    c.prepareLater = !this.started;
    return c;
  }

  /** The store holds the group's state at `version`: nothing is owed, and it must not fall below. */
  private noteCommitted(group: string, version: number): void {
    this.highest.set(group, Math.max(this.highest.get(group) ?? 0, version));
    this.leadership.settled(group);
  }

  /** Logs diagnostics that are new since the previous compile (so each problem is logged once). */
  private reportDiagnostics(
    group: string,
    before: readonly Diagnostic[],
    after: readonly Diagnostic[],
  ): void {
    // The same list (a fast path that changed no diagnostic): nothing new, the gauges stand.
    if (before === after) return;
    const key = (d: Diagnostic) => JSON.stringify([d.source, d.field, d.message]);
    const seen = new Set(before.map(key));
    for (const d of after) {
      if (seen.has(key(d))) continue;
      const s = d.source;
      const where = `${s.kind} ${s.namespace}/${s.name} (cluster ${s.cluster}${s.file ? `, ${s.file}#${s.document ?? 0}` : ''})`;
      this.opts.log[d.severity === 'error' ? 'warn' : 'info'](
        { group, object: s, field: d.field },
        `${where}: ${d.field ? `${d.field}: ` : ''}${d.message}`,
      );
    }
    for (const severity of ['error', 'warning'] as const) {
      this.metrics.diagnostics.set({ group, severity }, after.filter((d) => d.severity === severity).length);
    }
  }

  /**
   * Whether a source cluster's open sync holds commits now; if so, a compile is scheduled for when
   * the hold runs out (the `resync` marker, when it comes first, schedules one by itself).
   */
  private heldBySync(): boolean {
    const { holdUntil, expired } = this.barrier.check();
    for (const { cluster, syncingMs } of expired)
      this.opts.log.warn(
        { cluster, syncingMs, maxWaitMs: this.opts.syncMaxWaitMs ?? 30_000 },
        'source cluster still syncing after the maximum wait (--sync-max-wait-ms): committing without its resync marker',
      );
    if (holdUntil === undefined) return false;
    this.metrics.held.inc();
    if (!this.barrierTimer) {
      this.barrierTimer = setTimeout(
        () => {
          this.barrierTimer = undefined;
          if (!this.abort.signal.aborted) this.schedule();
        },
        Math.max(0, holdUntil - Date.now()),
      );
      this.barrierTimer.unref();
    }
    this.opts.log.debug({ syncing: this.barrier.open() }, 'commit held: source clusters are syncing');
    return true;
  }

  private retrySoon(): void {
    if (this.abort.signal.aborted) return;
    setTimeout(() => {
      if (!this.abort.signal.aborted) this.schedule();
    }, 1000).unref();
  }
}

/**
 * The committer's previous commit of a group, as the store's commit `base`: the set of every hash
 * its manifest references is built only if the store asks for it (it compares type lists of the
 * manifests instead when it can; building the set cost ~5,000 insertions per commit).
 */
class CommitBase {
  private set: Set<string> | undefined;

  constructor(
    readonly epoch: number,
    readonly version: number,
    readonly manifest: Manifest,
  ) {}

  forStore(): { version: number; hashes: ReadonlySet<string>; manifest: Manifest } {
    const hashes = (): ReadonlySet<string> => {
      this.set ??= new Set(manifestHashes(this.manifest));
      return this.set;
    };
    return {
      version: this.version,
      manifest: this.manifest,
      get hashes() {
        return hashes();
      },
    };
  }
}

function round3(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
