/**
 * Pass 4: Envoy resources → canonical protobuf bytes and content hashes, sorted by (type URL,
 * name). A message that cannot be encoded is a compiler bug, reported as InvalidOutputError.
 *
 * With an {@link EncodeCache} (the incremental compiler's), a resource whose message has the
 * content of one encoded by the previous compile reuses its bytes and hash, and a route
 * configuration is assembled from the cached encodings of its unchanged routes and virtual hosts
 * (a one-Mapping change re-encodes one route, not the 10,000 around it). The bytes are the ones
 * a fresh encoding gives (the incremental property test compares them after every step).
 */

import { messageType } from '../../proto/root.ts';
import { InvalidOutputError } from '../../shared/runtime/errors.ts';
import { joinChunks } from '../../shared/snapshot/resource-chunks.ts';
import { encodeMessage, resourceHash } from '../../shared/xds/encoding.ts';
import { messageNameOf, ROUTE_TYPE } from '../../shared/xds/type-urls.ts';
import type { CompiledResource, ResourceChunk } from './contracts.ts';
import { identifyResource } from './route-chunks.ts';
import type { EnvoyResource } from './translate/common.ts';
import { fieldEnd, scan, varintAt } from './wire-scan.ts';

export function encodeResources(
  resources: readonly EnvoyResource[],
  cache?: EncodeCache,
): CompiledResource[] {
  // Without a cache, route encodings by route object, for this call only.
  const routes = cache ? undefined : new WeakMap<object, Uint8Array>();
  const out = resources.map((r): CompiledResource => {
    let encoded: Encoded;
    try {
      encoded = cache
        ? cache.resource(r)
        : r.typeUrl === ROUTE_TYPE && routes
          ? freshRouteConfiguration(r, routes)
          : fresh(r);
    } catch (err) {
      throw new InvalidOutputError(
        `generated ${r.typeUrl} ${r.name} cannot be encoded; nothing is published`,
        {
          cause: err,
        },
      );
    }
    const compiled: CompiledResource = {
      typeUrl: r.typeUrl,
      name: r.name,
      bytes: encoded.bytes,
      hash: encoded.hash,
      message: r.message,
    };
    if (encoded.chunks) compiled.chunks = encoded.chunks;
    if (r.onDemand) compiled.onDemand = true;
    return compiled;
  });
  return out.sort((a, b) => cmp(a.typeUrl, b.typeUrl) || cmp(a.name, b.name));
}

interface Encoded {
  bytes: Uint8Array;
  hash: string;
  /** Chunks of a large route configuration (route-chunks.ts). */
  chunks?: readonly ResourceChunk[];
  /** Keys of the sub-message encodings it was assembled from: kept while it is. */
  parts?: string[];
}

function fresh(r: EnvoyResource): Encoded {
  const bytes = encodeMessage(messageNameOf(r.typeUrl), r.message);
  return { bytes, ...identifyResource(r.typeUrl, bytes) };
}

const ROUTE_CONFIGURATION = 'envoy.config.route.v3.RouteConfiguration';
const VIRTUAL_HOST = 'envoy.config.route.v3.VirtualHost';
const ROUTE = 'envoy.config.route.v3.Route';

/**
 * Encodings of the previous compile and the current one, keyed by message content: the type and
 * the message's JSON text. Equal text means equal content for the messages translate builds
 * (JSON-like trees of strings, finite numbers, booleans and Uint8Array payloads of packed Anys),
 * and the canonical encoding (shared/xds/encoding.ts) depends only on content, not key order.
 * Entries the latest compile did not use are dropped by {@link rotate}, so the cache holds at
 * most two compiles' worth.
 */
export class EncodeCache {
  private current = new Map<string, Encoded | Uint8Array>();
  private previous = new Map<string, Encoded | Uint8Array>();
  /** Counters for tests and benchmarks: whole resources and sub-messages reused or encoded. */
  readonly stats = { reused: 0, encoded: 0 };
  /** A number per cached sub-message encoding: a route configuration's parts by identity. */
  private readonly ids = new WeakMap<Uint8Array, number>();
  private nextId = 0;
  private splicedSinceRotate = 0;
  /** Sub-message encodings by message object (see `message`). */
  /** Virtual host encodings by message object, with their parts and the ids they were built from. */
  private readonly virtualHosts = new WeakMap<object, { bytes: Uint8Array; parts: string[]; used: string }>();
  private readonly byObject = new WeakMap<object, { fullName: string; key: string; bytes: Uint8Array }>();

