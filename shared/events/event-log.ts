/**
 * The event log port: an append-only, totally ordered log of {@link EventEnvelope}s. Its sequence
 * numbers are the system's logical clock: every snapshot records the last sequence it includes.
 *
 * Implementations: `JetStreamEventLog` (NATS JetStream, production) and `MemoryEventLog`
 * (embedded `attache dev`, tests). Both pass the same contract suite
 * (`shared/events/event-log.contract.ts`).
 */
import type { EventEnvelope } from './envelope.ts';

/** One event as stored in the log. */
export interface LoggedEvent {
  /** Position in the log; starts at 1, strictly increasing, never reused. */
  seq: number;
  subject: string;
  event: EventEnvelope;
  /**
   * When the log stored the event (ISO-8601; JetStream's message timestamp). Debugging tools use
   * it to find "the state at 14:02"; compilers never read it.
   */
  time?: string;
}

/** A delivery from a durable consumer; call `ack()` once the event is fully processed. */
export interface DurableDelivery extends LoggedEvent {
  ack(): Promise<void>;
}

export interface PublishAck {
  seq: number;
  /** True when the message id was already stored: nothing new was appended. */
  duplicate: boolean;
}

export interface ReadOptions {
  /** First sequence to deliver (inclusive, ≥ 1). */
  fromSeq: number;
  /** Last sequence to deliver (inclusive); defaults to the last sequence at the time of the call. */
  toSeq?: number;
  /** NATS-style subject filters; all events when absent. */
  subjects?: readonly string[];
}

export interface FollowOptions {
  fromSeq: number;
  subjects?: readonly string[];
  /** Stops the iteration (it then returns normally). */
  signal: AbortSignal;
}

export interface DurableOptions {
  subjects?: readonly string[];
  signal: AbortSignal;
}

export interface EventLog {
  /**
   * Appends an event and resolves once it is durably stored. Publishing with a message id that
   * was already stored (within the de-duplication window) appends nothing and returns the
   * original sequence with `duplicate: true`. The default id is `messageIdFor(event)`.
   */
  publish(event: EventEnvelope, opts?: { msgId?: string }): Promise<PublishAck>;
  /** The last sequence in the log, 0 when empty. */
  lastSeq(): Promise<number>;
  /**
   * The oldest sequence still stored: 1 unless retention (age or bytes) removed older events;
   * lastSeq() + 1 when every event is gone.
   */
  firstSeq(): Promise<number>;
  /** Delivers stored events in sequence order from `fromSeq` up to `toSeq`, then ends. */
  read(opts: ReadOptions): AsyncIterable<LoggedEvent>;
  /** Delivers stored events from `fromSeq`, then new ones as they are appended, until aborted. */
  follow(opts: FollowOptions): AsyncIterable<LoggedEvent>;
  /**
   * A named durable consumer: deliveries resume after the last acknowledged event, across
   * process restarts. Unacknowledged events are redelivered. Ends when the signal aborts.
   */
  durable(name: string, opts: DurableOptions): AsyncIterable<DurableDelivery>;
  close(): Promise<void>;
}
