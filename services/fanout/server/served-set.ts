/**
 * What one subscription to one type is served from a snapshot. A served set is a pure function of
 * (type snapshot, subscription), so it is computed once and cached on the immutable type snapshot;
 * every stream with the same subscription shares the same object, the same SotW bytes and the same
 * delta diffs.
 *
 * Version rule: the version of a served set is `typeVersion` of its (name, hash) entries. For a
 * wildcard subscriber of a type without on-demand resources that is exactly the manifest's type
 * version. It depends on content only, so every fan-out node computes the same value and a
 * client that reconnects elsewhere presenting it needs no re-push.
 */
import { sortedIndexOf } from '../../../shared/runtime/sorted.ts';
import { typeVersion } from '../../../shared/snapshot/manifest.ts';
import { type TypeUrl, VIRTUAL_HOST_TYPE } from '../../../shared/xds/type-urls.ts';
import type { CachedResource, TypeSnapshot } from '../cache/group-snapshot.ts';
import { ByteBoundedLru } from './byte-bounded-lru.ts';
import { DEFAULT_CACHE_BUDGET, type ServedSetCacheBudget } from './client-limits.ts';
import { encodeResponseBody } from './discovery-codec.ts';

/**
 * A client's interest in one type, as derived from its requests. Interned: equal (wildcard, names)
 * give the same object while the intern table holds it, so thousands of streams with the same
 * names share one key string and one name array.
 */
export interface Subscription {
  /** All resources of the type except on-demand ones. */
  readonly wildcard: boolean;
  /** Explicitly requested names, sorted, without `*`. */
  readonly names: readonly string[];
  /** Stable identity of (wildcard, names); equal keys mean equal subscriptions. */
  readonly key: string;
}

/**
 * The intern table, bounded by bytes: evicted subscriptions stay valid for whoever holds them,
 * they are just no longer shared with new streams.
 */
const interned = new ByteBoundedLru<string, Subscription>(DEFAULT_CACHE_BUDGET.subscriptionBytes);

/** Estimated heap bytes of a subscription: its key, its name array and the names themselves. */
export function subscriptionBytes(sub: Subscription): number {
  return 64 + 2 * sub.key.length + 16 * sub.names.length;
}

export function subscription(wildcard: boolean, names: Iterable<string>): Subscription {
  const list = Array.isArray(names) ? (names as readonly string[]) : [...names];
  // Clients (and our own sets built from sorted names) mostly list names sorted already.
  const sorted = sortedUnique(list) ? list.slice() : [...new Set(list)].filter((n) => n !== '*').sort();
  const key = `${wildcard ? '*' : '-'}\u0000${sorted.join('\u0000')}`;
  const hit = interned.get(key);
  if (hit) return hit;
  const sub: Subscription = { wildcard, names: sorted, key };
  interned.set(key, sub, subscriptionBytes(sub));
  return sub;
}

/** True when `names` is strictly increasing (so sorted, without duplicates) and has no `*`. */
function sortedUnique(names: readonly string[]): boolean {
  for (let i = 0; i < names.length; i++) {
    const n = names[i] as string;
    if (n === '*' || (i > 0 && !((names[i - 1] as string) < n))) return false;
  }
  return true;
}

/**
 * True when `sub` covers resource `name` (whose on-demand flag is `onDemand`). With `namespaced`
 * (VHDS, Envoy's namespace matching) a subscribed name also covers every resource named
 * `<name>/<entry>`: the namespace of a resource is its name up to the last `/`.
 */
export function covers(sub: Subscription, name: string, onDemand: boolean, namespaced = false): boolean {
  if (sub.wildcard && !onDemand) return true;
  if (sortedIndexOf(sub.names, name) >= 0) return true;
  if (!namespaced) return false;
  const slash = name.lastIndexOf('/');
  return slash >= 0 && sortedIndexOf(sub.names, name.slice(0, slash)) >= 0;
}

/** Types whose subscriptions name namespaces (VHDS): see {@link covers}. */
export function isNamespaced(typeUrl: string): boolean {
  return typeUrl === VIRTUAL_HOST_TYPE;
}

/** The served part of one type for one subscription. Immutable and shared. */
export class ServedSet {
  private sotwBody?: Buffer;

  constructor(
    readonly typeUrl: TypeUrl,
    readonly sub: Subscription,
    readonly version: string,
    /** Served resources in name order. */
    readonly resources: readonly CachedResource[],
    readonly byName: ReadonlyMap<string, CachedResource>,
  ) {}

  get resourceCount(): number {
    return this.resources.length;
  }

  /** Names of the served resources, in order (for NACK events and debug output). */
  get names(): string[] {
    return this.resources.map((r) => r.name);
  }

  /**
   * The SotW DiscoveryResponse without its nonce, encoded on first use: the same bytes go to every
   * stream that is sent this set (each stream adds only its nonce field), so a push to N streams
   * encodes nothing.
   */
  get body(): Buffer {
    this.sotwBody ??= encodeResponseBody(
      this.version,
      this.typeUrl,
      this.resources.map((r) => r.any),
    );
    return this.sotwBody;
  }
}

/** Served sets per type snapshot, for lookup; what they may hold in total is bounded by `served`. */
const cache = new WeakMap<TypeSnapshot, Map<string, ServedSet>>();
/** Every cached served set with its owning per-type map, least recently used first. */
const served = new ByteBoundedLru<ServedSet, Map<string, ServedSet>>(
  DEFAULT_CACHE_BUDGET.servedSetBytes,
  (set, owner) => {
    if (owner.get(set.sub.key) === set) owner.delete(set.sub.key);
  },
);

