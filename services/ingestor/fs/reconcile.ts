/**
 * The fs ingestor's decision of what to publish, as pure functions of two maps keyed by objectKey:
 * what the log holds for each object (its last event) and what the directory holds now. An object
 * changes when its content hash differs from the log's, or when the log has it live and the
 * directory no longer does — unless the file it came from could not be fully loaded, in which case
 * it is held (nothing is published) until that file loads again.
 */
import { ENVELOPE_VERSION, type EventEnvelope, type SourceObject } from '../../../shared/events/envelope.ts';

export interface Origin {
  file: string;
  document: number;
}

export interface Identity {
  kind: string;
  namespace: string;
  name: string;
}

/** What the log holds for one object: its newest upsert or delete. */
export interface LogRecord extends Identity {
  /** Sequence of that event. */
  seq: number;
  /** True when it was an upsert. */
  live: boolean;
  /** Content hash of the object last upserted. */
  hash: string;
  /** Where the object was last seen: updated by every scan, else the origin the log recorded. */
  origin?: Origin;
}

/** One object as the directory defines it now. */
export interface DesiredObject extends Identity {
  object: SourceObject;
  hash: string;
  origin: Origin;
  /** Position in (file, document) traversal order. */
  order: number;
}

export type Change =
  | { op: 'upsert'; key: string; desired: DesiredObject; prev?: LogRecord }
  | { op: 'delete'; key: string; prev: LogRecord };

/** True when `origin` lies in a file or directory listed in `incomplete` (`''` is the root). */
export function isHeld(origin: Origin | undefined, incomplete: readonly string[]): boolean {
  return incomplete.some(
    (p) => p === '' || (origin !== undefined && (origin.file === p || origin.file.startsWith(`${p}/`))),
  );
}

/** The change needed to bring the log's view of `key` to the directory's, if any. */
export function changeFor(
  key: string,
  desired: ReadonlyMap<string, DesiredObject>,
  logged: ReadonlyMap<string, LogRecord>,
  incomplete: readonly string[],
): Change | undefined {
  const want = desired.get(key);
  const prev = logged.get(key);
  if (want) {
    if (prev?.live && prev.hash === want.hash) return undefined;
    return prev ? { op: 'upsert', key, desired: want, prev } : { op: 'upsert', key, desired: want };
  }
  if (!prev?.live || isHeld(prev.origin, incomplete)) return undefined;
  return { op: 'delete', key, prev };
}

/**
 * Publication order: upserts in (file, document) order, then deletes by key. Make before break:
 * an object moved to a new name appears before the old one disappears.
 */
export function publicationOrder(
  keys: Iterable<string>,
  desired: ReadonlyMap<string, DesiredObject>,
): string[] {
  return [...keys].sort((a, b) => {
    const da = desired.get(a);
    const db = desired.get(b);
    if (da && db) return da.order - db.order;
    if (da) return -1;
    if (db) return 1;
    return a < b ? -1 : a > b ? 1 : 0;
  });
}

/**
 * The envelope's resourceVersion: `<first 16 hex of the content hash>.<seq of the object's
 * previous event, 0 if none>`. Unique per change (reverting to earlier content follows a different
 * event), identical for every retry of the same change (so the log de-duplicates it).
 */
export function contentVersion(hash: string, prevSeq: number): string {
  return `${hash.slice(0, 16)}.${prevSeq}`;
}

export function eventFor(
  change: Change,
  ctx: { cluster: string; ingestor: string; observedAt: string },
): EventEnvelope {
  const prevSeq = change.prev?.seq ?? 0;
  if (change.op === 'upsert') {
    const d = change.desired;
    const generation = d.object.metadata.generation;
    return {
      v: ENVELOPE_VERSION,
      cluster: ctx.cluster,
      kind: d.kind,
      namespace: d.namespace,
      name: d.name,
      op: 'upsert',
      resourceVersion: contentVersion(d.hash, prevSeq),
      generation: Number.isSafeInteger(generation) ? (generation as number) : 0,
      observedAt: ctx.observedAt,
      ingestor: ctx.ingestor,
      object: d.object,
      origin: { ...d.origin },
    };
  }
  const p = change.prev;
  return {
    v: ENVELOPE_VERSION,
    cluster: ctx.cluster,
    kind: p.kind,
    namespace: p.namespace,
    name: p.name,
    op: 'delete',
    resourceVersion: contentVersion(p.hash, prevSeq),
    generation: 0,
    observedAt: ctx.observedAt,
    ingestor: ctx.ingestor,
    ...(p.origin ? { origin: { ...p.origin } } : {}),
  };
}
