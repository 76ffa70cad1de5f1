/**
 * Snapshot manifests: what one committed configuration of one group contains. A manifest lists,
 * per xDS type, every resource by name and content hash, plus a type version derived from that
 * list. Everything in it is a pure function of the folded events, so replaying the same log
 * gives a byte-identical manifest; nothing here comes from a clock, a counter or a process.
 */
import { createHash } from 'node:crypto';
import { canonicalize } from '../xds/encoding.ts';
import type { TypeUrl } from '../xds/type-urls.ts';

export const MANIFEST_SCHEMA = 1;

/** One resource in a snapshot. */
export interface ManifestEntry {
  /** xDS resource name. */
  name: string;
  /**
   * Content hash of the encoded resource ({@link resourceHash}); the resource's store key. For a
   * resource stored in chunks, the hash over its chunks' hashes (resource-chunks.ts).
   */
  hash: string;
  /**
   * Set when the resource is stored in chunks: the hashes of the blobs whose bytes, concatenated
   * in this order, are its encoding (shared/snapshot/resource-chunks.ts). Absent: stored whole
   * under `hash`.
   */
  chunks?: string[];
  /**
   * True for resources served only to clients that ask for them by name, never to wildcard
   * subscribers: the API listeners built for proxyless gRPC clients.
   */
  onDemand?: true;
}

/** All resources of one type in a snapshot. */
export interface TypeManifest {
  /** Content-derived version of this type: identical lists give identical versions on every node. */
  version: string;
  /** Entries sorted by name, names unique. */
  resources: ManifestEntry[];
}

/** One committed snapshot of one group. Immutable once committed. */
export interface Manifest {
  schema: typeof MANIFEST_SCHEMA;
  /** The configuration group (Emissary `ambassador_id`). */
  group: string;
  /**
   * Snapshot version: the sequence of the last event folded into it (its provenance). Strictly
   * increasing per group; the store refuses to commit a version that does not increase.
   */
  version: number;
  /** Resources per type URL; every type Attaché serves is present, possibly empty. */
  types: Partial<Record<TypeUrl, TypeManifest>>;
  /** Hash of the diagnostics blob (per-resource statuses) stored beside the resources. */
  diagnostics: string;
  /**
   * Hash of the provenance as one blob (canonical JSON: the source objects behind every resource,
   * virtual host and route), in manifests written before {@link Manifest.provenancePieces}; absent
   * in newer ones and in those written before provenance existed.
   */
  provenance?: string;
  /**
   * Hashes (sorted) of the provenance's pieces (shared/snapshot/provenance.ts
   * `encodeProvenancePieces`), stored beside the resources: a change rewrites only the pieces it
   * touched. Readers load either form with `loadProvenance`; a reader that knows only `provenance`
   * sees no provenance in a newer manifest.
   */
  provenancePieces?: string[];
}

/**
 * The version of a list of entries: sha256 of `name hash` lines (` d` after an on-demand entry's
 * hash), joined by newlines, shortened. The lines are written into a reused buffer and hashed from
 * there, not joined into one string: at 2,000 ClusterLoadAssignments that string was ~0.2 MB, a
 * large object allocated on every endpoint commit.
 */
export function typeVersion(entries: readonly ManifestEntry[]): string {
  const hash = createHash('sha256');
  let buf = versionScratch;
  let at = 0;
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i] as ManifestEntry;
    // UTF-8 takes at most 3 bytes per UTF-16 unit; 4 for the newline, the space and ' d'.
    const most = 3 * (e.name.length + e.hash.length) + 4;
    if (at + most > buf.length) {
      hash.update(buf.subarray(0, at));
      at = 0;
      if (most > buf.length) buf = Buffer.allocUnsafe(most);
    }
    if (i > 0) buf[at++] = 0x0a;
    at += buf.write(e.name, at, 'utf8');
    buf[at++] = 0x20;
    at += buf.write(e.hash, at, 'utf8');
    if (e.onDemand) at += buf.write(' d', at, 'latin1');
  }
  hash.update(buf.subarray(0, at));
  return hash.digest('hex').slice(0, 16);
}

const versionScratch = Buffer.allocUnsafe(64 * 1024);

/** Builds a {@link TypeManifest}: sorts entries, rejects duplicate names, computes the version. */
export function typeManifest(entries: readonly ManifestEntry[]): TypeManifest {
  const sorted = [...entries].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i]?.name === sorted[i - 1]?.name)
      throw new Error(`duplicate resource name ${sorted[i]?.name}`);
  }
  return { version: typeVersion(sorted), resources: sorted };
}

