/**
 * The snapshot store port. Holds derived state only: content-addressed blobs (encoded xDS
 * resources and diagnostics), one immutable manifest per (group, version), a head pointer per
 * group, and a snapshot log that fan-out nodes tail.
 *
 * Commit protocol (fenced): blobs are written first (they are immutable and content-addressed, so
 * writing them early is harmless); then, atomically, the store checks that the committer's
 * fencing epoch is the group's current epoch and that the version increases, stores the
 * manifest, moves the head and appends to the snapshot log. A committer whose epoch was
 * superseded (a new leader acquired a higher one) can never move the head again.
 *
 * Implementations: `RedisSnapshotStore` and `MemorySnapshotStore`; both pass
 * `shared/snapshot/snapshot-store.contract.ts`.
 */
import type { CommitRecord } from './commit-record.ts';
import type { Manifest } from './manifest.ts';

export interface CommitRequest {
  /** The committer's fencing epoch, from {@link SnapshotStore.acquireEpoch}. */
  epoch: number;
  manifest: Manifest;
  /** Blobs by hash: every hash the manifest references that the store may not have yet. */
  blobs: ReadonlyMap<string, Uint8Array>;
  /**
   * The committer's own previous commit of this group at this epoch, and every hash its manifest
   * references. Optional, a cost hint: while the head is still that version, its blobs are stored
   * (the head is never collected), so the store need not probe or check them — a commit that
   * changed a few resources then costs a few blobs, not every one. If the head moved, the store
   * checks everything, as without a base.
   */
  base?: {
    version: number;
    hashes: ReadonlySet<string>;
    /**
     * The base's manifest, when the committer holds it: the store may then find the new hashes
     * by comparing type lists (unchanged ones are the same objects) instead of every hash.
     */
    manifest?: Manifest;
  };
  /**
   * Facts about the commit that are not part of the snapshot (duration, epoch, event range),
   * stored beside the manifest once it is committed and collected with it. Best effort: a crash
   * right after the commit may leave a version without its record.
   */
  record?: CommitRecord;
}

export type CommitResult =
  | { committed: true; version: number }
  /** `fenced`: a newer epoch exists. `stale`: the head is already at or past this version. */
  | { committed: false; reason: 'fenced' | 'stale'; head: number };

/** One entry of the snapshot log: a committed (group, version), in commit order. */
export interface SnapshotLogEntry {
  /** Opaque, ordered position in the snapshot log; pass it back to `tail` to resume. */
  id: string;
  group: string;
  version: number;
}

export interface SnapshotStore {
  /**
   * Takes a new fencing epoch for the group (strictly greater than any before, and than `above`)
   * and returns it. `above` keeps a committer's epochs increasing even after the store lost its
   * data, so a paused committer that held an older epoch stays fenced.
   */
  acquireEpoch(group: string, above?: number): Promise<number>;
  /**
   * The group's current fencing epoch, 0 when none was ever taken. A committer that finds it
   * lower than its own epoch knows the store lost data (flushed, or a replica promoted that missed
   * writes); higher means another committer took over.
   */
  currentEpoch(group: string): Promise<number>;
  /** Commits a snapshot following the fenced protocol above. */
  commit(req: CommitRequest): Promise<CommitResult>;
  /** The group's current version, or null if it has never been committed. */
  head(group: string): Promise<number | null>;
  /** A committed manifest, or null if absent (never committed, or garbage-collected). */
  getManifest(group: string, version: number): Promise<Manifest | null>;
  /** The commit record stored with a version, or null (none given, or collected). */
  getCommitRecord(group: string, version: number): Promise<CommitRecord | null>;
  /** Blobs by hash; absent hashes are absent from the result. */
  getBlobs(hashes: readonly string[]): Promise<Map<string, Uint8Array>>;
  /** Every group ever committed. */
  groups(): Promise<string[]>;
  /** Versions of a group still stored, ascending. */
  versions(group: string): Promise<number[]>;
  /**
   * Position of the newest snapshot log entry, or undefined while the log is empty. A reader that
   * loads the heads after taking it and then tails from it sees every later commit, without
   * re-reading the log's history.
   */
  logPosition(): Promise<string | undefined>;
  /**
   * Entries of the snapshot log after `after` (from the beginning when absent), then new ones as
   * they are committed, until the signal aborts.
   */
  tail(opts: { after?: string; signal: AbortSignal }): AsyncIterable<SnapshotLogEntry>;
  /**
   * Deletes the group's manifests (and their commit records) older than the newest `keep` versions
   * (the head is always kept) and every blob no stored manifest references. Returns the number of manifests deleted.
   */
  gc(group: string, keep: number): Promise<number>;
  close(): Promise<void>;
}
