/**
 * The one retry/backoff helper of every tier: capped exponential backoff with jitter.
 *
 * - {@link backoffDelay}: the delay before retry number `attempt`, `initialMs · factor^attempt`
 *   capped at `maxMs`, drawn uniformly from [d/2, d] so that many clients failing together (fan-out
 *   nodes losing Redis, ingestors losing NATS) do not retry in lockstep.
 * - {@link RetryBackoff}: the same sequence for a loop that keeps its own state (follow a log,
 *   reconnect): `wait()` after a failure, `reset()` after a success.
 * - {@link retryUntilDone}: calls a function until it succeeds or the caller aborts (which
 *   rejects with the signal's reason); ingestors use it so that no accepted change is lost.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { abortableSleep } from './abortable-sleep.ts';
import { EventTooLargeError, errorMessage } from './errors.ts';
import type { Logger } from './logger.ts';

export interface Backoff {
  /** Delay before the first retry. */
  initialMs: number;
  /** Upper bound of any delay. */
  maxMs: number;
  /** Growth per attempt. */
  factor: number;
}

export const DEFAULT_BACKOFF: Backoff = { initialMs: 100, maxMs: 5_000, factor: 2 };

/** Delay before retry number `attempt` (0-based): exponential, capped, with jitter in [d/2, d]. */
export function backoffDelay(attempt: number, b: Backoff = DEFAULT_BACKOFF): number {
  const d = Math.min(b.maxMs, b.initialMs * b.factor ** attempt);
  return d / 2 + Math.random() * (d / 2);
}

/**
 * A backoff sequence for a retry loop: each {@link wait} sleeps the next delay of
 * {@link backoffDelay} (or until `signal` aborts); {@link reset} starts the sequence over.
 */
export class RetryBackoff {
  private attempt = 0;

  constructor(private readonly backoff: Backoff = DEFAULT_BACKOFF) {}

  /** The next delay (ms), advancing the sequence. */
  next(): number {
    return Math.round(backoffDelay(this.attempt++, this.backoff));
  }

  /** Sleeps the next delay, or until `signal` aborts; never rejects. Resolves to the delay. */
  async wait(signal: AbortSignal): Promise<number> {
    const ms = this.next();
    await abortableSleep(ms, signal);
    return ms;
  }

  reset(): void {
    this.attempt = 0;
  }
}

export interface RetryOptions {
  signal: AbortSignal;
  log: Logger;
  /** What is being attempted, for the log ("publish event", "read event log"). */
  what: string;
  backoff?: Backoff;
  /** Extra log fields identifying the operation. */
  context?: Record<string, unknown>;
  /** Called after each failed attempt (metrics). */
  onFailure?: (err: unknown, attempt: number) => void;
}

/**
 * Calls `fn` until it resolves; every failure is logged at warn and followed by a backoff delay.
 * An EventTooLargeError is rethrown at once: the same event can never fit, so retrying it would
 * only hold up every change behind it.
 */
export async function retryUntilDone<T>(fn: () => Promise<T>, opts: RetryOptions): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    opts.signal.throwIfAborted();
    try {
      return await fn();
    } catch (err) {
      opts.signal.throwIfAborted();
      if (err instanceof EventTooLargeError) throw err;
      opts.onFailure?.(err, attempt);
      const delayMs = Math.round(backoffDelay(attempt, opts.backoff));
      opts.log.warn(
        {
          ...opts.context,
          err: errorMessage(err),
          errName: (err as Error)?.name,
          attempt: attempt + 1,
          delayMs,
        },
        `${opts.what} failed, retrying`,
      );
      await sleep(delayMs, undefined, { signal: opts.signal }).catch(() => opts.signal.throwIfAborted());
    }
  }
}
