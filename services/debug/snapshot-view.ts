/**
 * One group's snapshot as the debugging tools see it: every resource decoded to proto-field JSON,
 * its diagnostics and its provenance. Built from a compile (replay, plan, bisect) or from what the
 * store committed (admin API, page); both give the same view for the same version.
 */

import { isSealed } from '../../shared/runtime/secret-keys.ts';
import { decodeManifest, encodeManifest, type Manifest } from '../../shared/snapshot/manifest.ts';
import { loadProvenance, type Provenance } from '../../shared/snapshot/provenance.ts';
import { loadResources } from '../../shared/snapshot/resource-chunks.ts';
import type { SnapshotStore } from '../../shared/snapshot/snapshot-store.ts';
import { decodeResource } from '../../shared/xds/encoding.ts';
import type { TypeUrl } from '../../shared/xds/type-urls.ts';
import type { CompileResult, Diagnostic } from '../compiler/contracts.ts';
import { buildSnapshot } from '../compiler/runner-snapshot.ts';

export interface ViewResource {
  typeUrl: TypeUrl;
  name: string;
  hash: string;
  /** The resource as proto-field-name JSON (`decodeResource`). */
  json: Record<string, unknown>;
}

export interface SnapshotView {
  group: string;
  version: number;
  manifest: Manifest;
  /** Sorted by (type URL, name). */
  resources: ViewResource[];
  diagnostics: Diagnostic[];
  provenance: Provenance;
}

const EMPTY_PROVENANCE: Provenance = { objects: {}, resources: {}, virtualHosts: {}, routes: {} };

export function viewOfCompile(group: string, version: number, result: CompileResult): SnapshotView {
  const { manifest } = buildSnapshot(group, version, result);
  return {
    group,
    version,
    manifest,
    resources: result.resources.map((r) => ({
      typeUrl: r.typeUrl,
      name: r.name,
      hash: r.hash,
      json: decodeResource(r.typeUrl, r.bytes),
    })),
    diagnostics: result.diagnostics,
    provenance: result.provenance,
  };
}

/** The committed snapshot (group, version), or null when the store no longer holds it. */
export async function viewOfStore(
  store: Pick<SnapshotStore, 'getManifest' | 'getBlobs'>,
  group: string,
  version: number,
): Promise<SnapshotView | null> {
  const manifest = await store.getManifest(group, version);
  if (!manifest) return null;
  const entries = Object.entries(manifest.types).flatMap(([typeUrl, t]) =>
    (t?.resources ?? []).map((e) => ({ typeUrl: typeUrl as TypeUrl, name: e.name, hash: e.hash })),
  );
  const listed = Object.values(manifest.types).flatMap((t) => t?.resources ?? []);
  const [blobs, diagnostics, provenance] = await Promise.all([
    loadResources(listed, (hashes) => store.getBlobs(hashes)),
    store.getBlobs([manifest.diagnostics]),
    loadProvenance(manifest, (hashes) => store.getBlobs(hashes)),
  ]);
  const diagnosticsBlob = diagnostics.get(manifest.diagnostics);
  return {
    group,
    version,
    manifest: decodeManifest(encodeManifest(manifest)),
    resources: entries
      .flatMap((e) => {
        const bytes = blobs.get(e.hash);
        if (!bytes) return [];
        // SDS blobs sealed at rest stay sealed here: the debugging views never need key material.
        const json = isSealed(bytes) ? { sealed: 'encrypted at rest' } : decodeResource(e.typeUrl, bytes);
        return [{ ...e, json }];
      })
      .sort((a, b) => cmp(a.typeUrl, b.typeUrl) || cmp(a.name, b.name)),
    diagnostics: diagnosticsBlob
      ? (JSON.parse(Buffer.from(diagnosticsBlob).toString('utf8')) as Diagnostic[])
      : [],
    provenance: provenance ?? EMPTY_PROVENANCE,
  };
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
