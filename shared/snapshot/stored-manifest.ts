/**
 * How the Redis snapshot store keeps a manifest: its type lists split into content-addressed
 * pieces, so a commit that changed a few resources writes a few small pieces and a manifest of
 * kilobytes, not the ~0.5 MB of every (name, hash) at 10,000 Mappings.
 *
 * The stored form is the manifest's canonical JSON with `schema` 2 and each type's `resources`
 * replaced by `pieces`: the hashes of blobs (`<p>blob:<hash>`, beside the resources) that each
 * hold the canonical JSON array of a run of the type's entries, in order. Readers get the
 * manifest back exactly ({@link assembleManifest}); manifests stored whole (schema 1, written
 * before) are read as they are. A reader that knows only schema 1 refuses a stored form with
 * "unsupported manifest schema 2" rather than misreading it.
 *
 * The split is a pure function of the entries: a piece ends after an entry whose name's FNV-1a
 * hash has its low {@link BOUNDARY_BITS} bits set (or after {@link MAX_PIECE} entries), so a
 * changed hash changes one piece and an added or deleted entry one or two, wherever it sorts.
 */
import { sha256Hex } from '../xds/encoding.ts';
import type { TypeUrl } from '../xds/type-urls.ts';
import type { Manifest, ManifestEntry, TypeManifest } from './manifest.ts';
import { canonicalJson, entryJson, MANIFEST_SCHEMA } from './manifest.ts';

export const STORED_MANIFEST_SCHEMA = 2;
/** ~32 entries (~3.5 KB) per piece on average. */
const BOUNDARY_BITS = 5;
const MAX_PIECE = 256;

/** One stored piece: its hash (blob key) and bytes. */
export interface ManifestPiece {
  hash: string;
  bytes: Uint8Array;
  entries: readonly ManifestEntry[];
}

/** A manifest as stored: everything but the type lists, which are piece hashes. */
export interface StoredManifest extends Omit<Manifest, 'schema' | 'types'> {
  schema: typeof STORED_MANIFEST_SCHEMA;
  types: Partial<Record<TypeUrl, { version: string; pieces: string[] }>>;
}

const piecesOf = new WeakMap<TypeManifest, ManifestPiece[]>();

/**
 * The pieces of one type's entries. Cached by type manifest (builds reuse unchanged ones); for a
 * changed one, a piece whose entries are those of a piece of `previous` (same names and hashes)
 * reuses its bytes and hash. When the entries have the names of `previous`'s, position by position
 * (a build that replaced a few resources), the runs are `previous`'s pieces' and a run whose
 * entries are the very same objects is reused without being read again: only the pieces of
 * replaced entries are built.
 */
export function typePieces(tm: TypeManifest, previous?: TypeManifest): ManifestPiece[] {
  const cached = piecesOf.get(tm);
  if (cached) return cached;
  const old = previous ? piecesOf.get(previous) : undefined;
  const out =
    (old && previous && sameRuns(tm.resources, previous.resources, old)) ?? split(tm.resources, old);
  piecesOf.set(tm, out);
  return out;
}

/**
 * `old` (the pieces of `was`) with the pieces whose entries changed built again, when `entries`
 * has `was`'s names at every position (then every run ends where it ended); else undefined.
 */
function sameRuns(
  entries: readonly ManifestEntry[],
  was: readonly ManifestEntry[],
  old: readonly ManifestPiece[],
): ManifestPiece[] | undefined {
  if (entries.length !== was.length) return undefined;
  const out: ManifestPiece[] = [];
  let start = 0;
  for (const p of old) {
    const end = start + p.entries.length;
    let same = true;
    for (let i = start; i < end; i++) {
      const e = entries[i] as ManifestEntry;
      const w = was[i] as ManifestEntry;
      if (e === w) continue;
      if (e.name !== w.name) return undefined;
      if (e.hash !== w.hash || e.onDemand !== w.onDemand) same = false;
    }
    out.push(same ? p : piece(entries.slice(start, end)));
    start = end;
  }
  return start === entries.length ? out : undefined;
}

/** Cuts `entries` into runs ({@link isBoundary}); a run equal to a piece of `old` reuses it. */
function split(
  entries: readonly ManifestEntry[],
  old: readonly ManifestPiece[] | undefined,
): ManifestPiece[] {
  const byFirst = new Map<string, ManifestPiece>();
  for (const p of old ?? []) byFirst.set((p.entries[0] as ManifestEntry).name, p);
  const out: ManifestPiece[] = [];
  let start = 0;
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i] as ManifestEntry;
    if (i + 1 < entries.length && i + 1 - start < MAX_PIECE && !isBoundary(e.name)) continue;
    const run = entries.slice(start, i + 1);
    const reuse = byFirst.get((run[0] as ManifestEntry).name);
    out.push(reuse && sameEntries(reuse.entries, run) ? reuse : piece(run));
    start = i + 1;
  }
  return out;
}

function piece(entries: readonly ManifestEntry[]): ManifestPiece {
  const parts: string[] = [];
  for (const e of entries) parts.push(entryJson(e) ?? canonicalJson(e));
  const bytes = Buffer.from(`[${parts.join(',')}]`, 'utf8');
  return { hash: sha256Hex(bytes), bytes, entries };
}

