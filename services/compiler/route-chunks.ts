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
  const cuts = typeUrl === ROUTE_TYPE && bytes.length >= CHUNKED_FROM ? routeCuts(bytes) : undefined;
  if (cuts === undefined || cuts.length === 0) return { hash: resourceHash(typeUrl, bytes) };
  const known = new Map<number, ResourceChunk[]>();
  if (previous?.chunks) {
    for (const c of previous.chunks) {
      const list = known.get(c.end - c.start);
      if (list) list.push(c);
      else known.set(c.end - c.start, [c]);
    }
  }
  const chunks: ResourceChunk[] = [];
  let start = 0;
  for (const end of [...cuts, bytes.length]) {
    const view = bytes.subarray(start, end);
    let hash: string | undefined;
    for (const c of known.get(end - start) ?? []) {
      if (Buffer.compare(view, (previous as { bytes: Uint8Array }).bytes.subarray(c.start, c.end)) === 0) {
        hash = c.hash;
        break;
      }
    }
    hash ??= createHash('sha256').update(view).digest('hex');
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
 * Offsets at which the encoded route configuration is cut (ascending, none at 0), or undefined if
 * the bytes are not the shape expected (then it is stored whole).
 */
function routeCuts(bytes: Uint8Array): number[] | undefined {
  const cuts: number[] = [];
  let chunkStart = 0;
  const mask = (1 << CUT_BITS) - 1;
  const consider = (at: number, marked: boolean) => {
    const size = at - chunkStart;
    if (size >= MAX_CHUNK || (size >= MIN_CHUNK && marked)) {
      cuts.push(at);
      chunkStart = at;
    }
  };
  try {
    for (let o = 0; o < bytes.length; ) {
      const f = field(bytes, o);
      if (f.id === VIRTUAL_HOSTS_FIELD && f.wire === 2) {
        consider(f.start, true);
        for (let r = f.body; r < f.end; ) {
          const route = field(bytes, r);
          if (route.end > f.end) return undefined;
          if (route.id === ROUTES_FIELD && route.wire === 2)
            consider(route.start, (fingerprint(bytes, route.start, route.end) & mask) === mask);
          r = route.end;
        }
      }
      o = f.end;
    }
  } catch {
    return undefined;
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

/** The field at `o`: number, wire type, and where it, and its body, lie. */
function field(
  bytes: Uint8Array,
  o: number,
): { id: number; wire: number; start: number; body: number; end: number } {
  const [tag, afterTag] = readVarint(bytes, o);
  const wire = tag & 7;
  let body = afterTag;
  let end: number;
  if (wire === 0) end = readVarint(bytes, afterTag)[1];
  else if (wire === 1) end = afterTag + 8;
  else if (wire === 2) {
    const [len, afterLen] = readVarint(bytes, afterTag);
    body = afterLen;
    end = afterLen + len;
  } else if (wire === 5) end = afterTag + 4;
  else throw new Error(`unexpected wire type ${wire}`);
  if (end > bytes.length) throw new Error('truncated field');
  return { id: Math.floor(tag / 8), wire, start: o, body, end };
}

function readVarint(bytes: Uint8Array, at: number): [number, number] {
  let value = 0;
  let shift = 0;
  let o = at;
  for (;;) {
    const b = bytes[o++];
    if (b === undefined) throw new Error('truncated varint');
    value += (b & 0x7f) * 2 ** shift;
    if (b < 0x80) return [value, o];
    shift += 7;
  }
}
