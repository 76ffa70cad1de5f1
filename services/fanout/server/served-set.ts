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
import { typeVersion } from '../../../shared/snapshot/manifest.ts';
import type { TypeUrl } from '../../../shared/xds/type-urls.ts';
import type { CachedResource, TypeSnapshot } from '../cache/group-snapshot.ts';
import { ByteBoundedLru } from './byte-bounded-lru.ts';
import { DEFAULT_CACHE_BUDGET, type ServedSetCacheBudget } from './client-limits.ts';
import { encodeResponseBody, withNonce } from './discovery-codec.ts';

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
  const sorted = [...new Set(names)].filter((n) => n !== '*').sort();
  const key = `${wildcard ? '*' : '-'}\u0000${sorted.join('\u0000')}`;
  const hit = interned.get(key);
  if (hit) return hit;
  const sub: Subscription = { wildcard, names: sorted, key };
  interned.set(key, sub, subscriptionBytes(sub));
  return sub;
}

/** True when `sub` covers resource `name` (whose on-demand flag is `onDemand`). */
export function covers(sub: Subscription, name: string, onDemand: boolean): boolean {
  if (sub.wildcard && !onDemand) return true;
  return binaryHas(sub.names, name);
}

/** The served part of one type for one subscription. Immutable and shared. */
export class ServedSet {
  private sotwBody?: Buffer;

  private sharedResponse?: Buffer;

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
   * The whole SotW DiscoveryResponse with the content-derived nonce (the version itself): the same
   * bytes go to every stream that is sent this set, so a push to N streams encodes nothing.
   */
  get response(): Buffer {
    this.sharedResponse ??= withNonce(this.body, this.version);
    return this.sharedResponse;
  }

  /** The SotW DiscoveryResponse without its nonce, encoded on first use. */
  get body(): Buffer {
    this.sotwBody ??= encodeResponseBody(
      this.version,
      this.typeUrl,
      this.resources.map((r) => r.any),
    );
    return this.sotwBody;
  }
}

/** Kept for callers of the SotW path: a served set is its encoded response. */
export type EncodedResponse = ServedSet;

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
  const version = everything
    ? type.version
    : typeVersion(
        resources.map((r) => ({
          name: r.name,
          hash: r.hash,
          ...(r.onDemand ? { onDemand: true as const } : {}),
        })),
      );
  const byName = everything ? type.resources : new Map(resources.map((r) => [r.name, r]));
  const set = new ServedSet(type.typeUrl, sub, version, resources, byName);
  // Cached only within the budget; a set larger than all of it is still served, just not shared.
  if (served.set(set, perType, servedSetBytes(set, everything))) perType.set(sub.key, set);
  return set;
}

/** The SotW response for `sub` from `type` (the served set, whose `body` is the encoded response). */
export function encodedResponse(type: TypeSnapshot, sub: Subscription): EncodedResponse {
  return servedSet(type, sub);
}

/** Served resources in name order: wildcard ones (not on-demand) plus named ones that exist. */
function servedResources(type: TypeSnapshot, sub: Subscription): CachedResource[] {
  const out: CachedResource[] = [];
  if (sub.wildcard) {
    for (const r of type.resources.values()) if (covers(sub, r.name, r.onDemand)) out.push(r);
    return out;
  }
  for (const name of sub.names) {
    const r = type.resources.get(name);
    if (r) out.push(r);
  }
  return out;
}

function binaryHas(sorted: readonly string[], name: string): boolean {
  let lo = 0;
  let hi = sorted.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const v = sorted[mid] as string;
    if (v === name) return true;
    if (v < name) lo = mid + 1;
    else hi = mid - 1;
  }
  return false;
}