function sameEntries(a: readonly ManifestEntry[], b: readonly ManifestEntry[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as ManifestEntry;
    const y = b[i] as ManifestEntry;
    // The hash covers the chunk list (resource-chunks.ts), so equal hashes mean equal chunks.
    if (x.name !== y.name || x.hash !== y.hash || x.onDemand !== y.onDemand) return false;
  }
  return true;
}

function isBoundary(name: string): boolean {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h & ((1 << BOUNDARY_BITS) - 1)) === (1 << BOUNDARY_BITS) - 1;
}

/**
 * The stored form of `m` and its pieces (every piece it names). `previous` is the manifest stored
 * before for the same group, if any: its pieces are reused where the entries are the same.
 */
export function splitManifest(
  m: Manifest,
  previous?: Manifest,
): { bytes: Uint8Array; pieces: ManifestPiece[] } {
  const J = JSON.stringify;
  const pieces: ManifestPiece[] = [];
  const types: string[] = [];
  for (const t of Object.keys(m.types).sort() as TypeUrl[]) {
    const tm = m.types[t];
    if (tm === undefined) continue;
    const ps = typePieces(tm, previous?.types[t]);
    for (const p of ps) pieces.push(p);
    types.push(storedTypeJson(t, tm, ps));
  }
  const json =
    `{"diagnostics":${J(m.diagnostics)},"group":${J(m.group)}` +
    (m.provenance !== undefined ? `,"provenance":${J(m.provenance)}` : '') +
    (m.provenancePieces !== undefined ? `,"provenancePieces":${hashListJson(m.provenancePieces)}` : '') +
    `,"schema":${STORED_MANIFEST_SCHEMA},"types":{${types.join(',')}},"version":${J(m.version)}}`;
  return { bytes: Buffer.from(json, 'utf8'), pieces };
}

const hashListJsonOf = new WeakMap<readonly string[], string>();

/**
 * A manifest's `provenancePieces` as JSON, cached by list: a commit that left the provenance alone
 * (the endpoint fast path) reuses the list, ~300 hashes at 10,000 Mappings.
 */
function hashListJson(hashes: readonly string[]): string {
  let json = hashListJsonOf.get(hashes);
  if (json === undefined) {
    json = JSON.stringify(hashes);
    hashListJsonOf.set(hashes, json);
  }
  return json;
}

const storedTypeJsonOf = new WeakMap<TypeManifest, { t: TypeUrl; json: string }>();

/** `"<type>":{"pieces":[…],"version":…}`, cached by type manifest (unchanged types are reused). */
function storedTypeJson(t: TypeUrl, tm: TypeManifest, ps: readonly ManifestPiece[]): string {
  const cached = storedTypeJsonOf.get(tm);
  if (cached?.t === t) return cached.json;
  const J = JSON.stringify;
  const json = `${J(t)}:{"pieces":${J(ps.map((p) => p.hash))},"version":${J(tm.version)}}`;
  storedTypeJsonOf.set(tm, { t, json });
  return json;
}

/** A manifest read from the store: whole (schema 1) or stored in pieces (schema 2). */
export function parseStored(bytes: Uint8Array): { whole: Manifest } | { stored: StoredManifest } {
  const m = JSON.parse(Buffer.from(bytes).toString('utf8')) as { schema?: unknown };
  if (m.schema === MANIFEST_SCHEMA) return { whole: m as Manifest };
  if (m.schema === STORED_MANIFEST_SCHEMA) return { stored: m as StoredManifest };
  throw new Error(`unsupported manifest schema ${String(m.schema)}`);
}

/** Every piece hash a stored manifest names. */
export function storedPieceHashes(s: StoredManifest): string[] {
  const out: string[] = [];
  for (const t of Object.values(s.types)) for (const h of t?.pieces ?? []) out.push(h);
  return out;
}

/** The entries of a piece blob. */
export function decodePiece(bytes: Uint8Array): ManifestEntry[] {
  const entries = JSON.parse(Buffer.from(bytes).toString('utf8')) as ManifestEntry[];
  if (!Array.isArray(entries)) throw new Error('a manifest piece is not a list of entries');
  return entries;
}

/** The manifest a stored form stands for, given its pieces' entries (by piece hash). */
export function assembleManifest(
  s: StoredManifest,
  pieces: ReadonlyMap<string, readonly ManifestEntry[]>,
): Manifest {
  const types: Manifest['types'] = {};
  for (const t of Object.keys(s.types) as TypeUrl[]) {
    const st = s.types[t];
    if (!st) continue;
    const resources: ManifestEntry[] = [];
    for (const h of st.pieces) {
      const entries = pieces.get(h);
      if (!entries) throw new Error(`manifest piece ${h} is missing`);
      for (const e of entries) resources.push(e);
    }
    types[t] = { version: st.version, resources };
  }
  const { schema: _schema, types: _types, ...rest } = s;
  return { ...rest, schema: MANIFEST_SCHEMA, types } as Manifest;
}