/** Canonical JSON: keys sorted at every level, no whitespace. Used for manifests and diagnostics. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(canonicalize(value));
}

/**
 * The manifest's canonical JSON, as bytes. Built from per-type pieces that are cached by type
 * manifest object, so the types a commit left unchanged (builds reuse their TypeManifest objects;
 * manifests are immutable) are not serialised again: at 10,000 Mappings that is most of 4,000
 * entries per commit. Equal to `canonicalJson(m)` byte for byte (manifest.test.ts); any shape it
 * does not know falls back to that.
 */
export function encodeManifest(m: Manifest): Uint8Array {
  return Buffer.from(manifestJson(m) ?? canonicalJson(m), 'utf8');
}

const MANIFEST_KEYS = new Set([
  'diagnostics',
  'group',
  'provenance',
  'provenancePieces',
  'schema',
  'types',
  'version',
]);
const typeJsonCache = new WeakMap<TypeManifest, string>();
const piecesJsonCache = new WeakMap<string[], string>();

function manifestJson(m: Manifest): string | undefined {
  if (!Object.keys(m).every((k) => MANIFEST_KEYS.has(k))) return undefined;
  if (typeof m.diagnostics !== 'string' || typeof m.group !== 'string' || typeof m.schema !== 'number')
    return undefined;
  if (typeof m.version !== 'number' || (m.provenance !== undefined && typeof m.provenance !== 'string'))
    return undefined;
  const pieces = m.provenancePieces;
  if (pieces !== undefined && (!Array.isArray(pieces) || pieces.some((h) => typeof h !== 'string')))
    return undefined;
  const types: string[] = [];
  for (const t of Object.keys(m.types).sort()) {
    const tm = m.types[t as TypeUrl];
    if (tm === undefined) continue;
    const json = typeJson(tm);
    if (json === undefined) return undefined;
    types.push(`${JSON.stringify(t)}:${json}`);
  }
  const J = JSON.stringify;
  return (
    `{"diagnostics":${J(m.diagnostics)},"group":${J(m.group)}` +
    (m.provenance !== undefined ? `,"provenance":${J(m.provenance)}` : '') +
    (pieces !== undefined ? `,"provenancePieces":${piecesJson(pieces)}` : '') +
    `,"schema":${J(m.schema)},"types":{${types.join(',')}},"version":${J(m.version)}}`
  );
}

function piecesJson(pieces: string[]): string {
  let json = piecesJsonCache.get(pieces);
  if (json === undefined) {
    json = JSON.stringify(pieces);
    piecesJsonCache.set(pieces, json);
  }
  return json;
}

function typeJson(tm: TypeManifest): string | undefined {
  const cached = typeJsonCache.get(tm);
  if (cached !== undefined) return cached;
  const keys = Object.keys(tm);
  if (keys.length !== 2 || typeof tm.version !== 'string' || !Array.isArray(tm.resources)) return undefined;
  const entries: string[] = [];
  for (const e of tm.resources) {
    const json = entryJson(e);
    if (json === undefined) return undefined;
    entries.push(json);
  }
  const json = `{"resources":[${entries.join(',')}],"version":${JSON.stringify(tm.version)}}`;
  typeJsonCache.set(tm, json);
  return json;
}

/**
 * One entry's canonical JSON (keys sorted: chunks, hash, name, onDemand), or undefined for a shape
 * it does not know.
 */
export function entryJson(e: ManifestEntry): string | undefined {
  const J = JSON.stringify;
  let n = 2;
  if (typeof e.hash !== 'string' || typeof e.name !== 'string') return undefined;
  if (e.onDemand !== undefined) {
    if (e.onDemand !== true) return undefined;
    n++;
  }
  let chunks = '';
  if (e.chunks !== undefined) {
    if (!Array.isArray(e.chunks) || e.chunks.some((c) => typeof c !== 'string')) return undefined;
    chunks = `"chunks":${J(e.chunks)},`;
    n++;
  }
  if (Object.keys(e).length !== n) return undefined;
  return `{${chunks}"hash":${J(e.hash)},"name":${J(e.name)}${e.onDemand ? ',"onDemand":true' : ''}}`;
}

export function decodeManifest(bytes: Uint8Array): Manifest {
  const m = JSON.parse(Buffer.from(bytes).toString('utf8')) as Manifest;
  if (m.schema !== MANIFEST_SCHEMA) throw new Error(`unsupported manifest schema ${String(m.schema)}`);
  return m;
}

/**
 * Every blob hash a manifest references: its resources' (their chunks' for those stored in
 * chunks), its diagnostics' and its provenance's.
 */
export function manifestHashes(m: Manifest): string[] {
  const out = new Set<string>([m.diagnostics]);
  if (m.provenance) out.add(m.provenance);
  for (const h of m.provenancePieces ?? []) out.add(h);
  for (const t of Object.values(m.types))
    for (const e of t?.resources ?? []) {
      if (e.chunks) for (const c of e.chunks) out.add(c);
      else out.add(e.hash);
    }
  return [...out];
}
