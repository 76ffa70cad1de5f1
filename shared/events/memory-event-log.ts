/**
 * In-memory {@link EventLog}: the embedded log of `attache dev` and a reference implementation for
 * the contract suite. Everything lives in one array; sequences start at 1. De-duplication keeps
 * message ids for `dedupWindowMs` (default 2 minutes, like JetStream's default window).
 */
import { EventEmitter } from 'node:events';
import { EventTooLargeError } from '../runtime/errors.ts';
import { type EventEnvelope, encodeEvent } from './envelope.ts';
import type {
  DurableDelivery,
  DurableOptions,
  EventLog,
  FollowOptions,
  LoggedEvent,
  PublishAck,
  ReadOptions,
} from './event-log.ts';
import { messageIdFor, subjectFor, subjectMatches } from './subjects.ts';

export class MemoryEventLog implements EventLog {
  private readonly events: LoggedEvent[] = [];
  private readonly ids = new Map<string, { seq: number; at: number }>();
  private readonly acked = new Map<string, number>();
  private readonly appended = new EventEmitter();
  private closed = false;

  /**
   * `maxPayloadBytes` mirrors NATS `max_payload` (8 MiB in our server configuration): a larger
   * encoded event is refused with EventTooLargeError, as the JetStream log refuses it.
   */
  constructor(
    private readonly dedupWindowMs = 120_000,
    private readonly maxPayloadBytes = 8 * 1024 * 1024,
  ) {
    this.appended.setMaxListeners(0);
  }

  async publish(event: EventEnvelope, opts?: { msgId?: string }): Promise<PublishAck> {
    if (this.closed) throw new Error('event log is closed');
    const id = opts?.msgId ?? messageIdFor(event);
    const size = encodeEvent(event).length;
    if (size > this.maxPayloadBytes) {
      throw new EventTooLargeError(
        `event ${id} is ${size} bytes after compression, over the log's max_payload of ${this.maxPayloadBytes} bytes`,
        size,
        this.maxPayloadBytes,
      );
    }
    const now = Date.now();
    const seen = this.ids.get(id);
    if (seen && now - seen.at < this.dedupWindowMs) return { seq: seen.seq, duplicate: true };
    // Events are stored as decoded copies so later mutation by the publisher cannot change history.
    const stored: LoggedEvent = {
      seq: this.events.length + 1,
      subject: subjectFor(event),
      event: structuredClone(event),
      time: new Date(now).toISOString(),
    };
    this.events.push(stored);
    this.ids.set(id, { seq: stored.seq, at: now });
    this.appended.emit('event');
    return { seq: stored.seq, duplicate: false };
  }

  async lastSeq(): Promise<number> {
    return this.events.length;
  }

  /** Nothing is ever removed from the embedded log. */
  async firstSeq(): Promise<number> {
    return 1;
  }

  async *read(opts: ReadOptions): AsyncIterable<LoggedEvent> {
    const to = opts.toSeq ?? this.events.length;
    for (let seq = Math.max(1, opts.fromSeq); seq <= to && seq <= this.events.length; seq++) {
      const e = this.events[seq - 1];
      if (e && matches(opts.subjects, e.subject)) yield e;
    }
  }

  async *follow(opts: FollowOptions): AsyncIterable<LoggedEvent> {
    let next = Math.max(1, opts.fromSeq);
    while (!opts.signal.aborted && !this.closed) {
      while (next <= this.events.length) {
        const e = this.events[next - 1];
        next++;
        if (e && matches(opts.subjects, e.subject)) yield e;
        if (opts.signal.aborted) return;
      }
      await this.waitForAppend(opts.signal);
    }
  }

  async *durable(name: string, opts: DurableOptions): AsyncIterable<DurableDelivery> {
    let next = (this.acked.get(name) ?? 0) + 1;
    while (!opts.signal.aborted && !this.closed) {
      while (next <= this.events.length) {
        const e = this.events[next - 1];
        const seq = next;
        next++;
        if (!e || !matches(opts.subjects, e.subject)) continue;
        yield {
          ...e,
          ack: async () => {
            this.acked.set(name, Math.max(this.acked.get(name) ?? 0, seq));
          },
        };
        if (opts.signal.aborted) return;
      }
      await this.waitForAppend(opts.signal);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.appended.emit('event');
  }

  private waitForAppend(signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        this.appended.off('event', done);
        signal.removeEventListener('abort', done);
        resolve();
      };
      this.appended.on('event', done);
      signal.addEventListener('abort', done, { once: true });
    });
  }
}

function matches(filters: readonly string[] | undefined, subject: string): boolean {
  return !filters || filters.length === 0 || filters.some((f) => subjectMatches(f, subject));
}