/** Sets the byte budgets of the shared caches (process-wide; shrinks them at once if smaller). */
export function configureServedSetCaches(budget: ServedSetCacheBudget): void {
  interned.resize(budget.subscriptionBytes);
  served.resize(budget.servedSetBytes);
}

/** Bytes held and evictions so far, per shared cache (for metrics). */
export function servedSetCacheStats(): Record<
  'subscriptions' | 'served_sets',
  { bytes: number; evictions: number }
> {
  return {
    subscriptions: { bytes: interned.bytes, evictions: interned.evictions },
    served_sets: { bytes: served.bytes, evictions: served.evictions },
  };
}

/**
 * Estimated heap bytes of a served set: its arrays, its own name map (unless it shares the type's),
 * its subscription, and the SotW body and response it encodes on first use.
 */
function servedSetBytes(set: ServedSet, sharesTypeMap: boolean): number {
  let anyBytes = 0;
  for (const r of set.resources) anyBytes += r.any.length;
  const perResource = sharesTypeMap ? 16 : 80;
  return 128 + perResource * set.resources.length + subscriptionBytes(set.sub) + 2 * anyBytes;
}

const emptyTypes = new Map<TypeUrl, TypeSnapshot>();

/** The type snapshot to serve when a snapshot lacks the type: empty, with a content version. */
export function emptyTypeSnapshot(typeUrl: TypeUrl): TypeSnapshot {
  let t = emptyTypes.get(typeUrl);
  if (!t) {
    t = { typeUrl, version: typeVersion([]), resources: new Map() };
    emptyTypes.set(typeUrl, t);
  }
  return t;
}

/** The served set of `sub` in `type`, computed on first use and shared afterwards. */
export function servedSet(type: TypeSnapshot, sub: Subscription): ServedSet {
  let perType = cache.get(type);
  if (!perType) {
    perType = new Map();
    cache.set(type, perType);
  }
  const hit = perType.get(sub.key);
  if (hit) {
    served.get(hit);
    return hit;
  }
  const resources = servedResources(type, sub);
  const everything = resources.length === type.resources.size;
  const version = everything ? type.version : setVersion(resources);
  const byName = everything ? type.resources : new Map(resources.map((r) => [r.name, r]));
  const set = new ServedSet(type.typeUrl, sub, version, resources, byName);
  // Cached only within the budget; a set larger than all of it is still served, just not shared.
  if (served.set(set, perType, servedSetBytes(set, everything))) perType.set(sub.key, set);
  return set;
}

/** The version of a set of served resources (in name order): `typeVersion` of their entries. */
function setVersion(resources: readonly CachedResource[]): string {
  return typeVersion(
    resources.map((r) => ({
      name: r.name,
      hash: r.hash,
      ...(r.onDemand ? { onDemand: true as const } : {}),
    })),
  );
}

/**
 * Served resources in name order: wildcard ones (not on-demand) plus named ones that exist, plus,
 * for a namespaced type, every resource in a subscribed namespace.
 */
function servedResources(type: TypeSnapshot, sub: Subscription): CachedResource[] {
  const out: CachedResource[] = [];
  if (sub.wildcard || isNamespaced(type.typeUrl)) {
    const namespaced = isNamespaced(type.typeUrl);
    for (const r of type.resources.values()) if (covers(sub, r.name, r.onDemand, namespaced)) out.push(r);
    return out;
  }
  for (const name of sub.names) {
    const r = type.resources.get(name);
    if (r) out.push(r);
  }
  return out;
}

/** What moving a client from one served set to another takes away and brings. */
export interface SetChange {
  readonly removes: boolean;
  readonly adds: boolean;
}

/** A value per (from, to) pair of served sets, computed once and dropped with either set. */
class PairMemo<T> {
  private readonly byFrom = new WeakMap<ServedSet, WeakMap<ServedSet, T>>();

  constructor(private readonly compute: (from: ServedSet, to: ServedSet) => T) {}

  get(from: ServedSet, to: ServedSet): T {
    let perFrom = this.byFrom.get(from);
    if (!perFrom) {
      perFrom = new WeakMap();
      this.byFrom.set(from, perFrom);
    }
    let value = perFrom.get(to);
    if (value === undefined) {
      value = this.compute(from, to);
      perFrom.set(to, value);
    }
    return value;
  }
}

const bridges = new PairMemo<ServedSet>((from, to) => {
  const byName = new Map(to.byName);
  for (const [name, r] of from.byName) if (!byName.has(name)) byName.set(name, r);
  const resources = [...byName.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return new ServedSet(to.typeUrl, to.sub, setVersion(resources), resources, byName);
});

/**
 * `to` plus what `from` had that `to` lacks: the make-before-break step for a cluster push that
 * both adds and removes. A client is sent the new clusters while keeping the old ones until the
 * routes that name them are replaced; then `to` removes them. Content-versioned like any set, and
 * shared by every stream making the same move.
 */
export function bridgeSet(from: ServedSet, to: ServedSet): ServedSet {
  return bridges.get(from, to);
}

const hasNameOutside = (a: ServedSet, b: ServedSet) => {
  for (const name of a.byName.keys()) if (!b.byName.has(name)) return true;
  return false;
};

const changes = new PairMemo<SetChange>((from, to) => ({
  removes: hasNameOutside(from, to),
  adds: hasNameOutside(to, from),
}));

/**
 * Whether `to` lacks names `from` had, and has names `from` lacked. Sets are shared by every
 * stream with the same subscription, so each pair is compared once per push, not once per stream.
 */
export function setChange(from: ServedSet, to: ServedSet): SetChange {
  return changes.get(from, to);
}