  /** The encoding of a sub-message object this cache encoded (a route of a route configuration). */
  bytesOf(message: object): Uint8Array | undefined {
    return this.byObject.get(message)?.bytes;
  }

  /** Starts a new compile: what the last one did not use is forgotten. */
  rotate(): void {
    this.splicedSinceRotate = 0;
    this.previous = this.current;
    this.current = new Map();
  }

  /**
   * A route's encoding through this cache (by identity, then by content), for a route
   * configuration spliced at the byte level ({@link spliceRoutes}). The cache is not rotated for
   * these: the encodings the last full compile used stay, so the next full compile still finds
   * them; after {@link SPLICED_BEFORE_ROTATE} new encodings it is rotated, which bounds what
   * replaced routes leave behind.
   */
  routeBytes(route: object): Uint8Array {
    const before = this.current.size;
    const bytes = this.message(ROUTE, route, [], []);
    if (this.current.size > before && ++this.splicedSinceRotate > SPLICED_BEFORE_ROTATE) this.rotate();
    return bytes;
  }

  resource(r: EnvoyResource): Encoded {
    if (r.typeUrl === ROUTE_TYPE) return this.routeConfiguration(r);
    const key = `${r.typeUrl}\0${JSON.stringify(r.message)}`;
    const hit = this.lookup(key) as Encoded | undefined;
    if (hit) return hit;
    const bytes = encodeMessage(messageNameOf(r.typeUrl), r.message);
    const encoded: Encoded = { bytes, hash: resourceHash(r.typeUrl, bytes) };
    this.current.set(key, encoded);
    return encoded;
  }

  /**
   * A route configuration is always assembled from its routes' and virtual hosts' cached
   * encodings (its own JSON text would be megabytes to build and compare); when every one of them
   * is the one used last time, in the same order, the previous bytes and hash are reused without
   * copying or hashing megabytes again.
   */
  private routeConfiguration(r: EnvoyResource): Encoded {
    const parts: string[] = [];
    const used: (number | string)[] = [];
    const bytes = this.composed(ROUTE_CONFIGURATION, r.message, 'virtual_hosts', parts, used, (vh) => {
      // A virtual host the fast path carried over (the same object) is not walked again.
      const same = typeof vh === 'object' && vh !== null ? this.virtualHosts.get(vh) : undefined;
      if (same) {
        for (const p of same.parts) {
          if (!this.current.has(p)) {
            const cached = this.previous.get(p);
            if (cached !== undefined) this.current.set(p, cached);
          }
          parts.push(p);
        }
        used.push(same.used);
        return same.bytes;
      }
      const vhParts: string[] = [];
      const vhUsed: number[] = [-1]; // a virtual host starts: the sequence of parts is unambiguous
      const out = this.composed(VIRTUAL_HOST, vh, 'routes', vhParts, vhUsed, (route) =>
        this.message(ROUTE, route, vhParts, vhUsed),
      );
      for (const p of vhParts) parts.push(p);
      const segment = vhUsed.join(',');
      used.push(segment);
      if (typeof vh === 'object' && vh !== null && !vhUsed.some(Number.isNaN))
        this.virtualHosts.set(vh, { bytes: out, parts: vhParts, used: segment });
      return out;
    });
    if (used.some((u) => (typeof u === 'number' ? Number.isNaN(u) : u.includes('NaN'))))
      return { bytes, ...identifyResource(r.typeUrl, bytes) };
    const key = `${r.typeUrl}\0${used.join(',')}`;
    const hit = this.lookup(key) as Encoded | undefined;
    if (hit) return hit;
    const encoded: Encoded = { bytes, ...identifyResource(r.typeUrl, bytes), parts };
    this.current.set(key, encoded);
    return encoded;
  }

  private lookup(key: string): Encoded | Uint8Array | undefined {
    let hit = this.current.get(key);
    if (hit === undefined) {
      hit = this.previous.get(key);
      if (hit !== undefined) {
        this.current.set(key, hit);
        // Its parts stay too: the next change to this resource reuses them.
        for (const part of (hit as Encoded).parts ?? []) {
          const p = this.previous.get(part);
          if (p !== undefined) this.current.set(part, p);
        }
      }
    }
    if (hit === undefined) this.stats.encoded++;
    else this.stats.reused++;
    return hit;
  }

