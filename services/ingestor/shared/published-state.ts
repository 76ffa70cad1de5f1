/**
 * What the log says a source cluster last published: the newest upsert or delete per object
 * (objectKey), ignoring resync markers. Ingestors compare it with what they observe on start-up
 * so that objects removed while they were down get their tombstone (no missed deletes).
 */
import { ENVELOPE_VERSION, type EventEnvelope, objectKey } from '../../../shared/events/envelope.ts';
import type { EventLog, LoggedEvent } from '../../../shared/events/event-log.ts';
import { clusterSubjects } from '../../../shared/events/subjects.ts';

export interface PublishedState {
  /** Newest upsert/delete per objectKey. */
  objects: Map<string, LoggedEvent>;
  /** Highest sequence of any event of this cluster (resync markers included), 0 when none. */
  lastSeq: number;
}

/**
 * Reads the cluster's events from `fromSeq` (default 1: everything) up to the log's current end
 * and folds them. From a later sequence it yields only the objects changed since.
 */
export async function readPublishedState(
  events: EventLog,
  cluster: string,
  fromSeq = 1,
): Promise<PublishedState> {
  const objects = new Map<string, LoggedEvent>();
  let lastSeq = 0;
  for await (const logged of events.read({ fromSeq, subjects: clusterSubjects(cluster) })) {
    lastSeq = Math.max(lastSeq, logged.seq);
    // A subject filter on the escaped cluster token is exact, but stay strict about the payload too.
    if (logged.event.cluster !== cluster || logged.event.op === 'resync') continue;
    objects.set(objectKey(logged.event), logged);
  }
  return { objects, lastSeq };
}

/**
 * The `resync` marker that ends a full reconciliation. Its version is the cluster's last sequence
 * before it, so each start-up's marker is a new message and a retried one is de-duplicated.
 */
export function resyncMarker(cluster: string, ingestorId: string, lastSeq: number): EventEnvelope {
  return {
    v: ENVELOPE_VERSION,
    cluster,
    kind: '',
    namespace: '',
    name: '',
    op: 'resync',
    resourceVersion: `resync.${lastSeq}`,
    generation: 0,
    observedAt: new Date().toISOString(),
    ingestor: ingestorId,
  };
}
