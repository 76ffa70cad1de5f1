/**
 * Resources stored in chunks: a large resource (a route configuration of megabytes) is stored as
 * several blobs whose bytes, concatenated in order, are the resource's encoding, so a commit that
 * changed a few routes writes and hashes the chunks they fall in, not the whole resource, and a
 * fan-out node fetches and checks only those.
 *
 * Contract, for every reader and writer of a snapshot store:
 * - A manifest entry with `chunks` (ManifestEntry.chunks) is stored in chunks: each chunk is a
 *   blob keyed by `sha256Hex(chunk bytes)`; nothing is stored under the entry's own hash.
 * - Its hash is {@link chunkedResourceHash} of the type URL and the chunk hashes in order (a
 *   different domain from `resourceHash`, whose input starts with the type URL, so a chunked and
 *   a whole resource never share a hash). A reader checks each chunk it fetched against its hash
 *   and the list against the entry's hash, then serves the concatenation: the resource's bytes.
 * - Where the chunks are cut is the writer's choice (the compiler's is route-chunks.ts), but it
 *   must be a pure function of the bytes, so replay and incremental compiles give the same hash.
 * - An entry without `chunks` is stored whole under its hash, as before. A reader that does not
 *   know `chunks` finds no blob under a chunked entry's hash and refuses the snapshot (the
 *   fan-out keeps its previous one) rather than serving something else.
 */
import { createHash } from 'node:crypto';
import type { ManifestEntry } from './manifest.ts';

/** Hash of a resource stored in chunks: sha256 over a domain tag, the type URL and the chunk hashes. */
export function chunkedResourceHash(typeUrl: string, chunkHashes: readonly string[]): string {
  const h = createHash('sha256').update('attache-chunks\0').update(typeUrl).update('\0');
  for (const c of chunkHashes) h.update(c);
  return h.digest('hex');
}

/** The concatenation of `parts`, in one new buffer. */
export function joinChunks(parts: readonly Uint8Array[]): Buffer {
  let length = 0;
  for (const p of parts) length += p.byteLength;
  const out = Buffer.allocUnsafe(length);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.byteLength;
  }
  return out;
}

/**
 * Every blob hash that stores the entries' bytes: the entry's own hash, or its chunks' hashes.
 */
export function storedHashes(entries: readonly Pick<ManifestEntry, 'hash' | 'chunks'>[]): string[] {
  const out: string[] = [];
  for (const e of entries) {
    if (e.chunks) for (const c of e.chunks) out.push(c);
    else out.push(e.hash);
  }
  return out;
}

/**
 * The encoded bytes of each entry, by entry hash, read with `getBlobs` (a store's): whole entries
 * as stored, chunked ones assembled. An entry with a blob or chunk missing is absent. No hash is
 * checked (the fan-out checks what it serves); for debug views, tests and tools.
 */
export async function loadResources(
  entries: readonly Pick<ManifestEntry, 'hash' | 'chunks'>[],
  getBlobs: (hashes: readonly string[]) => Promise<Map<string, Uint8Array>>,
): Promise<Map<string, Uint8Array>> {
  const blobs = await getBlobs([...new Set(storedHashes(entries))]);
  const out = new Map<string, Uint8Array>();
  for (const e of entries) {
    if (!e.chunks) {
      const bytes = blobs.get(e.hash);
      if (bytes) out.set(e.hash, bytes);
      continue;
    }
    const parts: Uint8Array[] = [];
    for (const c of e.chunks) {
      const bytes = blobs.get(c);
      if (!bytes) break;
      parts.push(bytes);
    }
    if (parts.length === e.chunks.length) out.set(e.hash, joinChunks(parts));
  }
  return out;
}