  /**
   * One sub-message's encoding, cached by content, and by identity: a route the incremental
   * compiler carried over from the previous output (mapping-fast-path.ts) is the same object,
   * never mutated, and is not stringified again.
   */
  private message(
    fullName: string,
    message: unknown,
    parts: string[],
    used: (number | string)[],
  ): Uint8Array {
    const same = typeof message === 'object' && message !== null ? this.byObject.get(message) : undefined;
    if (same !== undefined && same.fullName === fullName) {
      this.stats.reused++;
      // Kept by content too, so a later full compile of the same content still finds it.
      if (!this.current.has(same.key)) this.current.set(same.key, same.bytes);
      parts.push(same.key);
      used.push(this.ids.get(same.bytes) as number);
      return same.bytes;
    }
    const key = `${fullName}\0${JSON.stringify(message)}`;
    parts.push(key);
    let bytes = this.lookup(key) as Uint8Array | undefined;
    if (!bytes) {
      bytes = encodeMessage(fullName, message as object);
      this.current.set(key, bytes);
      this.ids.set(bytes, this.nextId++);
    }
    used.push(this.ids.get(bytes) as number);
    if (typeof message === 'object' && message !== null) this.byObject.set(message, { fullName, key, bytes });
    return bytes;
  }

  /**
   * Encodes `message` with its repeated message field `field` written from each element's own
   * encoding. protobufjs writes fields in field-number order and each element of a repeated
   * message field as tag, length and the element's standalone encoding, so encoding the message
   * without the field and inserting the elements before the first higher-numbered field gives
   * exactly the bytes of encoding it whole.
   */
  private composed(
    fullName: string,
    message: unknown,
    field: string,
    parts: string[],
    used: (number | string)[],
    element: (e: unknown) => Uint8Array,
  ): Uint8Array {
    // Shapes translate never builds are encoded whole, and make the assembly uncacheable (NaN).
    if (message === null || typeof message !== 'object') {
      used.push(Number.NaN);
      return encodeMessage(fullName, message as object);
    }
    const { [field]: elements, ...rest } = message as Record<string, unknown>;
    if (elements === undefined || elements === null) return this.message(fullName, rest, parts, used);
    if (!Array.isArray(elements)) {
      used.push(Number.NaN);
      return encodeMessage(fullName, message);
    }
    const base = this.message(fullName, rest, parts, used);
    return withRepeated(base, fieldNumber(fullName, field), elements.map(element));
  }
}

/**
 * `base` (a message encoded without its repeated message field numbered `id`) with `encoded`, the
 * field's elements' own encodings, written in as the encoder writes them: each as tag, length and
 * bytes, before the first higher-numbered field.
 */
function withRepeated(base: Uint8Array, id: number, encoded: readonly Uint8Array[]): Uint8Array {
  const tag = varint((id << 3) | 2);
  let length = base.length;
  for (const p of encoded) length += tag.length + varintLength(p.length) + p.length;
  const at = insertionPoint(base, id);
  const out = new Uint8Array(length);
  out.set(base.subarray(0, at), 0);
  let o = at;
  for (const p of encoded) {
    out.set(tag, o);
    o += tag.length;
    o = writeVarint(out, o, p.length);
    out.set(p, o);
    o += p.length;
  }
  out.set(base.subarray(at), o);
  return out;
}

/**
 * A route configuration encoded without an {@link EncodeCache} (a full compile's): assembled from
 * its virtual hosts' and routes' own encodings as the cache assembles it (the same bytes as
 * encoding it whole), so a route object met again in this compile is not encoded again: the
 * socket listeners' configurations share their route objects (translate/virtual-hosts.ts). Shapes
 * translate never builds (a virtual host or route that is not an object) are encoded whole.
 */
