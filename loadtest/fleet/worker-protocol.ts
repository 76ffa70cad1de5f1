/**
 * The IPC contract between the benchmark driver and its simulator workers (child_process.fork).
 * The driver sends numbered requests; a worker answers each one and, unasked, streams progress
 * every {@link PROGRESS_INTERVAL_MS} and a `fatal` message when the server refuses the protocol.
 * Times are wall-clock milliseconds (performance.timeOrigin + now()), comparable across processes.
 */
import type { Probe } from './version-book.ts';

export type Mode = 'sotw' | 'delta';

export const PROGRESS_INTERVAL_MS = 200;

export interface WorkerStart {
  mode: Mode;
  host: string;
  port: number;
  /** Global index of this worker's first stream (node ids are `fleet-<index>`). */
  firstStream: number;
  count: number;
  streamsPerChannel: number;
  /** Streams this worker opens per second during the ramp; 0 opens them all at once. */
  connectRatePerS: number;
  /** Delta streams opt into VHDS (node metadata `attache_vhds`). */
  vhds?: boolean;
}

export type WorkerRequest =
  | { op: 'start'; arg: WorkerStart }
  | { op: 'arm'; arg: Probe }
  | { op: 'probe'; arg: { id: string } }
  | { op: 'ttfc' }
  | { op: 'mark' }
  | { op: 'compare' }
  | { op: 'stop' };

export interface Progress {
  opened: number;
  configured: number;
  /** Streams whose call is currently down (ended, waiting to reconnect). */
  down: number;
  /** Stream endings seen so far (server closed, failed, refused). */
  endings: number;
  /** Streams that ACKed content satisfying each probe. */
  probeHits: Record<string, number>;
  /** Responses received so far, per short type name. */
  responses: Record<string, { count: number; bytes: number }>;
  /** Distinct configuration versions seen (SotW: per type; delta: per resource). */
  versionsSeen: number;
}

export interface ProbeReport {
  /** Per stream: when it ACKed content satisfying the probe, or null. */
  acks: Array<number | null>;
}

export interface TtfcReport {
  openedAt: Array<number | null>;
  configuredAt: Array<number | null>;
}

export interface RegressionReport {
  streams: number;
  /** (stream, key) pairs compared. */
  compared: number;
  regressions: number;
  examples: string[];
}

export type WorkerMessage =
  | { t: 'res'; id: number; ok: true; value: unknown }
  | { t: 'res'; id: number; ok: false; error: string }
  | { t: 'progress'; p: Progress }
  | { t: 'fatal'; code: number; message: string };

export interface RequestEnvelope {
  t: 'req';
  id: number;
  req: WorkerRequest;
}
