/**
 * Delta responses as differences between what a client holds and what it should hold.
 *
 * Resource versions are the content hashes from the manifest: the same on every fan-out node,
 * so a client reconnecting anywhere presents `initial_resource_versions` we can compare directly.
 * Each `Resource{name, version, Any}` message is encoded once per cached resource (one per
 * (group, hash) while the resource is unchanged) and reused by every stream; the difference
 * between two shared served sets is computed and encoded once and reused by every stream making
 * the same move (typically a whole group moving from one snapshot to the next).
 */
import type { CachedResource } from '../cache/group-snapshot.ts';
import { ByteBoundedLru } from './byte-bounded-lru.ts';
import {
  decodeVersionEntry,
  encodeDeltaAliasResource,
  encodeDeltaResource,
  encodeDeltaResponseBody,
  type VersionEntryInterner,
} from './discovery-codec.ts';
import { covers, isNamespaced, ServedSet } from './served-set.ts';

/**
 * What a client holds of one type: a shared served set (the last one sent), or, after
 * `initial_resource_versions` or an unsubscribe, a per-stream map of name → resource or version.
 */
export type Held = ServedSet | ReadonlyMap<string, CachedResource | string>;

/** One delta response without its nonce. Immutable and shared when it came from the cache. */
export interface DeltaBody {
  readonly body: Buffer;
  /** `system_version_info`: the version of the served set the client holds after applying it. */
  readonly version: string;
  /** Names of the resources carried. */
  readonly names: readonly string[];
  readonly removed: readonly string[];
  /** Cached and reused by every stream making the same move (worth framing and compressing once). */
  readonly shared: boolean;
}

const encodedResources = new WeakMap<CachedResource, Uint8Array>();

/** The encoded `Resource` message of `r`, built on first use. Its version is the content hash. */
export function encodedResource(r: CachedResource): Uint8Array {
  let bytes = encodedResources.get(r);
  if (!bytes) {
    bytes = encodeDeltaResource(r.name, r.hash, r.any);
    encodedResources.set(r, bytes);
  }
  return bytes;
}

const NOTHING: DeltaBody = { body: Buffer.alloc(0), version: '', names: [], removed: [], shared: true };
const diffs = new WeakMap<object, Map<ServedSet, DeltaBody>>();
const initial = new WeakMap<ServedSet, DeltaBody>();
/** Bounds the per-origin cache (one origin rarely moves to more than a few targets). */
const MAX_TARGETS = 64;

/**
 * The response that brings a client holding `held` to `to`, or null if it already holds it.
 * `missing` are names just subscribed that `to` lacks: reported in `removed_resources`, which is
 * how delta xDS says "does not exist".
 */
export function deltaResponse(
  held: Held | null,
  to: ServedSet,
  subscribed: readonly string[] = [],
): DeltaBody | null {
  // Only names `to` lacks change the response: a fresh subscription to names that all exist is
  // the same move for every stream making it, and shares its bytes.
  const missing = subscribed.length === 0 ? subscribed : subscribed.filter((n) => !to.byName.has(n));
  if (held === null && missing.length === 0) {
    // A fresh subscription: every stream subscribing to the same set gets the same bytes.
    let hit = initial.get(to);
    if (!hit) {
      hit = computeDiff(null, to, missing, true) ?? NOTHING;
      initial.set(to, hit);
    }
    return hit === NOTHING ? null : hit;
  }
  if (held !== null && (held instanceof ServedSet || interned.has(held)) && missing.length === 0) {
    let targets = diffs.get(held);
    if (!targets) {
      targets = new Map();
      diffs.set(held, targets);
    }
    let hit = targets.get(to);
    if (!hit) {
      hit =
        computeDiff(held instanceof ServedSet ? held.byName : (held as HeldMap), to, missing, true) ??
        NOTHING;
      if (targets.size >= MAX_TARGETS) targets.clear();
      targets.set(to, hit);
    }
    return hit === NOTHING ? null : hit;
  }
  return computeDiff(held instanceof ServedSet ? held.byName : held, to, missing, false);
}

