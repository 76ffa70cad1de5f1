/**
 * Test support: an {@link EventLog} that delegates to another but can be made to refuse
 * publishes (with DependencyError, as the JetStream log does when NATS is unreachable), and that
 * records every publish attempt's message id. A fake at the project's own port, never of NATS.
 */
import type { EventEnvelope } from '../../../shared/events/envelope.ts';
import type {
  DurableDelivery,
  DurableOptions,
  EventLog,
  FollowOptions,
  LoggedEvent,
  PublishAck,
  ReadOptions,
} from '../../../shared/events/event-log.ts';
import { messageIdFor } from '../../../shared/events/subjects.ts';
import { DependencyError } from '../../../shared/runtime/errors.ts';

export class FlakyEventLog implements EventLog {
  /** While true, every publish fails. */
  failing = false;
  /** When > 0, the next publishes fail and this counts down. */
  failNext = 0;
  /** When set, the next publish is stored but then fails, as if its acknowledgement were lost. */
  loseNextAck = false;
  /** Message id of every publish attempt, in order. */
  readonly attempts: string[] = [];

  constructor(private readonly inner: EventLog) {}

  async publish(event: EventEnvelope, opts?: { msgId?: string }): Promise<PublishAck> {
    const msgId = opts?.msgId ?? messageIdFor(event);
    this.attempts.push(msgId);
    if (this.failing || this.failNext > 0) {
      if (this.failNext > 0) this.failNext--;
      throw new DependencyError('event log unavailable (test)');
    }
    if (this.loseNextAck) {
      this.loseNextAck = false;
      await this.inner.publish(event, { msgId });
      throw new DependencyError('publish acknowledgement lost (test)');
    }
    return this.inner.publish(event, { msgId });
  }

  lastSeq(): Promise<number> {
    return this.inner.lastSeq();
  }

  firstSeq(): Promise<number> {
    return this.inner.firstSeq();
  }

  read(opts: ReadOptions): AsyncIterable<LoggedEvent> {
    return this.inner.read(opts);
  }

  follow(opts: FollowOptions): AsyncIterable<LoggedEvent> {
    return this.inner.follow(opts);
  }

  durable(name: string, opts: DurableOptions): AsyncIterable<DurableDelivery> {
    return this.inner.durable(name, opts);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
