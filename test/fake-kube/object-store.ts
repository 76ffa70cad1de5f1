/**
 * The fake API server's storage: objects per storage identity (see `storageOf`), one global
 * revision counter (as etcd's), and the event history watches replay from. `compact()` drops the
 * history, so a watch or a continued list from an older revision must be answered with 410.
 */
import { randomUUID } from 'node:crypto';
import type { StoredObject } from './selectors.ts';

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface StoreEvent {
  /** Revision this change produced. */
  rv: number;
  type: WatchEventType;
  storage: string;
  /** The object after the change (for DELETED: as deleted, carrying the deletion revision). */
  object: StoredObject;
  /** The object before the change (MODIFIED, DELETED). */
  prev?: StoredObject;
}

const key = (namespace: string | undefined, name: string) => `${namespace ?? ''}/${name}`;

/** Everything but metadata.resourceVersion, for no-op detection. */
function comparable(o: StoredObject): string {
  return JSON.stringify({ ...o, metadata: { ...o.metadata, resourceVersion: undefined } });
}

/** Everything but metadata and status: what `metadata.generation` counts changes of. */
function specOf(o: StoredObject): string {
  const { metadata: _m, status: _s, ...rest } = o;
  return JSON.stringify(rest);
}

export class ObjectStore {
  /** The global revision: the resourceVersion of the newest write. */
  rv = 1;
  /** Watches and continued lists from a revision below this get 410. */
  compactedRv = 0;
  private readonly objects = new Map<string, Map<string, StoredObject>>();
  private history: StoreEvent[] = [];
  private readonly listeners = new Set<(e: StoreEvent) => void>();

  get(storage: string, namespace: string | undefined, name: string): StoredObject | undefined {
    return this.objects.get(storage)?.get(key(namespace, name));
  }

  /** Objects of one storage identity sorted by (namespace, name), as etcd orders its keys. */
  list(storage: string): StoredObject[] {
    const m = this.objects.get(storage);
    if (!m) return [];
    return [...m.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, o]) => o);
  }

  /**
   * Creates or replaces an object. Returns the stored object and whether anything changed: a write
   * that changes nothing keeps the revision and emits no event, as the real API server does.
   */
  put(storage: string, input: StoredObject): { object: StoredObject; changed: boolean } {
    const objects = this.objects.get(storage) ?? new Map<string, StoredObject>();
    this.objects.set(storage, objects);
    const k = key(input.metadata.namespace, input.metadata.name);
    const prev = objects.get(k);
    const next = structuredClone(input);
    delete next.metadata.managedFields;
    if (prev) {
      next.metadata.uid = prev.metadata.uid;
      next.metadata.creationTimestamp = prev.metadata.creationTimestamp;
      next.metadata.generation = prev.metadata.generation;
      next.metadata.resourceVersion = prev.metadata.resourceVersion;
      if (comparable(next) === comparable(prev)) return { object: prev, changed: false };
      if (specOf(next) !== specOf(prev)) next.metadata.generation = Number(prev.metadata.generation ?? 1) + 1;
    } else {
      next.metadata.uid = randomUUID();
      next.metadata.creationTimestamp = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
      next.metadata.generation = 1;
    }
    next.metadata.resourceVersion = String(++this.rv);
    objects.set(k, next);
    this.emit({
      rv: this.rv,
      type: prev ? 'MODIFIED' : 'ADDED',
      storage,
      object: next,
      ...(prev ? { prev } : {}),
    });
    return { object: next, changed: true };
  }

  remove(storage: string, namespace: string | undefined, name: string): StoredObject | undefined {
    const objects = this.objects.get(storage);
    const k = key(namespace, name);
    const prev = objects?.get(k);
    if (!objects || !prev) return undefined;
    objects.delete(k);
    const gone = structuredClone(prev);
    gone.metadata.resourceVersion = String(++this.rv);
    this.emit({ rv: this.rv, type: 'DELETED', storage, object: gone, prev });
    return gone;
  }

  /** Changes of one storage identity after revision `rv`, or undefined when compacted away. */
  since(storage: string, rv: number): StoreEvent[] | undefined {
    if (rv < this.compactedRv) return undefined;
    return this.history.filter((e) => e.storage === storage && e.rv > rv);
  }

  compact(): void {
    this.compactedRv = this.rv;
    this.history = [];
  }

  subscribe(fn: (e: StoreEvent) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private emit(e: StoreEvent): void {
    this.history.push(e);
    for (const fn of this.listeners) fn(e);
  }
}
