/**
 * When the compiler writes checkpoints of its folded state, and how a starting compiler picks one.
 *
 * - Writing: the leader (only it, so replicas do not write the same state twice) writes one after a
 *   compile once `everyEvents` events were folded since the last one, or `everyMs` passed and
 *   anything new was folded; then the store keeps the newest `keep`. At most one write runs at a
 *   time; a due checkpoint that finds one running waits for the next compile. A failed write is a
 *   warning: checkpoints only shorten start-up.
 * - Loading (every replica, at start): the newest checkpoint at or before the end of the log whose
 *   tail is still retained, that decodes, passes its checksum and names the same event at its
 *   sequence as the log does. Each one that does not is a warning and the next older is tried;
 *   with none, the whole log is folded (a warning too when the log is not empty).
 *
 * A warm standby that takes over needs none: it already follows the log. A compiler that restarts
 * (after a crash, an upgrade, or as a new standby) is what checkpoints are for.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { EventLog } from '../../shared/events/event-log.ts';
import type { PlaintextPolicy } from '../../shared/events/sealed-secrets.ts';
import { errorMessage } from '../../shared/runtime/errors.ts';
import type { Logger } from '../../shared/runtime/logger.ts';
import type { KeyRing } from '../../shared/runtime/secret-keys.ts';
import type { CheckpointStore } from '../../shared/snapshot/checkpoint-store.ts';
import {
  CheckpointError,
  type CheckpointState,
  decodeCheckpoint,
  encodeCheckpoint,
  eventIdentity,
} from './checkpoint.ts';

export interface CheckpointPolicy {
  /** Write once this many events were folded since the last checkpoint (0: not by count). */
  everyEvents: number;
  /** Write once this long passed since the last checkpoint and something new was folded (0: not by time). */
  everyMs: number;
  /** Checkpoints kept (the newest); 0 turns checkpoints off (none written, none loaded). */
  keep: number;
}

export interface CheckpointerOptions {
  store: CheckpointStore;
  policy: CheckpointPolicy;
  log: Logger;
  registry: Registry;
  /** Seals Secret material in checkpoints (and opens it on load), as the event log does. */
  secretKeys?: KeyRing;
  /** What to do with plaintext Secret material without keys (as the compiler's event log). */
  plaintext: PlaintextPolicy;
}

/** A loaded checkpoint, with what it took. */
export interface LoadedCheckpoint extends CheckpointState {
  bytes: number;
  loadMs: number;
}

export class Checkpointer {
  private savedSeq = 0;
  private savedAt = Date.now();
  private writing?: Promise<void>;
  private readonly metrics;

  constructor(private readonly opts: CheckpointerOptions) {
    const r = opts.registry;
    this.metrics = {
      writes: new Counter({
        name: 'attache_compiler_checkpoint_writes_total',
        help: 'compiler checkpoints written, by outcome',
        labelNames: ['outcome'],
        registers: [r],
      }),
      loads: new Counter({
        name: 'attache_compiler_checkpoint_loads_total',
        help: 'start-ups by how the state was rebuilt: from a checkpoint, or the whole log (fallback)',
        labelNames: ['outcome'],
        registers: [r],
      }),
      seq: new Gauge({
        name: 'attache_compiler_checkpoint_seq',
        help: 'event sequence of the newest checkpoint written or loaded',
        registers: [r],
      }),
      bytes: new Gauge({
        name: 'attache_compiler_checkpoint_bytes',
        help: 'size of the newest checkpoint written or loaded',
        registers: [r],
      }),
    };
  }

  get enabled(): boolean {
    return this.opts.policy.keep > 0;
  }

