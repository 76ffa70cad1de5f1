/**
 * The event log as history: resolves points in time (an event sequence, a committed version or a
 * wall-clock time) to sequences and rebuilds the world state and the snapshot at any of them with
 * the compiler's own fold and pure passes, so what it shows is byte-identical to what was
 * committed there. Works on any event source: JetStream, the embedded log of `attache dev`, or
 * that log read over a dev/compiler admin port (http-event-source.ts).
 *
 * Events are read once and kept in memory (the tools are short-lived and the log is the input of
 * one compiler anyway). Replay starts from sequence 1; when retention removed the start of the
 * log, every point fails with a {@link RetentionError} that names the oldest retained event.
 */
import type { EventLog, LoggedEvent } from '../../shared/events/event-log.ts';
import { AttacheError } from '../../shared/runtime/errors.ts';
import { type CompileOptions, type CompileResult, compile, type SourceRecord } from '../compiler/compile.ts';
import { WorldState } from '../compiler/runner-world.ts';
import { type SnapshotView, viewOfCompile } from './snapshot-view.ts';

/** What the history reads: a subset of the event log port. */
export type EventSource = Pick<EventLog, 'read' | 'lastSeq' | 'firstSeq'>;

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

  private constructor(
    private readonly source: EventSource,
    private readonly compileOptions: CompileOptions,
  ) {}

  /** Reads the log up to its current end. */
  static async open(source: EventSource, compileOptions: CompileOptions): Promise<LogHistory> {
    const h = new LogHistory(source, compileOptions);
    await h.refresh();
    return h;
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

  /** The world state after folding events 1..seq. */
  recordsAt(seq: number): SourceRecord[] {
    this.checkRetained(seq);
    const world = new WorldState();
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
    throw new RetentionError(
      `${asked ?? `event sequence ${seq}`} cannot be rebuilt: retention removed events 1..${this.first - 1} ` +
        `and rebuilding starts from the first event; the oldest event still stored is ${this.first}` +
        `${oldest?.time ? ` (${oldest.time})` : ''}, and no point can be rebuilt without the events before it. ` +
        'Raise --log-max-age-hours/--log-max-bytes to keep history.',
    );
  }
}
