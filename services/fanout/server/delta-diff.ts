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
import { encodeDeltaResource, encodeDeltaResponseBody } from './discovery-codec.ts';
import { covers, ServedSet } from './served-set.ts';

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

const NOTHING: DeltaBody = { body: Buffer.alloc(0), version: '', names: [], removed: [] };
const diffs = new WeakMap<ServedSet, Map<ServedSet, DeltaBody>>();
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
  missing: readonly string[] = [],
): DeltaBody | null {
  if (held === null && missing.length === 0) {
    // A fresh subscription: every stream subscribing to the same set gets the same bytes.
    let hit = initial.get(to);
    if (!hit) {
      hit = computeDiff(null, to, missing) ?? NOTHING;
      initial.set(to, hit);
    }
    return hit === NOTHING ? null : hit;
  }
  if (held instanceof ServedSet && missing.length === 0) {
    let targets = diffs.get(held);
    if (!targets) {
      targets = new Map();
      diffs.set(held, targets);
    }
    let hit = targets.get(to);
    if (!hit) {
      hit = computeDiff(held.byName, to, missing) ?? NOTHING;
      if (targets.size >= MAX_TARGETS) targets.clear();
      targets.set(to, hit);
    }
    return hit === NOTHING ? null : hit;
  }
  return computeDiff(held instanceof ServedSet ? held.byName : held, to, missing);
}

function computeDiff(
  held: ReadonlyMap<string, CachedResource | string> | null,
  to: ServedSet,
  missing: readonly string[],
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
  if (held) {
    for (const [name, h] of held) {
      if (to.byName.has(name)) continue;
      // A name the subscription no longer covers was dropped by the client itself.
      if (covers(to.sub, name, typeof h === 'string' ? false : h.onDemand)) removed.push(name);
    }
  }
  for (const name of missing) if (!to.byName.has(name) && !removed.includes(name)) removed.push(name);
  if (resources.length === 0 && removed.length === 0) return null;
  removed.sort();
  return {
    body: encodeDeltaResponseBody(to.version, to.typeUrl, resources, removed),
    version: to.version,
    names,
    removed,
  };
}

/** What a client holding `held` still holds after its subscription shrank to `sub`'s coverage. */
export function restrictHeld(held: Held, keep: (name: string, onDemand: boolean) => boolean): Held {
  const source = held instanceof ServedSet ? held.byName : held;
  const out = new Map<string, CachedResource | string>();
  for (const [name, h] of source)
    if (keep(name, typeof h === 'string' ? false : h.onDemand)) out.set(name, h);
  return out;
}
