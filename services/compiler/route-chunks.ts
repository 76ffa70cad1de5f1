/**
 * Where the compiler cuts a large route configuration into chunks for the snapshot store
 * (shared/snapshot/resource-chunks.ts states the storage contract): a one-Mapping change then
 * writes, hashes and ships the few kilobytes around its route instead of megabytes.
 *
 * Cuts fall only between routes and before virtual hosts, and are a pure function of the bytes
 * (replay and incremental compiles find the same ones): a chunk ends before a virtual host, or
 * before a route whose first bytes hash to a marker value, once it holds {@link MIN_CHUNK}
 * bytes; it is cut anyway at {@link MAX_CHUNK}. Because a route's own bytes choose the cut, a
 * changed, added or removed route moves at most the cuts next to it, and the chunks elsewhere keep
 * their bytes and hashes. A route configuration under {@link CHUNKED_FROM} bytes stays whole.
 */
import { createHash } from 'node:crypto';
import { chunkedResourceHash } from '../../shared/snapshot/resource-chunks.ts';
import { resourceHash } from '../../shared/xds/encoding.ts';
import { ROUTE_TYPE } from '../../shared/xds/type-urls.ts';
import type { ResourceChunk } from './contracts.ts';
import { fieldEnd, scan, varintAt } from './wire-scan.ts';

/** Route configurations from this size on are stored in chunks. */
export const CHUNKED_FROM = 64 * 1024;
/** ~4–8 KiB per chunk: a change writes a few, and the manifest lists ~200 per 1.7 MB. */
const MIN_CHUNK = 4 * 1024;
const MAX_CHUNK = 32 * 1024;
/** After MIN_CHUNK, one route in 2^CUT_BITS starts a chunk. */
const CUT_BITS = 3;
/** Bytes of a route (from its tag) that choose whether a chunk starts there. */
const FINGERPRINT_BYTES = 64;
/** Envoy's field numbers: RouteConfiguration.virtual_hosts and VirtualHost.routes. */
const VIRTUAL_HOSTS_FIELD = 2;
const ROUTES_FIELD = 3;

/** A resource's store identity: its hash, and its chunks when it is stored in chunks. */
export interface ResourceIdentity {
  hash: string;
  chunks?: readonly ResourceChunk[];
}

/**
 * The identity of an encoded resource: route configurations of {@link CHUNKED_FROM} bytes or more
 * are cut into chunks and hashed over their chunks' hashes, anything else is hashed whole
 * (`resourceHash`). `previous` (an earlier encoding of the same resource) lends the hashes of
 * chunks whose bytes it has too, compared byte for byte rather than hashed again.
 */
export function identifyResource(
  typeUrl: string,
  bytes: Uint8Array,
  previous?: { bytes: Uint8Array; chunks?: readonly ResourceChunk[] },
): ResourceIdentity {
  if (typeUrl !== ROUTE_TYPE || bytes.length < CHUNKED_FROM) return { hash: resourceHash(typeUrl, bytes) };
  // Chunks the previous encoding has at the same place, or shifted past the change, keep their
  // hash without being walked or compared again (see `cutsAfterChange`).
  const reuse = new Map<number, ResourceChunk>();
  const cuts =
    (previous?.chunks && cutsAfterChange(bytes, previous.bytes, previous.chunks, reuse)) || routeCuts(bytes);
  if (cuts === undefined || cuts.length === 0) return { hash: resourceHash(typeUrl, bytes) };
  const known = new Map<number, ResourceChunk[]>();
  for (const c of previous?.chunks ?? []) {
    const list = known.get(c.end - c.start);
    if (list) list.push(c);
    else known.set(c.end - c.start, [c]);
  }
  const chunks: ResourceChunk[] = [];
  let start = 0;
  for (const end of [...cuts, bytes.length]) {
    let hash: string | undefined;
    const same = reuse.get(start);
    if (same && same.end - same.start === end - start) hash = same.hash;
    else {
      const view = bytes.subarray(start, end);
      for (const c of known.get(end - start) ?? []) {
        if (Buffer.compare(view, (previous as { bytes: Uint8Array }).bytes.subarray(c.start, c.end)) === 0) {
          hash = c.hash;
          break;
        }
      }
      hash ??= createHash('sha256').update(view).digest('hex');
    }
    chunks.push({ hash, start, end });
    start = end;
  }
  return {
    hash: chunkedResourceHash(
      typeUrl,
      chunks.map((c) => c.hash),
    ),
    chunks,
  };
}

/**
 * The cuts of `bytes`, an edit of `old` (a splice: bytes changed in one stretch or a few, the rest
 * copied), found without walking all of it: the chunks of `old` found unchanged at the start keep
 * their cuts; the walk resumes at the start of the last of them (the cut there was decided by
 * bytes that did not change, and what follows depends only on the bytes after it) and stops at
 * the first cut it makes that is a cut of `old` shifted by the change in length, inside the part
 * found unchanged at the end: from there the cuts are `old`'s, shifted. Equal to `routeCuts(bytes)`
 * (the incremental = full tests compare them); undefined when it cannot tell (then the caller
 * walks everything). `reuse` receives, by their start in `bytes`, the chunks of `old` found there.
 */