function freshRouteConfiguration(r: EnvoyResource, routes: WeakMap<object, Uint8Array>): Encoded {
  const vhosts = (r.message as { virtual_hosts?: unknown }).virtual_hosts;
  if (
    !Array.isArray(vhosts) ||
    !vhosts.every((vh) => {
      if (vh === null || typeof vh !== 'object') return false;
      const list = (vh as { routes?: unknown }).routes;
      return (
        list === undefined || (Array.isArray(list) && list.every((x) => x !== null && typeof x === 'object'))
      );
    })
  )
    return fresh(r);
  const route = (m: object): Uint8Array => {
    let bytes = routes.get(m);
    if (bytes === undefined) {
      bytes = encodeMessage(ROUTE, m);
      routes.set(m, bytes);
    }
    return bytes;
  };
  const { virtual_hosts: _vhosts, ...rest } = r.message as Record<string, unknown>;
  const bytes = withRepeated(
    encodeMessage(ROUTE_CONFIGURATION, rest),
    fieldNumber(ROUTE_CONFIGURATION, 'virtual_hosts'),
    (vhosts as Record<string, unknown>[]).map(({ routes: list, ...vh }) =>
      list === undefined
        ? encodeMessage(VIRTUAL_HOST, vh)
        : withRepeated(
            encodeMessage(VIRTUAL_HOST, vh),
            fieldNumber(VIRTUAL_HOST, 'routes'),
            (list as object[]).map(route),
          ),
    ),
  );
  // A Buffer, as a whole encoding is (the encoder's output type), over the assembled bytes.
  const out = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return { bytes: out, ...identifyResource(r.typeUrl, out) };
}

/** New route encodings {@link EncodeCache.routeBytes} adds before the cache is rotated. */
const SPLICED_BEFORE_ROTATE = 8_192;

/** Routes of one virtual host replaced one for one, by index; see {@link spliceRoutes}. */
export interface RouteBytesSplice {
  /** Index of the virtual host in the route configuration. */
  virtualHost: number;
  /** Index of the first replaced route in that virtual host. */
  start: number;
  /** The new routes' encodings, as many as they replace. */
  routes: readonly Uint8Array[];
}

/**
 * The encoding of a route configuration whose encoding is `before`, with routes replaced one for
 * one as `splices` say, built from bytes: the unchanged virtual hosts and routes are copied, not
 * encoded again, and only the changed virtual hosts' length prefixes are rewritten. The result
 * is the encoding of the changed message byte for byte, because the encoder writes fields in
 * field-number order and each element of a repeated message field as tag, length and the
 * element's own encoding (see {@link EncodeCache} `composed`). Undefined when `before` does not
 * have the virtual hosts or routes the splices name (the caller encodes the message instead).
 */
export function spliceRoutes(
  before: Uint8Array,
  splices: readonly RouteBytesSplice[],
): Uint8Array | undefined {
  const vhField = fieldNumber(ROUTE_CONFIGURATION, 'virtual_hosts');
  const routeField = fieldNumber(VIRTUAL_HOST, 'routes');
  const byHost = new Map<number, RouteBytesSplice[]>();
  for (const s of splices) {
    const list = byHost.get(s.virtualHost);
    if (list) list.push(s);
    else byHost.set(s.virtualHost, [s]);
  }
  const chunks: Uint8Array[] = [];
  let copied = 0;
  let seen = 0;
  let vhIndex = 0;
  try {
    for (const f of fields(before)) {
      if (f.id !== vhField || f.wire !== 2) continue;
      const mine = byHost.get(vhIndex++);
      if (!mine) continue;
      seen++;
      const body = before.subarray(f.body, f.end);
      // The routes up to the last replaced one (the rest are copied without being walked).
      let needed = 0;
      for (const s of mine) needed = Math.max(needed, s.start + s.routes.length);
      const routes = fieldSpans(body, routeField, needed);
      const parts: Uint8Array[] = [];
      let at = 0;
      for (const s of [...mine].sort((a, b) => a.start - b.start)) {
        const first = routes[2 * s.start];
        const last = routes[2 * (s.start + s.routes.length - 1) + 1];
        if (first === undefined || last === undefined || first < at) return undefined;
        parts.push(body.subarray(at, first));
        for (const r of s.routes) parts.push(lengthDelimited(routeField, r));
        at = last;
      }
      parts.push(body.subarray(at));
      let length = 0;
      for (const p of parts) length += p.length;
      chunks.push(before.subarray(copied, f.start), varint((vhField << 3) | 2), varint(length), ...parts);
      copied = f.end;
    }
  } catch {
    return undefined;
  }
  if (seen !== byHost.size) return undefined;
  chunks.push(before.subarray(copied));
  return joinChunks(chunks);
}