function computeDiff(
  held: ReadonlyMap<string, CachedResource | string> | null,
  to: ServedSet,
  missing: readonly string[],
  shared: boolean,
): DeltaBody | null {
  const resources: Uint8Array[] = [];
  const names: string[] = [];
  for (const r of to.resources) {
    const h = held?.get(r.name);
    const version = typeof h === 'string' ? h : h?.hash;
    if (version === r.hash) continue;
    resources.push(encodedResource(r));
    names.push(r.name);
  }
  const removed: string[] = [];
  const namespaced = isNamespaced(to.typeUrl);
  if (held) {
    for (const [name, h] of held) {
      if (to.byName.has(name)) continue;
      // A name the subscription no longer covers was dropped by the client itself.
      if (covers(to.sub, name, typeof h === 'string' ? false : h.onDemand, namespaced)) removed.push(name);
    }
  }
  for (const name of missing) {
    if (to.byName.has(name) || removed.includes(name)) continue;
    if (namespaced) {
      // A subscribed namespace (VHDS: a route configuration's name) is not itself a resource.
      if (to.resources.some((r) => r.name.startsWith(`${name}/`))) continue;
      // An on-demand lookup `<route configuration>/<authority>` no virtual host is named after:
      // answered with the name as its alias and no body (the VHDS page), not as removed.
      if (name.includes('/')) {
        resources.push(encodeDeltaAliasResource(name));
        names.push(name);
        continue;
      }
    }
    removed.push(name);
  }
  if (resources.length === 0 && removed.length === 0) return null;
  removed.sort();
  return {
    body: encodeDeltaResponseBody(to.version, to.typeUrl, resources, removed),
    version: to.version,
    names,
    removed,
    shared,
  };
}

type HeldMap = ReadonlyMap<string, CachedResource | string>;

/** Interned declarations, by their sorted entries; bounded by bytes (keys included). */
const declarations = new ByteBoundedLru<string, HeldMap>(8 * 1024 * 1024);
/** Every map {@link declared} returned: safe to key shared diffs by (never mutated). */
const interned = new WeakSet<object>();

/**
 * What a client declares it holds (`initial_resource_versions`), as one shared map per distinct
 * declaration: a fleet reconnecting after a fan-out restart declares the same versions stream
 * after stream, and then every stream's first response is the same move, computed and encoded
 * once (and framed once by the transport) instead of once per stream.
 */
export function internDeclared(entries: ReadonlyArray<readonly [string, string]>): HeldMap {
  const sorted = [...entries].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  // The entries themselves are the key, length-prefixed so that no two declarations share one
  // (a client's names and versions are arbitrary strings, and a declaration is shared by every
  // stream and group that makes it): one string, hashed once by the engine's Map, costs less
  // than a digest updated per entry, per request of a storm.
  const key = sorted.map(([name, version]) => `${name.length}:${name}${version.length}:${version}`).join('');
  const hit = declarations.get(key);
  if (hit) return hit;
  const map: HeldMap = new Map(sorted);
  let bytes = 64 + 2 * key.length;
  for (const [name, version] of sorted) bytes += 48 + 2 * (name.length + version.length);
  if (declarations.set(key, map, bytes)) interned.add(map);
  return map;
}

/** One `initial_resource_versions` entry, interned by its encoded bytes ({@link DeclarationInterner}). */
export interface DeclaredEntry {
  /** Unique while interned (never reused); 0: too large to intern, never shared. */
  readonly id: number;
  readonly name: string;
  readonly version: string;
}

/** Entries longer than this (bytes) are decoded per request, not interned. */
const MAX_INTERNED_ENTRY_BYTES = 1024;

