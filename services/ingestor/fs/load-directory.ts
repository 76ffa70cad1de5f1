/**
 * Loads every Kubernetes-style object from a directory of YAML: the fs ingestor's view of its
 * source, and what `attache translate` reads. Never throws for bad content: every problem is a
 * {@link LoadError} and every good document is still loaded.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { errorMessage } from '../../../shared/runtime/errors.ts';
import type { LoadError, LoadedDocument } from './loaded-document.ts';
import { type FileParse, type ParsedDocument, type ParsedFile, parseFileBytes } from './parse-file.ts';
import { code, listYamlFiles } from './walk-directory.ts';

export interface DirectoryScan {
  /** Loaded objects in (file, document) traversal order, each identity once. */
  documents: LoadedDocument[];
  errors: LoadError[];
  /**
   * Files and directories (relative; `''` is the root) whose content is not fully known because
   * something in them failed to read or load. Objects they contributed before must be kept, not
   * deleted: a syntax error is not a removal.
   */
  incomplete: string[];
  /** Absolute paths of the directories traversed. */
  directories: string[];
  /**
   * With a cache: every file listed is the one the previous scan with that cache read, unchanged
   * (same bytes, or a trusted unchanged stat), and none appeared or vanished. The result then
   * holds the same documents and errors as that scan's.
   */
  unchanged: boolean;
}

/**
 * What the last scan read of each file (by relative path), so the next one reads and parses only
 * what changed: a file whose identity and times are unchanged is not read at all, and a changed
 * one re-parses only its changed documents (parse-file.ts). {@link scanDirectory} drops entries
 * for files that are gone.
 */
export type ParseCache = Map<string, CachedFile>;

interface CachedFile {
  /** Device, inode, size, mtime and ctime (ns) of the file when it was read. */
  stat: string;
  /**
   * Whether `stat` may stand for the content: false when the file was modified so shortly before
   * it was read that a later write could leave the same times (file system timestamps are coarse),
   * so the next scan reads it again. Git's "racy" index entries, handled the same way.
   */
  trusted: boolean;
  parse: FileParse;
}

/**
 * A file modified less than this before it was read is read again at the next scan even if its
 * stat is unchanged: covers timestamp granularities up to FAT's 2 s.
 */
const RACY_MS = 2_000;

/** Loads `dir`: `{ documents, errors }` as described on {@link DirectoryScan}. */
export async function loadDirectory(
  dir: string,
): Promise<{ documents: LoadedDocument[]; errors: LoadError[] }> {
  const { documents, errors } = await scanDirectory(dir);
  return { documents: documents.map(({ file, document, object }) => ({ file, document, object })), errors };
}

const READ_CONCURRENCY = 16;

/** Where an object was defined: a relative file and a 0-based document index. */
export interface DocumentOrigin {
  file: string;
  document: number;
}

export interface ScanOptions {
  cache?: ParseCache;
  /**
   * Where each identity (kind, namespace — `''` when unset —, name) is currently served from, if
   * anywhere. When an identity is defined more than once, the copy at that origin (else the one
   * in that file) keeps serving: an object established first is never replaced by a duplicate
   * that merely sorts earlier.
   */
  established?: (kind: string, namespace: string, name: string) => DocumentOrigin | undefined;
}

/**
 * Loads `dir` with the extra detail an ingestor needs. The same identity (kind, namespace, name)
 * defined twice keeps the established copy (see {@link ScanOptions.established}), else the first
 * in (file, document) order; every other copy is a LoadError naming both places.
 */
