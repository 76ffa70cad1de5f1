/**
 * What every simulated stream of a worker shares: its channel, the version book, the clock, the
 * reconnect policy and where it reports what it observed. A stream holds only its own protocol
 * state; everything measurable flows back through {@link StreamContext.observe}.
 */
import type { H2Channel } from './h2-channel.ts';
import type { VersionBook } from './version-book.ts';

/** Wall-clock milliseconds with sub-millisecond precision, comparable across processes. */
export function now(): number {
  return performance.timeOrigin + performance.now();
}

export interface StreamObserver {
  /** The stream ACKed content satisfying probe `probeId` at `at`. */
  probeHit(stream: number, probeId: string, at: number): void;
  /** The stream ACKed every type of its initial configuration. */
  configured(stream: number, at: number): void;
  /** A response arrived (counted per short type name). */
  response(typeShort: string, bytes: number): void;
  /** The stream started a call (first or re-opened). */
  calling(stream: number): void;
  /** The stream ended and will reconnect (or not, when the worker is closing). */
  ended(stream: number, code: number, details: string): void;
}

export interface StreamContext {
  readonly book: VersionBook;
  readonly observe: StreamObserver;
  /** True once the worker is shutting down: ended streams must not reconnect. */
  readonly closing: () => boolean;
  /** The channel a stream opens its calls on. */
  channel(stream: number): H2Channel;
  nodeId(stream: number): string;
  /** The stream's Envoy opts into VHDS (node metadata `attache_vhds`). */
  readonly vhds: boolean;
  /**
   * Envoy's retry policy for its ADS stream: jittered exponential backoff (base 500 ms, cap 30 s);
   * a random delay in [0, min(cap, base·2^attempt)).
   */
  backoffMs(attempt: number): number;
}

/** The shape every simulated Envoy has, whatever its protocol variant. */
export interface SimStream {
  readonly index: number;
  /** Opens (or re-opens) the ADS call. */
  open(): void;
  /** Ends the call for good. */
  close(): void;
  /** Rank of what the stream holds, per key (SotW: type; delta: type + resource name). */
  holdings(): Map<string, number>;
}

export function envoyBackoffMs(attempt: number, baseMs = 500, capMs = 30_000): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.min(attempt, 16));
  return Math.random() * ceiling;
}
