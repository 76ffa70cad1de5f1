/**
 * Logging of what clients get wrong (refused credentials, oversize requests, unknown types),
 * bounded so that a hostile or broken fleet cannot turn the fan-out's log into the resource it
 * exhausts:
 *
 * - per reason, at most `burst` lines per `intervalMs`; the lines suppressed meanwhile are counted
 *   and reported (`suppressed: N`) with the next line of that reason that is written;
 * - every string field is cut to `maxFieldChars` characters (with the original length noted), and
 *   arrays to their first `maxFieldChars / 16` elements, so a 1 MB type URL costs a few hundred
 *   bytes of log, not a megabyte.
 *
 * Every mistake is counted in `attache_fanout_client_mistakes_total{reason}` whether logged or not.
 * Reasons are fixed strings chosen by the caller (never client input), so the label stays bounded.
 */
import { Counter, type Registry } from 'prom-client';
import type { Logger } from '../../../shared/runtime/logger.ts';

export interface ClientMistakesOptions {
  log: Logger;
  registry: Registry;
  /** Lines per reason per interval (default 10). */
  burst?: number;
  /** Default 10 s. */
  intervalMs?: number;
  /** Default 200. */
  maxFieldChars?: number;
}

interface Bucket {
  windowStart: number;
  written: number;
  suppressed: number;
}

export class ClientMistakes {
  private readonly buckets = new Map<string, Bucket>();
  private readonly counter: Counter<'reason'>;
  private readonly burst: number;
  private readonly intervalMs: number;
  private readonly maxChars: number;

  constructor(private readonly opts: ClientMistakesOptions) {
    this.burst = opts.burst ?? 10;
    this.intervalMs = opts.intervalMs ?? 10_000;
    this.maxChars = opts.maxFieldChars ?? 200;
    this.counter = new Counter({
      name: 'attache_fanout_client_mistakes_total',
      help: 'Client requests or streams refused or ignored, by reason (logged at a bounded rate)',
      labelNames: ['reason'],
      registers: [opts.registry],
    });
  }

  /** Counts one mistake and logs it at warn level unless its reason is over its rate. */
  report(reason: string, fields: Record<string, unknown>, msg: string, now = Date.now()): void {
    this.counter.inc({ reason });
    let b = this.buckets.get(reason);
    if (!b) {
      b = { windowStart: now, written: 0, suppressed: 0 };
      this.buckets.set(reason, b);
    }
    if (now - b.windowStart >= this.intervalMs) {
      b.windowStart = now;
      b.written = 0;
    }
    if (b.written >= this.burst) {
      b.suppressed++;
      return;
    }
    b.written++;
    const suppressed = b.suppressed;
    b.suppressed = 0;
    this.opts.log.warn({ reason, ...this.truncate(fields), ...(suppressed ? { suppressed } : {}) }, msg);
  }

  /** `fields` with long strings and arrays cut (see the module comment). */
  truncate(fields: Record<string, unknown>): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(fields)) out[k] = this.cut(v, 0);
    return out;
  }

  private cut(v: unknown, depth: number): unknown {
    if (typeof v === 'string') {
      return v.length <= this.maxChars ? v : `${v.slice(0, this.maxChars)}…(${v.length} chars)`;
    }
    if (Array.isArray(v)) {
      const keep = Math.max(1, Math.floor(this.maxChars / 16));
      const head = v.slice(0, keep).map((x) => this.cut(x, depth + 1));
      return v.length <= keep ? head : [...head, `…(${v.length} items)`];
    }
    if (v && typeof v === 'object' && depth < 2) {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v).slice(0, 16)) out[k] = this.cut(x, depth + 1);
      return out;
    }
    return v;
  }
}
