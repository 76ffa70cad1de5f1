/**
 * The event log as history: resolves points in time (an event sequence, a committed version or a
 * wall-clock time) to sequences and rebuilds the world state and the snapshot at any of them with
 * the compiler's own fold and pure passes, so what it shows is byte-identical to what was
 * committed there. Works on any event source: JetStream, the embedded log of `attache dev`, or
 * that log read over a dev/compiler admin port (http-event-source.ts).
 *
 * Events are read once and kept in memory (the tools are short-lived and the log is the input of
 * one compiler anyway). A rebuild starts from sequence 1, or, once {@link LogHistory.useCheckpoint}
 * loaded one, from the compiler checkpoint nearest at or before the point (services/compiler/
 * checkpoint.ts: the same state the compiler folded, so the output is the same bytes). When
 * retention removed the start of the log, a point that neither the retained events nor a checkpoint
 * reach fails with a {@link RetentionError} naming the oldest point that can be rebuilt.
 */
import type { EventLog, LoggedEvent } from '../../shared/events/event-log.ts';
import type { PlaintextPolicy } from '../../shared/events/sealed-secrets.ts';
import { AttacheError, errorMessage } from '../../shared/runtime/errors.ts';
import type { KeyRing } from '../../shared/runtime/secret-keys.ts';
import type { CheckpointStore } from '../../shared/snapshot/checkpoint-store.ts';
import { type CheckpointState, decodeCheckpoint, eventIdentity } from '../compiler/checkpoint.ts';
import { compile } from '../compiler/compile.ts';
import type { CompileOptions, CompileResult, SourceRecord } from '../compiler/contracts.ts';
import { WorldState } from '../compiler/runner-world.ts';
import { type SnapshotView, viewOfCompile } from './snapshot-view.ts';

/** What the history reads: a subset of the event log port. */
export type EventSource = Pick<EventLog, 'read' | 'lastSeq' | 'firstSeq'>;

/** Where a history finds the compiler's checkpoints, and how it opens their Secrets. */
export interface HistoryCheckpoints {
  store: Pick<CheckpointStore, 'list' | 'get'>;
  keys?: KeyRing;
  plaintext: PlaintextPolicy;
}

/** Where a rebuild at a point starts. */
export interface StartPoint {
  /** The checkpoint it starts from, or null: the start of the log. */
  checkpoint: number | null;
  /** Checkpoints that were passed over, and why. */
  skipped: string[];
}

/** A point in the log as an operator names it. */
export type Point = { seq: number } | { version: number } | { time: string };

/** A point outside the log, or before its retained window. */
export class PointError extends AttacheError {}
export class RetentionError extends PointError {}

/**
 * Parses a point written as `seq:N` or a bare number (sequence), `v:N` / `vN` (version), or an
 * ISO-8601 time (`2026-03-01T14:02:00Z`).
 */
export function parsePoint(text: string): Point {
  const t = text.trim();
  if (/^\d+$/.test(t)) return { seq: Number(t) };
  let m = /^seq:(\d+)$/.exec(t);
  if (m) return { seq: Number(m[1]) };
  m = /^v:?(\d+)$/.exec(t);
  if (m) return { version: Number(m[1]) };
  if (!Number.isNaN(Date.parse(t))) return { time: new Date(t).toISOString() };
  throw new PointError(
    `cannot read ${JSON.stringify(text)} as a point: use a sequence (42), a version (v42) or a time (2026-03-01T14:02:00Z)`,
  );
}

export class LogHistory {
  private loaded: LoggedEvent[] = [];
  private first = 1;
  private last = 0;
  /** Sequences of the stored checkpoints (empty without a checkpoint source). */
  private checkpointSeqs: number[] = [];
  /** The checkpoint rebuilds start from, once loaded. */
  private base: CheckpointState | undefined;

  private constructor(
    private readonly source: EventSource,
    private readonly compileOptions: CompileOptions,
    private readonly checkpoints?: HistoryCheckpoints,
  ) {}

  /** Reads the log up to its current end, and lists the checkpoints when given a source. */
  static async open(
    source: EventSource,
    compileOptions: CompileOptions,
    checkpoints?: HistoryCheckpoints,
  ): Promise<LogHistory> {
    const h = new LogHistory(source, compileOptions, checkpoints);
    await h.refresh();
    if (checkpoints) h.checkpointSeqs = await checkpoints.store.list();
    return h;
  }

