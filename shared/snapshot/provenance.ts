/**
 * The provenance blob of a snapshot (canonical JSON, content-addressed, named by the manifest's
 * `provenance` hash): which source objects produced each resource, virtual host and route. The
 * compiler writes it (services/compiler/provenance.ts); the fan-out reads it to name the objects
 * behind a NACK, and the debugging tools to explain routes.
 */
import type { TypeUrl } from '../xds/type-urls.ts';
import { canonicalJson } from './manifest.ts';

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

/**
 * The provenance blob: `canonicalJson(p)` as UTF-8 bytes, byte for byte, built from pieces cached
 * by object: a compiler that changed a few objects reuses every other object's entry and every
 * unchanged route configuration's maps (the incremental compiler keeps them as the same objects),
 * so a commit does not serialise megabytes again (10,000 Mappings: ~4 MB, ~100 ms). Any shape it
 * does not know falls back to `canonicalJson`.
 */
export function encodeProvenance(p: Provenance): Uint8Array {
  const keys = Object.keys(p);
  if (keys.length !== 4 || !PROVENANCE_KEYS.every((k) => k in p))
    return Buffer.from(canonicalJson(p), 'utf8');
  const parts: Buffer[] = [OPEN];
  PROVENANCE_KEYS.forEach((key, i) => {
    if (i > 0) parts.push(COMMA);
    parts.push(Buffer.from(`${JSON.stringify(key)}:`, 'utf8'));
    parts.push(sectionBytes(key, p[key] as Record<string, object>));
  });
  parts.push(CLOSE);
  return Buffer.concat(parts);
}

/**
 * One top-level map as `{"name":value,…}`. The last one built per section is kept with where each
 * entry starts: a map with the same keys and a few other values (one changed object among 10,000)
 * is that buffer with those entries replaced, not 10,000 pieces joined again.
 */
function sectionBytes(section: string, map: Record<string, object>): Buffer {
  const names = sortedKeys(map);
  const last = sections.get(section);
  if (last && last.names === names) {
    const changed: number[] = [];
    for (let i = 0; i < names.length; i++) {
      if (last.values[i] !== map[names[i] as string]) {
        changed.push(i);
        if (changed.length > 64) break;
      }
    }
    if (changed.length === 0) return last.bytes;
    if (changed.length <= 64) {
      const parts: Buffer[] = [];
      const values = [...last.values];
      let from = 0;
      for (const i of changed) {
        const name = names[i] as string;
        parts.push(last.bytes.subarray(from, last.starts[i]), entryBytes(name, map[name] as object));
        from = (last.starts[i + 1] ?? last.bytes.length - 1) - (i + 1 < names.length ? 1 : 0);
        values[i] = map[name] as object;
      }
      parts.push(last.bytes.subarray(from));
      return remember(section, names, values, Buffer.concat(parts));
    }
  }
  const parts: Buffer[] = [OPEN];
  const values: object[] = [];
  names.forEach((name, j) => {
    if (j > 0) parts.push(COMMA);
    const value = map[name] as object;
    values.push(value);
    parts.push(entryBytes(name, value));
  });
  parts.push(CLOSE);
  return remember(section, names, values, Buffer.concat(parts));
}

/** Keeps a section's bytes with each entry's start (after `{` or `,`), found by scanning entry lengths. */
function remember(section: string, names: string[], values: object[], bytes: Buffer): Buffer {
  const starts: number[] = [];
  let at = 1;
  names.forEach((name, i) => {
    starts.push(at);
    at += entryBytes(name, values[i] as object).length + 1;
  });
  sections.set(section, { names, values, bytes, starts });
  return bytes;
}

const PROVENANCE_KEYS = ['objects', 'resources', 'routes', 'virtualHosts'] as const;
const OPEN = Buffer.from('{');
const CLOSE = Buffer.from('}');
const COMMA = Buffer.from(',');
/** `"name":<canonical JSON of value>` by value object (values are never mutated once built). */
const entries = new WeakMap<object, { name: string; bytes: Buffer }>();
/** The last map built per top-level key (see sectionBytes). */
const sections = new Map<string, { names: string[]; values: object[]; bytes: Buffer; starts: number[] }>();
/** The sorted keys of the last map of each size seen, reused when a new map has the same keys. */
const lastKeys = new Map<number, string[]>();

function entryBytes(name: string, value: object): Buffer {
  const hit = entries.get(value);
  if (hit && hit.name === name) return hit.bytes;
  const bytes = Buffer.from(`${JSON.stringify(name)}:${canonicalJson(value)}`, 'utf8');
  if (typeof value === 'object' && value !== null) entries.set(value, { name, bytes });
  return bytes;
}

function sortedKeys(map: Record<string, unknown>): string[] {
  const own = Object.keys(map);
  const last = lastKeys.get(own.length);
  // n distinct keys all present, with values, in a map of n own keys: the same keys.
  if (last?.every((k) => map[k] !== undefined && Object.hasOwn(map, k))) return last;
  const sorted = own.filter((k) => map[k] !== undefined).sort();
  if (own.length > 64 && sorted.length === own.length) {
    if (lastKeys.size >= 16) lastKeys.clear(); // bounded: a growing map has a new size each time
    lastKeys.set(own.length, sorted);
  }
  return sorted;
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
