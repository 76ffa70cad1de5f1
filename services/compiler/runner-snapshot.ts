/**
 * Turns a compile result into what the snapshot store commits: the manifest (resources by type,
 * content-derived type versions, the diagnostics and provenance blob hashes) and the blobs it
 * references. Both side blobs are canonical JSON of pure compile output, so replay rebuilds them
 * byte for byte.
 */
import {
  canonicalJson,
  MANIFEST_SCHEMA,
  type Manifest,
  typeManifest,
} from '../../shared/snapshot/manifest.ts';
import { sha256Hex } from '../../shared/xds/encoding.ts';
import {
  CLUSTER_TYPE,
  ENDPOINT_TYPE,
  LISTENER_TYPE,
  ROUTE_TYPE,
  SECRET_TYPE,
  type TypeUrl,
} from '../../shared/xds/type-urls.ts';
import type { CompileResult } from './compile.ts';

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
}

export function buildSnapshot(group: string, version: number, result: CompileResult): BuiltSnapshot {
  const blobs = new Map<string, Uint8Array>();
  const byType = new Map<TypeUrl, { name: string; hash: string; onDemand?: true }[]>();
  for (const t of SERVED_TYPES) byType.set(t, []);
  for (const r of result.resources) {
    blobs.set(r.hash, r.bytes);
    let list = byType.get(r.typeUrl);
    if (!list) {
      list = [];
      byType.set(r.typeUrl, list);
    }
    list.push(r.onDemand ? { name: r.name, hash: r.hash, onDemand: true } : { name: r.name, hash: r.hash });
  }
  const diagnostics = Buffer.from(canonicalJson(result.diagnostics), 'utf8');
  const diagnosticsHash = sha256Hex(diagnostics);
  blobs.set(diagnosticsHash, diagnostics);
  const provenance = Buffer.from(canonicalJson(result.provenance), 'utf8');
  const provenanceHash = sha256Hex(provenance);
  blobs.set(provenanceHash, provenance);
  const types: Manifest['types'] = {};
  for (const [t, entries] of [...byType.entries()].sort(([a], [b]) => (a < b ? -1 : 1))) {
    types[t] = typeManifest(entries);
  }
  return {
    manifest: {
      schema: MANIFEST_SCHEMA,
      group,
      version,
      types,
      diagnostics: diagnosticsHash,
      provenance: provenanceHash,
    },
    blobs,
  };
}
