/**
 * The compiler's world state: the latest version of every source object, folded from the event
 * log in sequence order and keyed by (cluster, kind, namespace, name). A delete removes the key;
 * a resync marker changes nothing (it only tells readers a relist finished); a reject marks the
 * object's latest version as unpublishable without dropping the version already held.
 *
 * Two indexes serve the endpoint fast path (endpoint-fast-path.ts): Services and endpoint objects
 * by `namespace/service`, and the sorted record list, kept across content-only updates so a
 * commit after an endpoint change does not re-sort every key.
 */
import { type EventEnvelope, objectKey } from '../../shared/events/envelope.ts';
import { sortedIndexOf } from '../../shared/runtime/sorted.ts';
import { type CheckpointState, eventIdentity } from './checkpoint.ts';
import type { SourceRecord } from './contracts.ts';
import { endpointServiceId } from './endpoint-fast-path.ts';

export class WorldState {
  private readonly objects = new Map<string, SourceRecord>();
  private readonly byService = new Map<string, Set<string>>();
  /** records() as last returned, valid while no key was added or removed. */
  private sorted: { keys: string[]; records: SourceRecord[] } | undefined;
  /** Keys whose record changed since `sorted` was built. */
  private readonly replaced = new Set<string>();
  /** Sequence of the last event folded; 0 before any. */
  lastSeq = 0;
  /** The last event folded, or its identity when the state came from a checkpoint. */
  private last: EventEnvelope | string = '';

  /**
   * Folds one event; events must arrive in increasing sequence order. Returns the record the
   * event replaced or deleted (undefined for a new object, a resync or an old event).
   */
  apply(seq: number, event: EventEnvelope): SourceRecord | undefined {
    if (seq <= this.lastSeq) return undefined;
    this.lastSeq = seq;
    this.last = event;
    if (event.op === 'resync') return undefined;
    const key = objectKey(event);
    const before = this.objects.get(key);
    if (event.op === 'delete') {
      if (before) {
        this.objects.delete(key);
        this.unindex(key, before);
        this.sorted = undefined;
      }
      return before;
    }
    let record: SourceRecord;
    if (event.op === 'reject') {
      // The last version folded keeps serving; without one, a stub stands for the object so its
      // status can say why it is missing (compile reports every record with `rejected`).
      const base: SourceRecord = before ?? {
        cluster: event.cluster,
        object: {
          apiVersion: '',
          kind: event.kind,
          metadata: { name: event.name, ...(event.namespace ? { namespace: event.namespace } : {}) },
        },
        stub: true,
        seq,
      };
      record = {
        ...base,
        rejected: event.reason ?? 'the ingestor could not publish it',
        ...(event.origin ? { origin: event.origin } : {}),
      };
    } else {
      if (!event.object) return undefined;
      record = { cluster: event.cluster, object: event.object, resourceVersion: event.resourceVersion, seq };
      if (event.origin) record.origin = event.origin;
    }
    this.objects.set(key, record);
    if (before) {
      this.unindex(key, before);
      this.replaced.add(key);
    } else this.sorted = undefined;
    this.index(key, record);
    return before;
  }

  /** Every live object, sorted by key, so compile input order never depends on arrival order. */
  records(): SourceRecord[] {
    if (!this.sorted) {
      const keys = [...this.objects.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      this.sorted = { keys, records: keys.map((k) => this.objects.get(k)!) };
    } else if (this.replaced.size > 0) {
      // A fresh array (callers may still hold the previous one), with the replaced records put at
      // their keys' positions, found by binary search: a copy, not a walk over every key.
      const { keys } = this.sorted;
      const records = this.sorted.records.slice();
      for (const k of this.replaced) {
        const i = sortedIndexOf(keys, k);
        if (i >= 0) records[i] = this.objects.get(k)!;
      }
      this.sorted = { keys, records };
    }
    this.replaced.clear();
    return this.sorted.records;
  }

  /** Every live (key, record), sorted by key: what a checkpoint holds (checkpoint.ts). */
  entries(): [string, SourceRecord][] {
    const records = this.records();
    const keys = this.sorted?.keys ?? [];
    return keys.map((k, i) => [k, records[i]!]);
  }

  /**
   * Replaces the whole state with a checkpoint's: folding the events after `seq` then gives the
   * state folding the whole log would.
   */
  restore(state: Pick<CheckpointState, 'seq' | 'last' | 'entries'>): void {
    this.objects.clear();
    this.byService.clear();
    this.replaced.clear();
    this.sorted = undefined;
    for (const [key, record] of state.entries) {
      this.objects.set(key, record);
      this.index(key, record);
    }
    this.lastSeq = state.seq;
    this.last = state.last;
  }

  /** Identity of the last event folded (checkpoint.ts `eventIdentity`); empty before any. */
  get lastEvent(): string {
    return typeof this.last === 'string' ? this.last : eventIdentity(this.last);
  }

  /** The current record of an object key (`objectKey`). */
  get(key: string): SourceRecord | undefined {
    return this.objects.get(key);
  }

  /** Services, Endpoints and EndpointSlices of one `namespace/service`, in every source cluster. */
  serviceObjects(serviceId: string): SourceRecord[] {
    return [...(this.byService.get(serviceId) ?? [])].map((k) => this.objects.get(k)!);
  }

  get size(): number {
    return this.objects.size;
  }

  private index(key: string, r: SourceRecord): void {
    const id = serviceIdOf(r);
    if (id === undefined) return;
    let keys = this.byService.get(id);
    if (!keys) {
      keys = new Set();
      this.byService.set(id, keys);
    }
    keys.add(key);
  }

  private unindex(key: string, r: SourceRecord): void {
    const id = serviceIdOf(r);
    if (id === undefined) return;
    const keys = this.byService.get(id);
    keys?.delete(key);
    if (keys?.size === 0) this.byService.delete(id);
  }
}

function serviceIdOf(r: SourceRecord): string | undefined {
  const m = r.object.metadata;
  if (r.object.kind === 'Service') return `${m.namespace || 'default'}/${m.name}`;
  return endpointServiceId(r.object.kind, m.namespace ?? '', m.name, r.object);
}