/**
 * Start and end offsets of the first `count` length-delimited fields numbered `id` in `bytes`, as
 * [start0, end0, start1, end1, …] (fewer if it has fewer). Reads only tags and lengths, allocating
 * nothing per field: a splice walks up to thousands of routes. Throws on malformed bytes.
 */
function fieldSpans(bytes: Uint8Array, id: number, count: number): number[] {
  const out: number[] = [];
  const want = (id << 3) | 2;
  const n = bytes.length;
  let o = 0;
  while (o < n && out.length < 2 * count) {
    const start = o;
    const tag = varintAt(bytes, o);
    if (tag < 0) throw new Error('truncated varint in an encoded message');
    o = fieldEnd(bytes, scan.next, tag & 7);
    if (o < 0) throw new Error(`unreadable field (wire type ${tag & 7}) in an encoded message`);
    if (o > n) throw new Error('truncated field in an encoded message');
    if (tag === want) out.push(start, o);
  }
  return out;
}

/** Tag, length and `body` of a length-delimited field. */
function lengthDelimited(id: number, body: Uint8Array): Uint8Array {
  const tag = varint((id << 3) | 2);
  const out = new Uint8Array(tag.length + varintLength(body.length) + body.length);
  out.set(tag, 0);
  out.set(body, writeVarint(out, tag.length, body.length));
  return out;
}

/** The top-level fields of an encoded message: number, wire type, and where the field and its body lie. */
function* fields(
  bytes: Uint8Array,
): Generator<{ id: number; wire: number; start: number; body: number; end: number }> {
  let o = 0;
  while (o < bytes.length) {
    const start = o;
    const [tag, afterTag] = readVarint(bytes, o);
    const wire = tag & 7;
    let body = afterTag;
    if (wire === 0) o = readVarint(bytes, afterTag)[1];
    else if (wire === 1) o = afterTag + 8;
    else if (wire === 2) {
      const [len, afterLen] = readVarint(bytes, afterTag);
      body = afterLen;
      o = afterLen + len;
    } else if (wire === 5) o = afterTag + 4;
    else throw new Error(`unexpected wire type ${wire} in an encoded message`);
    if (o > bytes.length) throw new Error('truncated field in an encoded message');
    yield { id: tag >>> 3, wire, start, body, end: o };
  }
}

const fieldNumbers = new Map<string, number>();

function fieldNumber(fullName: string, field: string): number {
  const key = `${fullName}.${field}`;
  let id = fieldNumbers.get(key);
  if (id === undefined) {
    const f = messageType(fullName).fields[field];
    if (!f?.repeated) throw new Error(`${fullName}.${field} is not a repeated field`);
    id = f.id;
    fieldNumbers.set(key, id);
  }
  return id;
}

/** Offset of the first top-level field of `bytes` numbered above `id` (or the end). */
function insertionPoint(bytes: Uint8Array, id: number): number {
  let o = 0;
  while (o < bytes.length) {
    const [tag, afterTag] = readVarint(bytes, o);
    if (tag >>> 3 > id) return o;
    const wire = tag & 7;
    if (wire === 0) o = readVarint(bytes, afterTag)[1];
    else if (wire === 1) o = afterTag + 8;
    else if (wire === 2) {
      const [len, afterLen] = readVarint(bytes, afterTag);
      o = afterLen + len;
    } else if (wire === 5) o = afterTag + 4;
    else throw new Error(`unexpected wire type ${wire} in an encoded message`);
  }
  return bytes.length;
}

function readVarint(bytes: Uint8Array, at: number): [number, number] {
  let value = 0;
  let shift = 0;
  let o = at;
  for (;;) {
    const b = bytes[o++];
    if (b === undefined) throw new Error('truncated varint in an encoded message');
    value += (b & 0x7f) * 2 ** shift;
    if (b < 0x80) return [value, o];
    shift += 7;
  }
}

function varintLength(n: number): number {
  let len = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    len++;
  }
  return len;
}

function varint(n: number): Uint8Array {
  const out = new Uint8Array(varintLength(n));
  writeVarint(out, 0, n);
  return out;
}

function writeVarint(out: Uint8Array, at: number, n: number): number {
  let o = at;
  while (n >= 0x80) {
    out[o++] = (n & 0x7f) | 0x80;
    n = Math.floor(n / 128);
  }
  out[o++] = n;
  return o;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
