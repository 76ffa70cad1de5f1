/**
 * Golden test cases for the compiler (testdata/compiler/<case>/in → out). YAML files directly in
 * `in/` are objects of source cluster `test`; files in `in/<dir>/` belong to source cluster
 * `<dir>`, so multi-cluster cases are plain directories. Used by the golden, determinism and
 * property tests.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import type { SourceObject } from '../../shared/events/envelope.ts';
import type { CompileOptions, SourceRecord } from './contracts.ts';

export const GOLDEN_ROOT = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../testdata/compiler',
);

/** Source cluster of the YAML files directly under a case's `in/`. */
export const DEFAULT_SOURCE_CLUSTER = 'test';

/** Names of every case directory that has an `in/` folder, sorted. */
export function listCases(): string[] {
  if (!fs.existsSync(GOLDEN_ROOT)) return [];
  return fs
    .readdirSync(GOLDEN_ROOT, { withFileTypes: true })
    .filter((e) => e.isDirectory() && fs.existsSync(path.join(GOLDEN_ROOT, e.name, 'in')))
    .map((e) => e.name)
    .sort();
}

/** Loads every YAML document of a case as source records, in file and document order. */
export function loadCase(name: string): SourceRecord[] {
  const inDir = path.join(GOLDEN_ROOT, name, 'in');
  const records: SourceRecord[] = [];
  for (const file of yamlFiles(inDir)) {
    const rel = path.relative(inDir, file).split(path.sep).join('/');
    const dir = path.posix.dirname(rel);
    const cluster = dir === '.' ? DEFAULT_SOURCE_CLUSTER : dir;
    const docs = parseAllDocuments(fs.readFileSync(file, 'utf8'));
    if (!Array.isArray(docs)) continue;
    docs.forEach((doc, document) => {
      if (doc.errors.length > 0) throw new Error(`${rel} document ${document}: ${doc.errors[0]!.message}`);
      const object = doc.toJS() as unknown;
      if (object === null || object === undefined) return;
      records.push({ cluster, object: object as SourceObject, origin: { file: rel, document } });
    });
  }
  return records;
}

/**
 * Extra compile options of a case (`<case>/options.json`, e.g. `{"localClusters": ["east"]}`);
 * empty when the file is absent.
 */
export function loadCaseOptions(name: string): Omit<CompileOptions, 'group'> {
  const file = path.join(GOLDEN_ROOT, name, 'options.json');
  if (!fs.existsSync(file)) return {};
  return JSON.parse(fs.readFileSync(file, 'utf8')) as Omit<CompileOptions, 'group'>;
}

function yamlFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...yamlFiles(p));
    else if (/\.ya?ml$/.test(e.name)) out.push(p);
  }
  return out;
}
