/**
 * Builds snapshots by hand for fan-out tests and commits them to a snapshot store, the way the
 * compiler would: encode each resource, hash it, write the blobs, commit a manifest that lists
 * every served type.
 */
import {
  MANIFEST_SCHEMA,
  type Manifest,
  type ManifestEntry,
  typeManifest,
} from '../../../shared/snapshot/manifest.ts';
import { chunkedResourceHash } from '../../../shared/snapshot/resource-chunks.ts';
import type { SnapshotStore } from '../../../shared/snapshot/snapshot-store.ts';
import { encodeMessage, resourceHash, sha256Hex } from '../../../shared/xds/encoding.ts';
import {
  CLUSTER_TYPE,
  ENDPOINT_TYPE,
  LISTENER_TYPE,
  messageNameOf,
  ROUTE_TYPE,
  SECRET_TYPE,
  type TypeUrl,
} from '../../../shared/xds/type-urls.ts';

export interface TestResource {
  typeUrl: TypeUrl;
  name: string;
  /** The resource as a plain object with proto field names. */
  message: object;
  onDemand?: boolean;
  /**
   * Store it in chunks of this many bytes (shared/snapshot/resource-chunks.ts; the last one may
   * be shorter), as the compiler stores large route configurations.
   */
  chunkBytes?: number;
}

const SERVED_TYPES: readonly TypeUrl[] = [
  LISTENER_TYPE,
  ROUTE_TYPE,
  CLUSTER_TYPE,
  ENDPOINT_TYPE,
  SECRET_TYPE,
];

/** Encodes the resources into a manifest plus the blobs it references. */
export function buildSnapshot(
  group: string,
  version: number,
  resources: readonly TestResource[],
): { manifest: Manifest; blobs: Map<string, Uint8Array> } {
  const blobs = new Map<string, Uint8Array>();
  const entries = new Map<TypeUrl, ManifestEntry[]>(SERVED_TYPES.map((t) => [t, []]));
  for (const r of resources) {
    const bytes = encodeMessage(messageNameOf(r.typeUrl), r.message);
    let hash: string;
    let chunks: string[] | undefined;
    if (r.chunkBytes) {
      chunks = [];
      for (let o = 0; o < bytes.length; o += r.chunkBytes) {
        const chunk = bytes.subarray(o, o + r.chunkBytes);
        chunks.push(sha256Hex(chunk));
        blobs.set(sha256Hex(chunk), chunk);
      }
      hash = chunkedResourceHash(r.typeUrl, chunks);
    } else {
      hash = resourceHash(r.typeUrl, bytes);
      blobs.set(hash, bytes);
    }
    const list = entries.get(r.typeUrl) ?? [];
    list.push({
      name: r.name,
      hash,
      ...(chunks ? { chunks } : {}),
      ...(r.onDemand ? { onDemand: true as const } : {}),
    });
    entries.set(r.typeUrl, list);
  }
  const diagnostics = Buffer.from('[]');
  const diagnosticsHash = sha256Hex(diagnostics);
  blobs.set(diagnosticsHash, diagnostics);
  const manifest: Manifest = {
    schema: MANIFEST_SCHEMA,
    group,
    version,
    types: Object.fromEntries([...entries].map(([t, list]) => [t, typeManifest(list)])),
    diagnostics: diagnosticsHash,
  };
  return { manifest, blobs };
}

/** Commits snapshots of one group, holding the fencing epoch like a compiler leader would. */
export class TestCommitter {
  private epoch?: number;

  constructor(
    private readonly store: SnapshotStore,
    readonly group: string,
  ) {}

  async commit(version: number, resources: readonly TestResource[]): Promise<Manifest> {
    this.epoch ??= await this.store.acquireEpoch(this.group);
    const { manifest, blobs } = buildSnapshot(this.group, version, resources);
    const result = await this.store.commit({ epoch: this.epoch, manifest, blobs });
    if (!result.committed) throw new Error(`commit of ${this.group}@${version} refused: ${result.reason}`);
    return manifest;
  }
}