function cutsAfterChange(
  bytes: Uint8Array,
  old: Uint8Array,
  chunks: readonly ResourceChunk[],
  reuse: Map<number, ResourceChunk>,
): number[] | undefined {
  const n = chunks.length;
  const delta = bytes.length - old.length;
  const sameAt = (c: ResourceChunk, shift: number) =>
    c.start + shift >= 0 &&
    c.end + shift <= bytes.length &&
    Buffer.compare(old.subarray(c.start, c.end), bytes.subarray(c.start + shift, c.end + shift)) === 0;
  let k = 0;
  while (k < n && sameAt(chunks[k] as ResourceChunk, 0)) k++;
  if (k === n && delta === 0) {
    for (const c of chunks) reuse.set(c.start, c);
    return chunks.slice(1).map((c) => c.start);
  }
  let m = n;
  while (m > k && sameAt(chunks[m - 1] as ResourceChunk, delta)) m--;
  // The first chunk holds the first virtual host's length: an edit there walks from the start.
  const from = k > 0 ? (chunks[k - 1] as ResourceChunk).start : 0;
  const cuts: number[] = [];
  for (let i = 1; i < k; i++) cuts.push((chunks[i] as ResourceChunk).start);
  for (let i = 0; i < k; i++) reuse.set((chunks[i] as ResourceChunk).start, chunks[i] as ResourceChunk);
  const shiftedCut = new Map<number, number>();
  for (let i = Math.max(m, k); i < n; i++) shiftedCut.set((chunks[i] as ResourceChunk).start + delta, i);
  const walked = routeCuts(bytes, from, (at) => shiftedCut.has(at));
  if (walked === undefined) return undefined;
  for (const at of walked) cuts.push(at);
  const last = walked.at(-1);
  const resync = last === undefined ? undefined : shiftedCut.get(last);
  if (resync !== undefined) {
    for (let i = resync; i < n; i++) {
      const c = chunks[i] as ResourceChunk;
      if (i > resync) cuts.push(c.start + delta);
      reuse.set(c.start + delta, { hash: c.hash, start: c.start + delta, end: c.end + delta });
    }
  }
  return cuts;
}

/**
 * Offsets at which the encoded route configuration is cut (ascending, none at 0), or undefined if
 * the bytes are not the shape expected (then it is stored whole). Reads only tags and lengths
 * (and a route's first bytes where a cut may fall): ~10,000 routes per millisecond.
 */
function routeCuts(bytes: Uint8Array, from = 0, stopAt?: (cut: number) => boolean): number[] | undefined {
  const cuts: number[] = [];
  let chunkStart = from;
  const mask = (1 << CUT_BITS) - 1;
  const n = bytes.length;
  let o = 0;
  while (o < n) {
    const fieldStart = o;
    const tag = varintAt(bytes, o);
    if (tag < 0) return undefined;
    o = scan.next;
    const end = fieldEnd(bytes, o, tag & 7);
    if (end < 0 || end > n) return undefined;
    // Resuming at `from`: fields before it are skipped; `from` is a cut, so it starts a field.
    if (end <= from) {
      o = end;
      continue;
    }
    if (tag === ((VIRTUAL_HOSTS_FIELD << 3) | 2)) {
      if (fieldStart >= from && fieldStart - chunkStart >= MIN_CHUNK) {
        cuts.push(fieldStart);
        chunkStart = fieldStart;
        if (stopAt?.(fieldStart)) return cuts;
      }
      o = Math.max(scan.body, from);
      while (o < end) {
        const routeStart = o;
        const t = varintAt(bytes, o);
        if (t < 0) return undefined;
        const routeEnd = fieldEnd(bytes, scan.next, t & 7);
        if (routeEnd < 0 || routeEnd > end) return undefined;
        if (t === ((ROUTES_FIELD << 3) | 2)) {
          const size = routeStart - chunkStart;
          if (
            size >= MAX_CHUNK ||
            (size >= MIN_CHUNK && (fingerprint(bytes, routeStart, routeEnd) & mask) === mask)
          ) {
            cuts.push(routeStart);
            chunkStart = routeStart;
            if (stopAt?.(routeStart)) return cuts;
          }
        }
        o = routeEnd;
      }
    } else if (fieldStart < from) return undefined;
    o = end;
  }
  return cuts;
}

/** FNV-1a over a route's first bytes. */
function fingerprint(bytes: Uint8Array, start: number, end: number): number {
  let h = 0x811c9dc5;
  const stop = Math.min(end, start + FINGERPRINT_BYTES);
  for (let i = start; i < stop; i++) {
    h ^= bytes[i] as number;
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
