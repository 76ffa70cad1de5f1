/**
 * The provenance of a snapshot: which source objects produced each resource, virtual host and
 * route. The compiler builds it (services/compiler/provenance.ts) and stores it beside the
 * resources as content-addressed pieces named by the manifest's `provenancePieces` (manifests
 * written before pieces name one canonical JSON blob in `provenance`; {@link loadProvenance} reads
 * both); the fan-out reads it to name the objects behind a NACK, and the debugging tools to
 * explain routes.
 */

import { sortedIndexOf } from '../runtime/sorted.ts';
import { sha256Hex } from '../xds/encoding.ts';
import type { TypeUrl } from '../xds/type-urls.ts';
import { canonicalJson, type Manifest } from './manifest.ts';

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
 * A provenance as the snapshot stores it (the manifest's `provenancePieces`): content-addressed
 * pieces, each the canonical JSON of a part of the provenance with the same four top-level keys,
 * e.g. `{"objects":{"<id>":{…},…}}` or `{"routes":{"<route config>":{"<virtual host>":[[…]]}}}`.
 * Merging every piece gives the provenance back ({@link decodeProvenancePieces}).
 *
 * Why pieces: at 10,000 Mappings the provenance is ~5 MB, and a one-Mapping change alters one
 * object's entry (its sequence and resourceVersion); as one blob, every commit wrote all of it.
 * Split, a commit writes the pieces it changed and the store skips the others by hash.
 *
 * The split is a pure function of the provenance (replay rebuilds the same pieces, hence the same
 * manifest). Sections are `objects`, `virtualHosts`, each type of `resources` and each route
 * configuration of `routes`; a section's entries (units) go to buckets by an FNV-1a hash of their
 * key, with a power-of-two bucket count for ~{@link PIECE_BYTES} per bucket, so a changed entry
 * changes one piece and an added or deleted one changes one piece, until the section's size
 * crosses a power of two. An empty section is one piece holding its empty map.
 */
export interface ProvenancePieces {
  /** Hashes of every piece, sorted: the manifest's `provenancePieces`. */
  hashes: string[];
  /** Piece bytes by hash. */
  blobs: Map<string, Uint8Array>;
  /** What the encoding reuses when the next provenance of the same group is split. */
  sections: Map<string, SectionPieces>;
  /** The provenance these pieces are the split of. */
  source?: Provenance;
}

/**
 * Provenances known to differ from another only in some `objects` entries (the Mapping fast path
 * replaces the changed objects' entries and keeps every other map): their split patches those
 * entries' buckets instead of walking every section.
 */
const deltas = new WeakMap<Provenance, { base: Provenance; objects: readonly string[] }>();

/**
 * Records that `next` is `base` with only the `objects` entries `ids` replaced: its other maps are
 * `base`'s, unchanged. A split of `next` given the split of `base` then re-encodes only what those
 * entries touch; the pieces are the same as a split from scratch.
 */
export function noteObjectsChanged(next: Provenance, base: Provenance, ids: readonly string[]): void {
  deltas.set(next, { base, objects: ids });
}

/** Aimed-at size of one piece; a section under it is one piece. */
export const PIECE_BYTES = 16 * 1024;

/** One section's split, kept so that the next split reuses its unchanged buckets. */
interface SectionPieces {
  /** The map split (its keys never change; see encodeProvenancePieces). */
  map: object;
  /** The section's keys, sorted, and their values. */
  names: string[];
  values: object[];
  /** `"name":<canonical JSON of value>` per entry. */
  units: Buffer[];
  /** Per bucket, the positions (in `names`) of its entries, ascending. */
  members: number[][];
  buckets: number;
  pieces: ({ hash: string; bytes: Buffer } | undefined)[];
  /** Bytes of the units and their separators, which decide the bucket count. */
  total: number;
}

/**
 * Splits `p` into pieces. `previous`, the split of an earlier provenance of the same group, only
 * saves work: entries whose value is the very same object as there keep their bytes, and buckets
 * whose entries all stayed keep their piece and hash. Contract for the provenance's builders:
 * entry values are never mutated once built, and a map never gains or loses keys once built —
 * it may have values replaced in place (the Mapping fast path updates changed objects' entries
 * so), which a split from the same map object sees.
 */
export function encodeProvenancePieces(p: Provenance, previous?: ProvenancePieces): ProvenancePieces {
  const out: ProvenancePieces = { hashes: [], blobs: new Map(), sections: new Map(), source: p };
  const delta = deltas.get(p);
  const patch = delta && previous?.source === delta.base ? delta.objects : undefined;
  const section = (path: readonly string[], map: Record<string, object>) => {
    const id = JSON.stringify(path);
    const last = previous?.sections.get(id);
    let state: SectionPieces | undefined;
    if (patch && last?.map === map) {
      if (path.length === 1 && path[0] === 'objects') state = patchSection(path, map, last, patch);
      else state = last;
    }
    state ??= splitSection(path, map, last);
    out.sections.set(id, state);
    for (const piece of state.pieces) {
      if (!piece) continue;
      out.blobs.set(piece.hash, piece.bytes);
      out.hashes.push(piece.hash);
    }
  };
  section(['objects'], p.objects);
  section(['virtualHosts'], p.virtualHosts);
  for (const t of sortedKeys(p.resources))
    section(['resources', t], p.resources[t] as Record<string, object>);
  for (const rc of sortedKeys(p.routes)) section(['routes', rc], p.routes[rc] as Record<string, object>);
  out.hashes.sort();
  return out;
}

function splitSection(
  path: readonly string[],
  map: Record<string, object>,
  last: SectionPieces | undefined,
): SectionPieces {
  // The same map object has the same keys (the contract above): enumerating 14,000 keys to check
  // costs more than everything else a one-Mapping commit does here.
  const names = last && (last.map === map || sameKeys(last.names, map)) ? last.names : sortedKeys(map);
  const values = names.map((n) => map[n] as object);
  const same = last?.names === names ? last : undefined;
  const units = names.map((n, i) =>
    same && same.values[i] === values[i] ? (same.units[i] as Buffer) : unitBytes(n, values[i] as object),
  );
  let total = 0;
  for (const u of units) total += u.length + 1;
  let buckets = 1;
  while (buckets * PIECE_BYTES < total) buckets *= 2;
  const sameSplit = last !== undefined && last.buckets === buckets;
  let members: number[][];
  if (sameSplit && last.names === names) members = last.members;
  else {
    members = Array.from({ length: buckets }, () => []);
    names.forEach((n, i) => {
      members[fnv1a(n) & (buckets - 1)]?.push(i);
    });
  }
  const pieces: SectionPieces['pieces'] = [];
  for (let b = 0; b < buckets; b++) {
    const at = members[b] as number[];
    if (sameSplit && sameBucket(last, last.members[b] as number[], names, values, at)) {
      pieces.push(last.pieces[b]);
      continue;
    }
    pieces.push(piece(path, units, at, names.length, b));
  }
  return { map, names, values, units, members, buckets, pieces, total };
}

/**
 * `last` with the entries `keys` of `map` (the same map, same keys) re-read, and only their
 * buckets' pieces built again; undefined when that would change the bucket count or a key is
 * not there (the caller splits from scratch).
 */
function patchSection(
  path: readonly string[],
  map: Record<string, object>,
  last: SectionPieces,
  keys: readonly string[],
): SectionPieces | undefined {
  const values = last.values.slice();
  const units = last.units.slice();
  let total = last.total;
  const touched = new Set<number>();
  for (const key of keys) {
    const i = sortedIndexOf(last.names, key);
    const value = map[key];
    if (i < 0 || value === undefined) return undefined;
    const unit = values[i] === value ? (units[i] as Buffer) : unitBytes(key, value);
    total += unit.length - (units[i] as Buffer).length;
    values[i] = value;
    units[i] = unit;
    touched.add(fnv1a(key) & (last.buckets - 1));
  }
  let buckets = 1;
  while (buckets * PIECE_BYTES < total) buckets *= 2;
  if (buckets !== last.buckets) return undefined;
  const pieces = last.pieces.slice();
  for (const b of touched) pieces[b] = piece(path, units, last.members[b] as number[], last.names.length, b);
  return { map, names: last.names, values, units, members: last.members, buckets, pieces, total };
}

/** One bucket's piece: the section's wrapper around its units, or none for an empty bucket. */
function piece(
  path: readonly string[],
  units: readonly Buffer[],
  at: readonly number[],
  entries: number,
  bucket: number,
): { hash: string; bytes: Buffer } | undefined {
  // An empty section is one piece (its empty map); an empty bucket of a full one is none.
  if (at.length === 0 && (entries > 0 || bucket > 0)) return undefined;
  const parts: Buffer[] = [Buffer.from(`{${path.map((k) => `${JSON.stringify(k)}:{`).join('')}`, 'utf8')];
  at.forEach((i, j) => {
    if (j > 0) parts.push(COMMA);
    parts.push(units[i] as Buffer);
  });
  parts.push(Buffer.from('}'.repeat(path.length + 1), 'utf8'));
  const bytes = Buffer.concat(parts);
  return { hash: sha256Hex(bytes), bytes };
}

/** Whether a bucket holds the same entries (names and value objects) as the last split's. */
function sameBucket(
  last: SectionPieces,
  was: readonly number[],
  names: readonly string[],
  values: readonly object[],
  is: readonly number[],
): boolean {
  if (was.length !== is.length) return false;
  for (let j = 0; j < is.length; j++) {
    const a = was[j] as number;
    const b = is[j] as number;
    if (last.values[a] !== values[b] || last.names[a] !== names[b]) return false;
  }
  return true;
}

/** Reassembles a provenance from all of its pieces (any order), its maps in sorted key order. */
export function decodeProvenancePieces(pieces: Iterable<Uint8Array>): Provenance {
  const merged: Provenance = { objects: {}, resources: {}, virtualHosts: {}, routes: {} };
  for (const bytes of pieces) {
    const piece = JSON.parse(Buffer.from(bytes).toString('utf8')) as Partial<Provenance>;
    Object.assign(merged.objects, piece.objects);
    Object.assign(merged.virtualHosts, piece.virtualHosts);
    for (const key of ['resources', 'routes'] as const) {
      const into = merged[key] as Record<string, Record<string, unknown>>;
      for (const [name, entries] of Object.entries(piece[key] ?? {}))
        into[name] = Object.assign(into[name] ?? {}, entries);
    }
  }
  const sorted = <T>(m: Record<string, T>, inner?: (v: T) => T): Record<string, T> => {
    const out: Record<string, T> = {};
    for (const k of Object.keys(m).sort()) out[k] = inner ? inner(m[k] as T) : (m[k] as T);
    return out;
  };
  return {
    objects: sorted(merged.objects),
    resources: sorted(merged.resources, (m) => sorted(m)),
    routes: sorted(merged.routes, (m) => sorted(m)),
    virtualHosts: sorted(merged.virtualHosts),
  };
}

/**
 * The provenance a manifest names: its pieces (format 2), or the single blob that manifests
 * before pieces name in `provenance`; null when it names none or the store lacks a blob.
 */
export async function loadProvenance(
  manifest: Pick<Manifest, 'provenance' | 'provenancePieces'>,
  getBlobs: (hashes: readonly string[]) => Promise<Map<string, Uint8Array>>,
): Promise<Provenance | null> {
  if (manifest.provenancePieces) {
    const blobs = await getBlobs(manifest.provenancePieces);
    if (manifest.provenancePieces.some((h) => !blobs.has(h))) return null;
    return decodeProvenancePieces(blobs.values());
  }
  if (!manifest.provenance) return null;
  const blob = (await getBlobs([manifest.provenance])).get(manifest.provenance);
  return blob ? decodeProvenance(blob) : null;
}

const COMMA = Buffer.from(',');
/** `"name":<canonical JSON of value>` by value object (values are never mutated once built). */
const units = new WeakMap<object, { name: string; bytes: Buffer }>();

function unitBytes(name: string, value: object): Buffer {
  const hit = units.get(value);
  if (hit && hit.name === name) return hit.bytes;
  const bytes = Buffer.from(`${JSON.stringify(name)}:${canonicalJson(value)}`, 'utf8');
  units.set(value, { name, bytes });
  return bytes;
}

/** Whether `map` has exactly the (sorted, distinct) keys `names`, each with a value. */
function sameKeys(names: readonly string[], map: Record<string, unknown>): boolean {
  let n = 0;
  for (const k in map) if (map[k] !== undefined) n++;
  return n === names.length && names.every((k) => map[k] !== undefined && Object.hasOwn(map, k));
}

/** Keys with a value, sorted as canonical JSON sorts them. */
function sortedKeys(map: Record<string, unknown>): string[] {
  return Object.keys(map)
    .filter((k) => map[k] !== undefined)
    .sort();
}

/** FNV-1a over UTF-16 code units: a stable bucket for a key, the same in every process. */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Decodes a single-blob provenance (manifests written before pieces: their `provenance` hash). */
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
