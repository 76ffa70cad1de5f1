/**
 * What the fan-out serves: the in-memory, immutable view of one group's committed snapshot, with
 * every resource already packed into the `Any` bytes that go on the wire. The stream state
 * machine reads only these types; it never sees the store they came from.
 */
import type { TypeUrl } from '../../../shared/xds/type-urls.ts';

/** One resource, ready to be written into any DiscoveryResponse. */
export interface CachedResource {
  readonly name: string;
  /** Content hash from the manifest; identifies the bytes. */
  readonly hash: string;
  /** The encoded `google.protobuf.Any{type_url, value}`, prepared once when the blob arrived. */
  readonly any: Uint8Array;
  /** Served only to clients that name it, never to wildcard subscribers. */
  readonly onDemand: boolean;
}

/** Every resource of one type in a group snapshot. Shared by successive snapshots while unchanged. */
export interface TypeSnapshot {
  readonly typeUrl: TypeUrl;
  /** The manifest's content-derived type version. */
  readonly version: string;
  /** Resources by name, in name order. */
  readonly resources: ReadonlyMap<string, CachedResource>;
}

/** One committed snapshot of one group. */
export interface GroupSnapshot {
  readonly group: string;
  /** The committed snapshot version (the last event sequence folded into it). */
  readonly version: number;
  /**
   * Per type. A type whose content did not change between two snapshots keeps the same
   * {@link TypeSnapshot} object, so identity comparison is a valid "unchanged" test.
   */
  readonly types: ReadonlyMap<TypeUrl, TypeSnapshot>;
}

/** Called after a group's snapshot was swapped; `previous` is undefined for a group's first one. */
export type SnapshotListener = (next: GroupSnapshot, previous: GroupSnapshot | undefined) => void;

/**
 * The read side of the cache, which is all the ADS server needs. `current` never blocks and never
 * returns a snapshot older than one it returned before; listeners run synchronously after each
 * swap, in commit order per group.
 */
export interface SnapshotSource {
  current(group: string): GroupSnapshot | undefined;
  /** Registers a listener; returns the function that removes it. */
  subscribe(listener: SnapshotListener): () => void;
}