/**
 * Interns declared versions while a request is decoded, so a reconnecting fleet's requests cost
 * one map lookup per entry and one per declaration, with no strings decoded or objects built:
 * - an entry is keyed by its encoded bytes (read as latin1, byte for byte): the same bytes are the
 *   same (name, version), decoded once and given an id;
 * - a declaration is keyed by its entries' ids, sorted: the same entries in any order (each client
 *   lists them in its own order) give the same shared map, as {@link internDeclared} does.
 * Bounded: the entry table is emptied when its estimated bytes pass `maxBytes` (ids are never
 * reused, so declarations keyed by older ids simply stop matching and age out of their LRU).
 */
export class DeclarationInterner implements VersionEntryInterner<DeclaredEntry> {
  private readonly entries = new Map<string, DeclaredEntry>();
  private readonly declarations = new ByteBoundedLru<string, HeldMap>(8 * 1024 * 1024);
  private bytes = 0;
  private nextId = 1;

  constructor(private readonly maxBytes = 4 * 1024 * 1024) {}

  /** Entries held (for tests). */
  get size(): number {
    return this.entries.size;
  }

  entry(buf: Uint8Array, start: number, end: number): DeclaredEntry {
    if (end - start > MAX_INTERNED_ENTRY_BYTES) {
      const [name, version] = decodeVersionEntry(buf, start, end);
      return { id: 0, name, version };
    }
    const b = (
      Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength)
    ) as Latin1;
    // latin1Slice: what toString('latin1') calls, without its argument handling (per entry, a
    // storm reads a million of them).
    const key = b.latin1Slice(start, end);
    const hit = this.entries.get(key);
    if (hit) return hit;
    const [name, version] = decodeVersionEntry(buf, start, end);
    const cost = 96 + key.length + 2 * (name.length + version.length);
    if (this.bytes + cost > this.maxBytes) {
      this.entries.clear();
      this.bytes = 0;
    }
    const e: DeclaredEntry = { id: this.nextId++, name, version };
    this.entries.set(key, e);
    this.bytes += cost;
    return e;
  }

  /**
   * What a client declaring `entries` holds: one shared map per distinct set of interned entries,
   * whatever their order. A later entry for the same name wins (protobuf map semantics); such a
   * declaration depends on its order and gets a map of its own.
   */
  declaration(entries: readonly DeclaredEntry[]): HeldMap {
    const ids = new Float64Array(entries.length);
    let shareable = true;
    for (let i = 0; i < entries.length; i++) {
      const id = (entries[i] as DeclaredEntry).id;
      if (id === 0) shareable = false;
      ids[i] = id;
    }
    if (!shareable) return heldOf(entries);
    ids.sort();
    const key = ids.join(',');
    const hit = this.declarations.get(key);
    if (hit) return hit;
    const map = heldOf(entries);
    if (map.size !== entries.length) return map;
    let bytes = 64 + 2 * key.length;
    for (const e of entries) bytes += 48 + 2 * (e.name.length + e.version.length);
    if (this.declarations.set(key, map, bytes)) interned.add(map);
    return map;
  }
}

/** Node's Buffer method behind `toString('latin1', start, end)` (not in its type declarations). */
type Latin1 = Buffer & { latin1Slice(start: number, end: number): string };

/** A held map of declared entries, in name order (a later entry for a name wins). */
function heldOf(entries: readonly DeclaredEntry[]): HeldMap {
  const latest = new Map<string, string>();
  for (const e of entries) latest.set(e.name, e.version);
  return new Map([...latest].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)));
}

/** The fan-out's interner for declared versions (both transports decode delta requests with it). */
export const declaredVersions = new DeclarationInterner();

/** What a client holding `held` still holds after its subscription shrank to `sub`'s coverage. */
export function restrictHeld(held: Held, keep: (name: string, onDemand: boolean) => boolean): Held {
  const source = held instanceof ServedSet ? held.byName : held;
  const out = new Map<string, CachedResource | string>();
  for (const [name, h] of source)
    if (keep(name, typeof h === 'string' ? false : h.onDemand)) out.set(name, h);
  return out;
}
