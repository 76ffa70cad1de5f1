/**
 * Names the source objects behind the resources a node rejected, from the provenance of the
 * snapshot the fan-out serves (the manifest names its blobs). One provenance is kept per group, so
 * a burst of NACKs against the same snapshot reads Redis once. A lookup failure yields no sources: a NACK is
 * always reported, with or without them.
 */

import { errorMessage } from '../../../shared/runtime/errors.ts';
import type { Logger } from '../../../shared/runtime/logger.ts';
import {
  loadProvenance,
  type Provenance,
  type ProvenanceObject,
  sourcesOf,
} from '../../../shared/snapshot/provenance.ts';
import type { SnapshotStore } from '../../../shared/snapshot/snapshot-store.ts';

/** One rejected resource and the objects that produced it. */
export interface RejectedResource {
  resource: string;
  objects: ProvenanceObject[];
}

export class NackSources {
  private readonly cached = new Map<string, { version: number; provenance: Provenance | null }>();

  constructor(
    private readonly store: Pick<SnapshotStore, 'getManifest' | 'getBlobs'>,
    private readonly log: Logger,
  ) {}

  /** The objects behind `names` of `typeUrl` in the group's snapshot `version`. */
  async lookup(
    group: string,
    version: number,
    typeUrl: string,
    names: readonly string[],
  ): Promise<RejectedResource[]> {
    const provenance = await this.provenance(group, version);
    if (!provenance) return [];
    return names.map((resource) => ({ resource, objects: sourcesOf(provenance, typeUrl, resource) }));
  }

  private async provenance(group: string, version: number): Promise<Provenance | null> {
    const hit = this.cached.get(group);
    if (hit?.version === version) return hit.provenance;
    let provenance: Provenance | null = null;
    try {
      const manifest = await this.store.getManifest(group, version);
      if (manifest) provenance = await loadProvenance(manifest, (hashes) => this.store.getBlobs(hashes));
    } catch (err) {
      this.log.warn({ group, version, err: errorMessage(err) }, 'cannot read provenance for a NACK');
      return null;
    }
    this.cached.set(group, { version, provenance });
    return provenance;
  }
}

/** The FleetReporter's `nackSources`: the version a cache serves, and lookups in its store. */
export function nackSourcesFor(
  cache: { current(group: string): { version: number } | undefined },
  store: Pick<SnapshotStore, 'getManifest' | 'getBlobs'>,
  log: Logger,
) {
  const sources = new NackSources(store, log);
  return {
    version: (group: string) => cache.current(group)?.version,
    lookup: sources.lookup.bind(sources),
  };
}
