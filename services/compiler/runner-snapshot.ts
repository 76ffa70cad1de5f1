/**
 * Turns a compile result into what the snapshot store commits: the manifest (resources by type,
 * content-derived type versions, the diagnostics blob hash and the provenance piece hashes) and
 * the blobs it references (a large route configuration's chunks rather than its whole bytes). The diagnostics blob and the provenance pieces are canonical JSON of
 * pure compile output, so replay rebuilds them byte for byte.
 */
import {
  canonicalJson,
  MANIFEST_SCHEMA,
  type Manifest,
  type ManifestEntry,
  typeManifest,
  typeVersion,
} from '../../shared/snapshot/manifest.ts';
import { encodeProvenancePieces, type ProvenancePieces } from '../../shared/snapshot/provenance.ts';
import { sha256Hex } from '../../shared/xds/encoding.ts';
import {
  CLUSTER_TYPE,
  ENDPOINT_TYPE,
  LISTENER_TYPE,
  ROUTE_TYPE,
  SECRET_TYPE,
  type TypeUrl,
} from '../../shared/xds/type-urls.ts';
import type { CompileResult } from './contracts.ts';

/** Types every manifest lists, even when empty, so clients see deletions of the last resource. */
const SERVED_TYPES: readonly TypeUrl[] = [
  LISTENER_TYPE,
  ROUTE_TYPE,
  CLUSTER_TYPE,
  ENDPOINT_TYPE,
  SECRET_TYPE,
];

export interface BuiltSnapshot {
  manifest: Manifest;
  /** Every blob the manifest references, by hash ({@link SnapshotBlobs}). */
  blobs: ReadonlyMap<string, Uint8Array>;
  /** The provenance split into pieces (their blobs are in `blobs`), reused by the next build. */
  provenance: ProvenancePieces;
}

/**
 * Builds the snapshot of `result` at `version`. Given the previous build of the same group, it
 * reuses what is unchanged — the diagnostics blob and the provenance pieces when the result
 * carries the very same array/object (the endpoint fast path keeps them; their canonical JSON is
 * megabytes at 10,000 Mappings), every provenance piece whose entries are the same objects, each
 * type's manifest when its resources are the previous result's very objects (without listing
 * them again) or its entries are the same, and the blobs of unchanged resources (not indexed
 * again, see {@link SnapshotBlobs}) — so a build that changed a few resources costs little more
 * than those. The output is the same either way.
 */
export function buildSnapshot(
  group: string,
  version: number,
  result: CompileResult,
  previous?: { result: CompileResult; snapshot: BuiltSnapshot },
): BuiltSnapshot {
  const fresh = new Map<string, Uint8Array>();
  const before = previous?.snapshot.manifest;
  const types =
    (previous && before && patchTypes(previous.result.resources, result.resources, before, fresh)) ??
    buildTypes(result, previous, fresh);
  let diagnosticsHash = before?.diagnostics;
  const diagnosticsBytes =
    result.diagnostics === previous?.result.diagnostics && diagnosticsHash !== undefined
      ? previous.snapshot.blobs.get(diagnosticsHash)
      : undefined;
  if (diagnosticsBytes && diagnosticsHash !== undefined) fresh.set(diagnosticsHash, diagnosticsBytes);
  else {
    const bytes = Buffer.from(canonicalJson(result.diagnostics), 'utf8');
    diagnosticsHash = sha256Hex(bytes);
    fresh.set(diagnosticsHash, bytes);
  }
  const provenance =
    previous && result.provenance === previous.result.provenance
      ? previous.snapshot.provenance
      : encodeProvenancePieces(result.provenance, previous?.snapshot.provenance);
  for (const [h, bytes] of provenance.blobs) fresh.set(h, bytes);
  return {
    manifest: {
      schema: MANIFEST_SCHEMA,
      group,
      version,
      types,
      diagnostics: diagnosticsHash,
      provenancePieces: provenance.hashes,
    },
    blobs: new SnapshotBlobs(result.resources, fresh),
    provenance,
  };
}

/**
 * The type lists when `resources` are `prior` with some replaced by resources of the same type
 * and name (what both fast paths produce: one Mapping's route configurations, one Service's
 * ClusterLoadAssignments): each changed type's previous entry list, copied, with the replaced
 * entries put at their positions, and its version hashed again; every other type's manifest as
 * it was. Only the replaced resources' blobs are added to `fresh`. Undefined when the lists do not
 * line up so (a resource added, removed or renamed): the caller builds every list.
 *
 * Compile output is sorted by type and name, as each type's entries are, so a resource's entry is
 * at its position less its type's first position; each replaced entry is checked to be there.
 */
function patchTypes(
  prior: CompileResult['resources'],
  resources: CompileResult['resources'],
  before: Manifest,
  fresh: Map<string, Uint8Array>,
): Manifest['types'] | undefined {
  if (prior === resources) return before.types;
  if (prior.length !== resources.length) return undefined;
  let patched: Map<TypeUrl, ManifestEntry[]> | undefined;
  let typeUrl: TypeUrl | undefined;
  let first = 0;
  for (let i = 0; i < resources.length; i++) {
    const r = resources[i] as CompileResult['resources'][number];
    if (r.typeUrl !== typeUrl) {
      typeUrl = r.typeUrl;
      first = i;
    }
    const was = prior[i] as CompileResult['resources'][number];
    if (was === r) continue;
    if (was.typeUrl !== r.typeUrl || was.name !== r.name) return undefined;
    if (was.hash === r.hash && was.onDemand === r.onDemand) continue;
    let entries = patched?.get(r.typeUrl);
    if (!entries) {
      const old = before.types[r.typeUrl];
      if (!old) return undefined;
      entries = old.resources.slice();
      patched ??= new Map();
      patched.set(r.typeUrl, entries);
    }
    if (entries[i - first]?.name !== r.name) return undefined;
    entries[i - first] = manifestEntry(r);
    addResourceBlobs(fresh, r);
  }
  if (!patched) return before.types;
  const types: Manifest['types'] = {};
  for (const t of Object.keys(before.types) as TypeUrl[]) {
    const entries = patched.get(t);
    types[t] = entries ? { version: typeVersion(entries), resources: entries } : before.types[t];
  }
  return types;
}

