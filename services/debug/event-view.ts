/**
 * `attache log`: the events of the log, filtered by source cluster, kind, namespace/name, sequence
 * range and time range, each with who changed the object (ingestor, resourceVersion, the
 * `app.kubernetes.io/managed-by` label when the object carries one) and a field-level diff
 * against the object's previous state in the log.
 */
import { objectKey, type SourceObject } from '../../shared/events/envelope.ts';
import type { LoggedEvent } from '../../shared/events/event-log.ts';
import { diffJson, type FieldChange, formatChanges } from './json-diff.ts';
import { type EventSummary, formatEvent, summarizeEvent } from './snapshot-diff.ts';

export interface EventFilter {
  cluster?: string;
  kind?: string;
  namespace?: string;
  name?: string;
  fromSeq?: number;
  toSeq?: number;
  /** ISO-8601 bounds on the stored time, inclusive. */
  since?: string;
  until?: string;
}

export interface EventEntry extends EventSummary {
  managedBy?: string;
  /** Changes against the previous state of the object (everything is new on a first upsert). */
  changes: FieldChange[];
}

/** Tracks every object's last state so each event can be diffed against it. */
export class EventDiffer {
  private readonly last = new Map<string, SourceObject>();

  entry(e: LoggedEvent): EventEntry {
    const key = objectKey(e.event);
    const before = this.last.get(key);
    const after = e.event.op === 'upsert' ? e.event.object : undefined;
    if (e.event.op === 'upsert' && after) this.last.set(key, after);
    else if (e.event.op === 'delete') this.last.delete(key);
    const managedBy = after?.metadata.labels?.['app.kubernetes.io/managed-by'];
    return {
      ...summarizeEvent(e),
      ...(managedBy ? { managedBy } : {}),
      changes: e.event.op === 'resync' ? [] : diffJson(strip(before) ?? {}, strip(after) ?? {}),
    };
  }
}

/** resourceVersion changes on every write; it is shown in the header, not as a field change. */
function strip(o: SourceObject | undefined): unknown {
  if (!o) return undefined;
  const { resourceVersion: _rv, ...metadata } = o.metadata;
  return { ...o, metadata };
}

export function matchesFilter(e: LoggedEvent, f: EventFilter): boolean {
  const ev = e.event;
  if (f.cluster !== undefined && ev.cluster !== f.cluster) return false;
  if (f.kind !== undefined && ev.kind.toLowerCase() !== f.kind.toLowerCase()) return false;
  if (f.namespace !== undefined && ev.namespace !== f.namespace) return false;
  if (f.name !== undefined && ev.name !== f.name) return false;
  if (f.fromSeq !== undefined && e.seq < f.fromSeq) return false;
  if (f.toSeq !== undefined && e.seq > f.toSeq) return false;
  if (f.since !== undefined && e.time !== undefined && Date.parse(e.time) < Date.parse(f.since)) return false;
  if (f.until !== undefined && e.time !== undefined && Date.parse(e.time) > Date.parse(f.until)) return false;
  return true;
}

export function formatEntry(e: EventEntry): string {
  const head = `${formatEvent(e)}${e.managedBy ? ` managed-by ${e.managedBy}` : ''}`;
  return [head, ...formatChanges(e.changes)].join('\n');
}