export async function scanDirectory(dir: string, opts: ScanOptions = {}): Promise<DirectoryScan> {
  const listing = await listYamlFiles(dir);
  const errors: LoadError[] = [...listing.errors];
  const incomplete = [...listing.unreadable];
  const known = opts.cache ? new Set(opts.cache.keys()) : undefined;
  let reused = 0;
  const parsed = await mapLimited(listing.files, READ_CONCURRENCY, async (file) => {
    const r = await readAndParse(dir, file, opts.cache);
    if (r?.reused) reused++;
    return r?.parsed;
  });
  const unchanged =
    known !== undefined &&
    listing.errors.length === 0 &&
    reused === listing.files.length &&
    known.size === listing.files.length;

  // Every copy of an identity, in (file, document) order; only duplicates get a list.
  const first = new Map<string, ParsedDocument>();
  const more = new Map<string, ParsedDocument[]>();
  listing.files.forEach((file, i) => {
    const result = parsed[i];
    if (!result) return; // vanished between listing and reading
    if (result.errors.length > 0) incomplete.push(file);
    errors.push(...result.errors);
    for (const doc of result.documents) {
      const identity = identityOf(doc.object);
      if (!first.has(identity)) first.set(identity, doc);
      else more.set(identity, [...(more.get(identity) ?? []), doc]);
    }
  });
  const losers = new Set<ParsedDocument>();
  // In the order of each identity's first copy.
  const duplicated = more.size === 0 ? [] : [...first.keys()].filter((identity) => more.has(identity));
  for (const identity of duplicated) {
    const docs = [first.get(identity) as ParsedDocument, ...(more.get(identity) ?? [])];
    const { kind, metadata } = docs[0]!.object;
    const held = opts.established?.(kind, metadata.namespace ?? '', metadata.name);
    const winner =
      (held &&
        (docs.find((d) => d.file === held.file && d.document === held.document) ??
          docs.find((d) => d.file === held.file))) ||
      docs[0]!;
    for (const doc of docs) {
      if (doc === winner) continue;
      losers.add(doc);
      errors.push({
        file: doc.file,
        document: doc.document,
        line: doc.line,
        kind,
        name: metadata.name,
        message:
          `duplicate ${kind} ${metadata.namespace ? `${metadata.namespace}/` : ''}${metadata.name}: ` +
          `already defined in ${winner.file} document ${winner.document} (line ${winner.line}), ` +
          `which ${winner === docs[0] ? 'wins' : 'was established first and keeps serving'}; ` +
          `this copy (${doc.file} document ${doc.document}) is ignored`,
      });
    }
  }
  // The parsed documents themselves: an unchanged document is the same object as in the last scan.
  const documents: LoadedDocument[] = [];
  for (const result of parsed) {
    for (const doc of result?.documents ?? []) if (losers.size === 0 || !losers.has(doc)) documents.push(doc);
  }
  if (opts.cache) {
    const present = new Set(listing.files);
    for (const file of opts.cache.keys()) if (!present.has(file)) opts.cache.delete(file);
  }
  return { documents, errors, incomplete, directories: listing.directories, unchanged };
}

/**
 * Reads and parses one file; undefined when it no longer exists. With a cache, a file whose stat
 * is unchanged (and trusted) is not read again, and a changed one is parsed incrementally.
 */
async function readAndParse(
  dir: string,
  file: string,
  cache?: ParseCache,
): Promise<{ parsed: ParsedFile; reused: boolean } | undefined> {
  const abs = path.join(dir, ...file.split('/'));
  const hit = cache?.get(file);
  let stat: string | undefined;
  let mtimeMs = 0;
  let readAt = 0;
  if (cache) {
    try {
      const st = await fs.stat(abs, { bigint: true });
      stat = `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
      if (hit?.trusted && hit.stat === stat) return { parsed: hit.parse.result, reused: true };
      mtimeMs = Number(st.mtimeMs);
      readAt = Date.now();
    } catch (err) {
      if (code(err) === 'ENOENT') return undefined;
      // Unreadable metadata: reading the file below reports the error.
    }
  }
  let bytes: Buffer;
  try {
    bytes = await fs.readFile(abs);
  } catch (err) {
    if (code(err) === 'ENOENT') return undefined;
    const message = `cannot read file: ${errorMessage(err)}`;
    return { parsed: { documents: [], errors: [{ file, message }] }, reused: false };
  }
  const parse = parseFileBytes(file, bytes, hit?.parse);
  if (stat !== undefined) cache?.set(file, { stat, trusted: readAt - mtimeMs > RACY_MS, parse });
  return { parsed: parse.result, reused: parse.result === hit?.parse.result };
}

/** Identities of parsed objects: a cached document's is built once, not at every scan. */
const identities = new WeakMap<LoadedDocument['object'], string>();

function identityOf(object: LoadedDocument['object']): string {
  let identity = identities.get(object);
  if (identity === undefined) {
    identity = `${object.kind}/${object.metadata.namespace ?? ''}/${object.metadata.name}`;
    identities.set(object, identity);
  }
  return identity;
}

async function mapLimited<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
