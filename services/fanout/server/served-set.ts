/**
 * What one subscription to one type is served from a snapshot, and the encoded response for it.
 * Both are pure functions of (type snapshot, subscription), so they are computed once and cached
 * on the immutable type snapshot; every stream with the same subscription shares the same bytes.
 *
 * Version rule: the version of a served set is `typeVersion` of its (name, hash) entries. For a
 * wildcard subscriber of a type without on-demand resources that is exactly the manifest's type
 * version. It depends on content only, so every fan-out node computes the same value and a
 * client that reconnects elsewhere presenting it needs no re-push.
 */
import { typeVersion } from '../../../shared/snapshot/manifest.ts';
import type { TypeUrl } from '../../../shared/xds/type-urls.ts';
import type { CachedResource, TypeSnapshot } from '../cache/group-snapshot.ts';
import { encodeResponseBody } from './discovery-codec.ts';

/** A client's interest in one type, as derived from its requests. */
export interface Subscription {
  /** All resources of the type except on-demand ones. */
  readonly wildcard: boolean;
  /** Explicitly requested names, sorted, without `*`. */
  readonly names: readonly string[];
  /** Stable identity of (wildcard, names); equal keys mean equal subscriptions. */
  readonly key: string;
}

export function subscription(wildcard: boolean, names: Iterable<string>): Subscription {
  const sorted = [...new Set(names)].filter((n) => n !== '*').sort();
  return { wildcard, names: sorted, key: `${wildcard ? '*' : '-'}\u0000${sorted.join('\u0000')}` };
}

/** The served part of one type for one subscription, ready to send. */
export interface EncodedResponse {
  readonly typeUrl: TypeUrl;
  readonly version: string;
  /** DiscoveryResponse without its nonce. */
  readonly body: Buffer;
  readonly resourceCount: number;
}

/** Bounds the per-type-version cache when many clients each name a different set. */
const MAX_SETS_PER_TYPE_VERSION = 4096;

const encoded = new WeakMap<TypeSnapshot, Map<string, EncodedResponse>>();
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

/** The response for `sub` from `type`, encoded on first use and shared afterwards. */
export function encodedResponse(type: TypeSnapshot, sub: Subscription): EncodedResponse {
  let perType = encoded.get(type);
  if (!perType) {
    perType = new Map();
    encoded.set(type, perType);
  }
  const hit = perType.get(sub.key);
  if (hit) return hit;
  const served = servedResources(type, sub);
  const everything = served.length === type.resources.size;
  const version = everything
    ? type.version
    : typeVersion(
        served.map((r) => ({
          name: r.name,
          hash: r.hash,
          ...(r.onDemand ? { onDemand: true as const } : {}),
        })),
      );
  const response: EncodedResponse = {
    typeUrl: type.typeUrl,
    version,
    body: encodeResponseBody(
      version,
      type.typeUrl,
      served.map((r) => r.any),
    ),
    resourceCount: served.length,
  };
  if (perType.size >= MAX_SETS_PER_TYPE_VERSION) perType.clear();
  perType.set(sub.key, response);
  return response;
}

/** Served resources in name order: wildcard ones (not on-demand) plus named ones that exist. */
function servedResources(type: TypeSnapshot, sub: Subscription): CachedResource[] {
  if (sub.wildcard) {
    const named = new Set(sub.names);
    const out: CachedResource[] = [];
    for (const r of type.resources.values()) if (!r.onDemand || named.has(r.name)) out.push(r);
    return out;
  }
  const out: CachedResource[] = [];
  for (const name of sub.names) {
    const r = type.resources.get(name);
    if (r) out.push(r);
  }
  return out;
}