/**
 * Every type list of `result`: each type's entries listed from its resources, except that a type
 * whose resources are all the previous result's very objects keeps its previous manifest. The
 * blobs of resources that are not the previous result's objects are added to `fresh`.
 */
function buildTypes(
  result: CompileResult,
  previous: { result: CompileResult; snapshot: BuiltSnapshot } | undefined,
  fresh: Map<string, Uint8Array>,
): Manifest['types'] {
  const prior = previous?.result.resources;
  const aligned = prior !== undefined && prior.length === result.resources.length;
  const changedTypes = new Set<TypeUrl>();
  for (let i = 0; i < result.resources.length; i++) {
    const r = result.resources[i] as CompileResult['resources'][number];
    if (aligned && prior[i] === r) continue;
    addResourceBlobs(fresh, r);
    changedTypes.add(r.typeUrl);
  }
  const before = previous?.snapshot.manifest;
  const byType = new Map<TypeUrl, ManifestEntry[]>();
  for (const t of SERVED_TYPES) byType.set(t, []);
  for (const r of result.resources) {
    let list = byType.get(r.typeUrl);
    if (!list) {
      list = [];
      byType.set(r.typeUrl, list);
    }
    // An unchanged type's entries are not built: its previous manifest is reused below.
    if (aligned && before?.types[r.typeUrl] && !changedTypes.has(r.typeUrl)) continue;
    list.push(manifestEntry(r));
  }
  const types: Manifest['types'] = {};
  for (const [t, entries] of [...byType.entries()].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const old = before?.types[t];
    if (old && aligned && !changedTypes.has(t)) types[t] = old;
    else types[t] = old && sameEntries(old.resources, entries) ? old : typeManifest(entries);
  }
  return types;
}

function manifestEntry(r: CompileResult['resources'][number]): ManifestEntry {
  const entry: ManifestEntry = { name: r.name, hash: r.hash };
  if (r.chunks) entry.chunks = r.chunks.map((c) => c.hash);
  if (r.onDemand) entry.onDemand = true;
  return entry;
}

/** A resource's blobs: its bytes under its hash, or its chunks (resource-chunks.ts) under theirs. */
function addResourceBlobs(out: Map<string, Uint8Array>, r: CompileResult['resources'][number]): void {
  if (!r.chunks) out.set(r.hash, r.bytes);
  else for (const c of r.chunks) out.set(c.hash, r.bytes.subarray(c.start, c.end));
}

/**
 * The blobs of a built snapshot, by hash: the resources' (whole or in chunks), the diagnostics'
 * and the provenance pieces'. What the build found new (resources that are not the previous
 * result's objects, diagnostics, provenance) is indexed at once; the index of every resource is
 * built only when a hash outside those is asked for or the map is iterated (a commit without a
 * base, a rebase, tests). A commit on top of the previous one asks only for new hashes, so it
 * neither builds nor retains a map of every resource (~4,600 entries at 10,000 Mappings).
 */
class SnapshotBlobs implements ReadonlyMap<string, Uint8Array> {
  private index?: Map<string, Uint8Array>;

  constructor(
    private readonly resources: readonly CompileResult['resources'][number][],
    private readonly fresh: ReadonlyMap<string, Uint8Array>,
  ) {}

  private all(): Map<string, Uint8Array> {
    if (!this.index) {
      const index = new Map(this.fresh);
      for (const r of this.resources) addResourceBlobs(index, r);
      this.index = index;
    }
    return this.index;
  }
  get size(): number {
    return this.all().size;
  }
  get(hash: string): Uint8Array | undefined {
    return this.fresh.get(hash) ?? this.all().get(hash);
  }
  has(hash: string): boolean {
    return this.fresh.has(hash) || this.all().has(hash);
  }
  entries(): MapIterator<[string, Uint8Array]> {
    return this.all().entries();
  }
  keys(): MapIterator<string> {
    return this.all().keys();
  }
  values(): MapIterator<Uint8Array> {
    return this.all().values();
  }
  [Symbol.iterator](): MapIterator<[string, Uint8Array]> {
    return this.all().entries();
  }
  forEach(fn: (value: Uint8Array, key: string, map: ReadonlyMap<string, Uint8Array>) => void): void {
    for (const [k, v] of this.all()) fn(v, k, this);
  }
}

/**
 * Whether `entries` (in output order) are exactly the sorted `manifest` entries: compile output
 * is sorted by type and name, so an unchanged type lines up entry by entry.
 */
function sameEntries(
  manifest: readonly { name: string; hash: string; onDemand?: true }[],
  entries: readonly { name: string; hash: string; onDemand?: true }[],
): boolean {
  if (manifest.length !== entries.length) return false;
  for (let i = 0; i < entries.length; i++) {
    const a = manifest[i] as (typeof manifest)[number];
    const b = entries[i] as (typeof entries)[number];
    if (a.name !== b.name || a.hash !== b.hash || a.onDemand !== b.onDemand) return false;
  }
  return true;
}
