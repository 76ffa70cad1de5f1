/**
 * The provenance blob of a snapshot (canonical JSON, content-addressed, named by the manifest's
 * `provenance` hash): which source objects produced each resource, virtual host and route. The
 * compiler writes it (services/compiler/provenance.ts); the fan-out reads it to name the objects
 * behind a NACK, and the debugging tools to explain routes.
 */
import type { TypeUrl } from '../xds/type-urls.ts';

/** A source object as provenance names it. */
export interface ProvenanceObject {
  cluster: string;
  kind: string;
  namespace: string;
  name: string;
  /** The source's resourceVersion (absent for endpoint kinds, see above). */
  resourceVersion?: string;
  /** Event sequence that last changed the object (absent for endpoint kinds). */
  seq?: number;
  /** YAML file and document index, for objects read from a directory. */
  file?: string;
  document?: number;
}

/** Source objects behind one group's compiled output. All maps are sorted by key. */
export interface Provenance {
  /** Objects by id (`cluster/kind/namespace/name`, {@link objectId}). */
  objects: Record<string, ProvenanceObject>;
  /** Per type URL, per resource name: ids of the objects behind the resource, sorted. */
  resources: Record<string, Record<string, string[]>>;
  /** Per RouteConfiguration, per virtual host name: ids behind the virtual host itself (its Host). */
  virtualHosts: Record<string, Record<string, string[]>>;
  /** Per RouteConfiguration, per virtual host name, per route index: ids of the Mappings behind it. */
  routes: Record<string, Record<string, string[][]>>;
}

/** The id provenance uses for an object: the world-state key. */
export function objectId(s: Pick<ProvenanceObject, 'cluster' | 'kind' | 'namespace' | 'name'>): string {
  return `${s.cluster}/${s.kind}/${s.namespace}/${s.name}`;
}

/** Decodes a provenance blob. */
export function decodeProvenance(bytes: Uint8Array): Provenance {
  return JSON.parse(Buffer.from(bytes).toString('utf8')) as Provenance;
}

/** The source objects behind one resource, or none when the provenance does not know it. */
export function sourcesOf(p: Provenance, typeUrl: TypeUrl | string, name: string): ProvenanceObject[] {
  return (p.resources[typeUrl]?.[name] ?? []).flatMap((id) => {
    const o = p.objects[id];
    return o ? [o] : [];
  });
}