  /**
   * The newest usable checkpoint for a log ending at `end`, or null (fold the whole log). Never
   * throws: a store that cannot be read is a warning like a corrupt checkpoint.
   */
  async load(events: Pick<EventLog, 'read' | 'firstSeq'>, end: number): Promise<LoadedCheckpoint | null> {
    if (!this.enabled || end === 0) return null;
    const { log } = this.opts;
    const started = performance.now();
    let seqs: number[];
    let first: number;
    try {
      [seqs, first] = await Promise.all([this.opts.store.list(), events.firstSeq()]);
    } catch (err) {
      log.warn({ err: errorMessage(err) }, 'cannot list compiler checkpoints: folding the whole log');
      this.metrics.loads.inc({ outcome: 'fallback' });
      return null;
    }
    for (const seq of [...seqs].sort((a, b) => b - a)) {
      const skip = (reason: string) =>
        log.warn(
          { checkpoint: seq, logEnd: end },
          `compiler checkpoint at sequence ${seq} not used: ${reason}`,
        );
      if (seq > end) {
        skip(`it is past the end of the event log (${end}); it was written from another log`);
        continue;
      }
      if (seq + 1 < first) {
        skip(`the events after it are no longer retained (the log starts at ${first})`);
        break;
      }
      try {
        const bytes = await this.opts.store.get(seq);
        if (!bytes) throw new CheckpointError('it was deleted while being read');
        const state = decodeCheckpoint(bytes, this.opts.secretKeys, this.opts.plaintext);
        if (state.seq !== seq) throw new CheckpointError(`it says it covers sequence ${state.seq}`);
        if (seq >= first) {
          let found = '';
          for await (const e of events.read({ fromSeq: seq, toSeq: seq })) found = eventIdentity(e.event);
          if (found !== state.last)
            throw new CheckpointError(
              `the event log holds another event at that sequence (${found || 'none'}, not ${state.last}); it was written from another log`,
            );
        }
        const loadMs = performance.now() - started;
        log.info(
          { checkpoint: seq, objects: state.entries.length, bytes: bytes.length, loadMs: Math.round(loadMs) },
          'loaded compiler checkpoint: folding only the events after it',
        );
        this.savedSeq = seq;
        this.savedAt = Date.now();
        this.metrics.loads.inc({ outcome: 'checkpoint' });
        this.metrics.seq.set(seq);
        this.metrics.bytes.set(bytes.length);
        return { ...state, bytes: bytes.length, loadMs };
      } catch (err) {
        skip(`${errorMessage(err)}; trying an older one, else the whole log`);
      }
    }
    log.warn(
      { logEnd: end, checkpoints: seqs.length },
      'no usable compiler checkpoint: folding the whole event log',
    );
    this.metrics.loads.inc({ outcome: 'fallback' });
    return null;
  }

  /** Whether a checkpoint of the state at `seq` is due now. */
  due(seq: number): boolean {
    if (!this.enabled || this.writing || seq <= this.savedSeq) return false;
    const { everyEvents, everyMs } = this.opts.policy;
    return (
      (everyEvents > 0 && seq - this.savedSeq >= everyEvents) ||
      (everyMs > 0 && Date.now() - this.savedAt >= everyMs)
    );
  }

  /** Writes a checkpoint in the background (one at a time); failures are warnings. */
  save(state: CheckpointState): void {
    if (this.writing) return;
    this.writing = (async () => {
      const started = performance.now();
      try {
        const bytes = encodeCheckpoint(state, this.opts.secretKeys);
        await this.opts.store.put(state.seq, bytes, this.opts.policy.keep);
        this.savedSeq = state.seq;
        this.savedAt = Date.now();
        this.metrics.writes.inc({ outcome: 'written' });
        this.metrics.seq.set(state.seq);
        this.metrics.bytes.set(bytes.length);
        this.opts.log.info(
          {
            checkpoint: state.seq,
            objects: state.entries.length,
            bytes: bytes.length,
            ms: Math.round(performance.now() - started),
          },
          'compiler checkpoint written',
        );
      } catch (err) {
        this.metrics.writes.inc({ outcome: 'failed' });
        this.opts.log.warn(
          { checkpoint: state.seq, err: errorMessage(err) },
          'compiler checkpoint not written (start-up folds more of the log until one is)',
        );
      } finally {
        this.writing = undefined;
      }
    })();
  }

  /** Resolves once no checkpoint write is running. */
  async settled(): Promise<void> {
    await this.writing;
  }
}
