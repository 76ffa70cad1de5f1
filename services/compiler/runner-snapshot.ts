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
  blobs: Map<string, Uint8Array>;
  /** The provenance split into pieces (their blobs are in `blobs`), reused by the next build. */
  provenance: ProvenancePieces;
}

/**
 * Builds the snapshot of `result` at `version`. Given the previous build of the same group, it
 * reuses what is unchanged — the diagnostics blob and the provenance pieces when the result
 * carries the very same array/object (the endpoint fast path keeps them; their canonical JSON is
 * megabytes at 10,000 Mappings), every provenance piece whose entries are the same objects, and
 * each type's manifest when its entries are the same — so a build that changed a few resources
 * costs little more than those. The output is the same either way.
 */
export function buildSnapshot(
  group: string,
  version: number,
  result: CompileResult,
  previous?: { result: CompileResult; snapshot: BuiltSnapshot },
): BuiltSnapshot {
  const blobs = new Map<string, Uint8Array>();
  const byType = new Map<TypeUrl, ManifestEntry[]>();
  for (const t of SERVED_TYPES) byType.set(t, []);
  for (const r of result.resources) {
    let list = byType.get(r.typeUrl);
    if (!list) {
      list = [];
      byType.set(r.typeUrl, list);
    }
    const entry: ManifestEntry = { name: r.name, hash: r.hash };
    if (r.chunks) {
      // Stored in chunks (shared/snapshot/resource-chunks.ts): views into the resource's bytes.
      for (const c of r.chunks) blobs.set(c.hash, r.bytes.subarray(c.start, c.end));
      entry.chunks = r.chunks.map((c) => c.hash);
    } else blobs.set(r.hash, r.bytes);
    if (r.onDemand) entry.onDemand = true;
    list.push(entry);
  }
  const before = previous?.snapshot.manifest;
  let diagnosticsHash = before?.diagnostics;
  const diagnosticsBytes =
    result.diagnostics === previous?.result.diagnostics && diagnosticsHash !== undefined
      ? previous.snapshot.blobs.get(diagnosticsHash)
      : undefined;
  if (diagnosticsBytes && diagnosticsHash !== undefined) blobs.set(diagnosticsHash, diagnosticsBytes);
  else {
    const fresh = Buffer.from(canonicalJson(result.diagnostics), 'utf8');
    diagnosticsHash = sha256Hex(fresh);
    blobs.set(diagnosticsHash, fresh);
  }
  const provenance =
    previous && result.provenance === previous.result.provenance
      ? previous.snapshot.provenance
      : encodeProvenancePieces(result.provenance, previous?.snapshot.provenance);
  for (const [h, bytes] of provenance.blobs) blobs.set(h, bytes);
  const types: Manifest['types'] = {};
  for (const [t, entries] of [...byType.entries()].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const old = before?.types[t];
    types[t] = old && sameEntries(old.resources, entries) ? old : typeManifest(entries);
  }
  return {
    manifest: {
      schema: MANIFEST_SCHEMA,
      group,
      version,
      types,
      diagnostics: diagnosticsHash,
      provenancePieces: provenance.hashes,
    },
    blobs,
    provenance,
  };
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
