/**
 * Loads every Kubernetes-style object from a directory of YAML: the fs ingestor's view of its
 * source, and what `attache translate` reads. Never throws for bad content: every problem is a
 * {@link LoadError} and every good document is still loaded.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { SourceObject } from '../../../shared/events/envelope.ts';
import { errorMessage } from '../../../shared/runtime/errors.ts';
import { type ParsedDocument, type ParsedFile, parseYamlFile } from './parse-file.ts';
import { code, listYamlFiles } from './walk-directory.ts';

/** One object and where it was defined. */
export interface LoadedDocument {
  /** Path relative to the directory, `/` separators. */
  file: string;
  /** 0-based index of the document within the file (empty documents count). */
  document: number;
  object: SourceObject;
}

/** A document, file or directory that could not be loaded, and why. */
export interface LoadError {
  file: string;
  document?: number;
  /** 1-based line where the problem (or the document) starts. */
  line?: number;
  kind?: string;
  name?: string;
  message: string;
}

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
}

/**
 * Parsed files by relative path, reused while the text is unchanged so that periodic rescans
 * re-parse only what changed. {@link scanDirectory} drops entries for files that are gone.
 */
export type ParseCache = Map<string, { text: string; parsed: ParsedFile }>;

/** Loads `dir`: `{ documents, errors }` as described on {@link DirectoryScan}. */
export async function loadDirectory(
  dir: string,
): Promise<{ documents: LoadedDocument[]; errors: LoadError[] }> {
  const { documents, errors } = await scanDirectory(dir);
  return { documents, errors };
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
  const parsed = await mapLimited(listing.files, READ_CONCURRENCY, (file) =>
    readAndParse(dir, file, opts.cache),
  );

  const copies = new Map<string, ParsedDocument[]>();
  listing.files.forEach((file, i) => {
    const result = parsed[i];
    if (!result) return; // vanished between listing and reading
    if (result.errors.length > 0) incomplete.push(file);
    errors.push(...result.errors);
    for (const doc of result.documents) {
      const { kind, metadata } = doc.object;
      const identity = `${kind}/${metadata.namespace ?? ''}/${metadata.name}`;
      copies.set(identity, [...(copies.get(identity) ?? []), doc]);
    }
  });
  const winners = new Set<ParsedDocument>();
  for (const docs of copies.values()) {
    const { kind, metadata } = docs[0]!.object;
    const held =
      docs.length > 1 ? opts.established?.(kind, metadata.namespace ?? '', metadata.name) : undefined;
    const winner =
      (held &&
        (docs.find((d) => d.file === held.file && d.document === held.document) ??
          docs.find((d) => d.file === held.file))) ||
      docs[0]!;
    winners.add(winner);
    for (const doc of docs) {
      if (doc === winner) continue;
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
  const documents: LoadedDocument[] = [];
  for (const result of parsed) {
    for (const doc of result?.documents ?? [])
      if (winners.has(doc)) documents.push({ file: doc.file, document: doc.document, object: doc.object });
  }
  if (opts.cache) {
    const present = new Set(listing.files);
    for (const file of opts.cache.keys()) if (!present.has(file)) opts.cache.delete(file);
  }
  return { documents, errors, incomplete, directories: listing.directories };
}

/** Reads and parses one file; undefined when it no longer exists. */
async function readAndParse(dir: string, file: string, cache?: ParseCache): Promise<ParsedFile | undefined> {
  let bytes: Buffer;
  try {
    bytes = await fs.readFile(path.join(dir, ...file.split('/')));
  } catch (err) {
    if (code(err) === 'ENOENT') return undefined;
    return { documents: [], errors: [{ file, message: `cannot read file: ${errorMessage(err)}` }] };
  }
  const text = bytes.toString('utf8');
  const bad = invalidUtf8Offset(bytes, text);
  if (bad !== undefined) {
    // Never guess: U+FFFD in a prefix or a header value would be served as written.
    return {
      documents: [],
      errors: [
        {
          file,
          message: `not valid UTF-8: invalid byte 0x${bytes[bad]!.toString(16).padStart(2, '0')} at byte offset ${bad}`,
        },
      ],
    };
  }
  const hit = cache?.get(file);
  if (hit && hit.text === text) return hit.parsed;
  const parsed = parseYamlFile(file, text);
  cache?.set(file, { text, parsed });
  return parsed;
}

/** Byte offset of the first byte that is not valid UTF-8, or undefined when all of it is. */
export function invalidUtf8Offset(bytes: Uint8Array, decoded: string): number | undefined {
  if (!decoded.includes('\uFFFD')) return undefined;
  const again = Buffer.from(decoded, 'utf8');
  for (let i = 0; i < bytes.length; i++) if (again[i] !== bytes[i]) return i;
  return undefined; // every U+FFFD was written as such
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