  /**
   * Loads the newest usable checkpoint at or before `seq` (its following events retained, its
   * checksum right, naming the event the log holds at its sequence), so that rebuilds at `seq`
   * and later start there; otherwise they start from the first event.
   */
  async useCheckpoint(seq: number): Promise<StartPoint> {
    const skipped: string[] = [];
    if (this.base && this.base.seq <= seq && this.checkpointSeqs.every((c) => c <= this.base!.seq || c > seq))
      return { checkpoint: this.base.seq, skipped };
    this.base = undefined;
    const src = this.checkpoints;
    if (!src) return { checkpoint: null, skipped };
    for (const c of [...this.checkpointSeqs].filter((c) => c <= seq).sort((a, b) => b - a)) {
      if (c + 1 < this.first) {
        skipped.push(`checkpoint ${c}: the events after it are no longer retained`);
        break;
      }
      try {
        const bytes = await src.store.get(c);
        if (!bytes) throw new Error('it was deleted');
        const state = decodeCheckpoint(bytes, src.keys, src.plaintext);
        if (state.seq !== c) throw new Error(`it says it covers sequence ${state.seq}`);
        const at = this.loaded.find((e) => e.seq === c);
        if (at && eventIdentity(at.event) !== state.last)
          throw new Error('the log holds another event at its sequence (written from another log)');
        this.base = state;
        return { checkpoint: c, skipped };
      } catch (err) {
        skipped.push(`checkpoint ${c}: ${errorMessage(err)}`);
      }
    }
    return { checkpoint: null, skipped };
  }

  get group(): string {
    return this.compileOptions.group;
  }

  /** Reads events appended since the last refresh. */
  async refresh(): Promise<void> {
    const [first, last] = await Promise.all([this.source.firstSeq(), this.source.lastSeq()]);
    this.first = first;
    const from = Math.max(first, this.last + 1);
    if (this.loaded.length > 0 && first > (this.loaded[0]?.seq ?? 1)) {
      this.loaded = this.loaded.filter((e) => e.seq >= first);
    }
    if (last >= from)
      for await (const e of this.source.read({ fromSeq: from, toSeq: last })) this.loaded.push(e);
    this.last = Math.max(this.last, last);
  }

  /** Sequence of the last event. */
  get lastSeq(): number {
    return this.last;
  }

  /** Every retained event, in order. */
  get events(): readonly LoggedEvent[] {
    return this.loaded;
  }

  /** Events with from < seq ≤ to. */
  between(from: number, to: number): LoggedEvent[] {
    return this.loaded.filter((e) => e.seq > from && e.seq <= to);
  }

  /** The sequence a point names: a version is the sequence it folded; a time the last event stored at or before it. */
  resolve(point: Point): number {
    if ('seq' in point) {
      if (point.seq < 0 || point.seq > this.last)
        throw new PointError(`event sequence ${point.seq} is not in the log (last: ${this.last})`);
      return point.seq;
    }
    if ('version' in point) {
      if (point.version < 0 || point.version > this.last)
        throw new PointError(`version ${point.version} is not in the log (last event: ${this.last})`);
      return point.version;
    }
    const at = Date.parse(point.time);
    let seq = 0;
    for (const e of this.loaded) {
      if (e.time !== undefined && Date.parse(e.time) <= at) seq = e.seq;
      else if (e.time !== undefined) break;
    }
    if (seq === 0 && this.first > 1) this.checkRetained(0, point.time);
    return seq;
  }

  /** The world state after folding events 1..seq (from the loaded checkpoint when it is at or before seq). */
  recordsAt(seq: number): SourceRecord[] {
    const world = new WorldState();
    const base = this.base && this.base.seq <= seq ? this.base : undefined;
    if (base) world.restore(base);
    else this.checkRetained(seq);
    for (const e of this.loaded) {
      if (e.seq > seq) break;
      world.apply(e.seq, e.event);
    }
    return world.records();
  }

  /** Compiles the world state at seq (throws InvalidOutputError as the compiler would). */
  compileAt(seq: number): CompileResult {
    return this.compile(this.recordsAt(seq));
  }

  /** Compiles records with this history's group and options. */
  compile(records: readonly SourceRecord[]): CompileResult {
    return compile(records, this.compileOptions);
  }

  /** The snapshot at seq as the compiler would have committed it (version = seq). */
  viewAt(seq: number): SnapshotView {
    return viewOfCompile(this.group, seq, this.compileAt(seq));
  }

  private checkRetained(seq: number, asked?: string): void {
    if (this.first <= 1) return;
    const oldest = this.loaded[0];
    const reachable = this.checkpointSeqs.filter((c) => c + 1 >= this.first).sort((a, b) => a - b)[0];
    throw new RetentionError(
      `${asked ?? `event sequence ${seq}`} cannot be rebuilt: retention removed events 1..${this.first - 1}; ` +
        `the oldest event still stored is ${this.first}${oldest?.time ? ` (${oldest.time})` : ''}. ` +
        (reachable !== undefined
          ? `The oldest point that can be rebuilt is sequence ${reachable} (a compiler checkpoint; give --redis, or --admin, so replay can read it). `
          : 'No compiler checkpoint reaches further back, so no point can be rebuilt without the events before it. ') +
        'Raise --log-max-age-hours/--log-max-bytes to keep history.',
    );
  }
}
