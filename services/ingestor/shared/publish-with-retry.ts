/**
 * Publishing one event until the log stores it. Every attempt carries the same message id, so an
 * attempt that was stored but whose acknowledgement was lost is de-duplicated by the log and the
 * retry returns the original sequence.
 */
import type { EventEnvelope } from '../../../shared/events/envelope.ts';
import type { EventLog, PublishAck } from '../../../shared/events/event-log.ts';
import { messageIdFor } from '../../../shared/events/subjects.ts';
import { type RetryOptions, retryUntilDone } from '../../../shared/runtime/retry.ts';

export function publishWithRetry(
  events: Pick<EventLog, 'publish'>,
  event: EventEnvelope,
  opts: Omit<RetryOptions, 'what'> & { msgId?: string },
): Promise<PublishAck> {
  const msgId = opts.msgId ?? messageIdFor(event);
  return retryUntilDone(() => events.publish(event, { msgId }), {
    ...opts,
    what: 'publish event',
    context: { ...opts.context, msgId },
  });
}
