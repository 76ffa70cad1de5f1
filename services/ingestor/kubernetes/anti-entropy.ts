/**
 * The log half of the Kubernetes ingestor's anti-entropy: which objects' newest event in the log
 * is not one this ingestor published (a forged event from someone who can publish on the
 * cluster's subjects, or one from another process publishing as this cluster).
 *
 * Such events are adopted into the queue's record of the log, exactly as start-up adopts what the
 * log holds; the ingestor then compares its informer caches with that record and publishes where
 * they differ. Adopting alone publishes nothing, so an event that happens to equal the cluster's
 * state costs nothing.
 */
import type { LoggedEvent } from '../../../shared/events/event-log.ts';
import type { PublishedState } from '../shared/published-state.ts';
import { groupOf } from './kinds.ts';
import { changeHash } from './normalize.ts';
import type { LoggedState, PublishQueue } from './publish-queue.ts';

export interface Adoption {
  /** Keys whose newest logged event was not this ingestor's. */
  adopted: string[];
  /** Publisher ids those events name (as claimed by the events: forgeable, shown to operators). */
  publishers: Set<string>;
  /**
   * Sequence up to which the log is now accounted for. An object with a publish in flight is not
   * judged this round (its event may be the one in flight, not yet acknowledged), so the next
   * round reads again from just before its event.
   */
  checkedTo: number;
}

/** The queue's record of an object as the logged event states it. */
export function loggedStateOf(key: string, logged: LoggedEvent, fallbackGroup = ''): LoggedState {
  const { event, seq } = logged;
  return {
    key,
    kind: event.kind,
    namespace: event.namespace,
    name: event.name,
    group: event.object ? groupOf(event.object.apiVersion) : fallbackGroup,
    live: event.op === 'upsert',
    resourceVersion: event.resourceVersion,
    hash: event.object ? changeHash(event.object) : '',
    seq,
  };
}

/**
 * Folds the events of `state` (the cluster's events after sequence `checkedSeq`) into `queue.logged`
 * where they are newer than what this ingestor published.
 */
export function adoptForeignEvents(queue: PublishQueue, state: PublishedState, checkedSeq: number): Adoption {
  const adopted: string[] = [];
  const publishers = new Set<string>();
  let checkedTo = Math.max(checkedSeq, state.lastSeq);
  for (const [key, logged] of state.objects) {
    const mine = queue.logged.get(key);
    if (mine && mine.seq >= logged.seq) continue;
    if (queue.busy(key)) {
      checkedTo = Math.min(checkedTo, logged.seq - 1);
      continue;
    }
    queue.logged.set(key, loggedStateOf(key, logged, mine?.group));
    queue.lastSeq = Math.max(queue.lastSeq, logged.seq);
    adopted.push(key);
    publishers.add(logged.event.ingestor);
  }
  return { adopted, publishers, checkedTo: Math.max(checkedSeq, checkedTo) };
}
