/**
 * The compiler's world state: the latest version of every source object, folded from the event
 * log in sequence order and keyed by (cluster, kind, namespace, name). A delete removes the key;
 * a resync marker changes nothing (it only tells readers a relist finished).
 */
import { type EventEnvelope, objectKey } from '../../shared/events/envelope.ts';
import type { SourceRecord } from './compile.ts';

export class WorldState {
  private readonly objects = new Map<string, SourceRecord>();
  /** Sequence of the last event folded; 0 before any. */
  lastSeq = 0;

  /** Folds one event; events must arrive in increasing sequence order. */
  apply(seq: number, event: EventEnvelope): void {
    if (seq <= this.lastSeq) return;
    this.lastSeq = seq;
    if (event.op === 'resync') return;
    const key = objectKey(event);
    if (event.op === 'delete') {
      this.objects.delete(key);
      return;
    }
    if (!event.object) return;
    const record: SourceRecord = {
      cluster: event.cluster,
      object: event.object,
      resourceVersion: event.resourceVersion,
      seq,
    };
    if (event.origin) record.origin = event.origin;
    this.objects.set(key, record);
  }

  /** Every live object, sorted by key, so compile input order never depends on arrival order. */
  records(): SourceRecord[] {
    return [...this.objects.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, r]) => r);
  }

  get size(): number {
    return this.objects.size;
  }
}
