/**
 * The range-wise, incremental YAML parse gives what parsing the whole file with the `yaml`
 * library gives — objects, document indexes, lines and error messages — on random multi-document
 * files (scalars of every core-schema form, quoting, block scalars, flow collections, anchors and
 * merge keys, comments, empty documents, `...`, directives, CRLF, duplicate keys, bad indentation,
 * non-objects), and an edited file parsed from its previous parse equals a fresh parse after every
 * random edit, insert and delete of documents in the middle of a large file, parsing only the
 * ranges that changed.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LineCounter, parseAllDocuments } from 'yaml';
import { prng } from '../../compiler/test-prng.ts';
import { normalizeObject } from './normalize-object.ts';
import { type FileParse, type ParsedFile, parseFileBytes, parseYamlFile } from './parse-file.ts';
import { CORE_SCALAR_TEXTS, pick, type Random } from './yaml-test-random.ts';

const SCALARS = [
  ...CORE_SCALAR_TEXTS,
  'no',
  'NULL',
  '"quoted \\u00e9 \\t"',
  'a: b',
  '"#not a comment"',
  '"multi\n  line"',
  '|\n    block\n    text',
  '|\n    ---\n    a marker-like line inside a block scalar\n    ...',
  '"quoted\n  --- indented dashes"',
  '>-\n    ... folded\n    --- text',
  '>-\n    folded\n    text',
];

function value(r: Random): string {
  const s = pick(r, SCALARS);
  return s === 'a: b' ? '"a: b"' : s;
}

/** One random document; `bad` allows malformed ones (each error stays inside its document). */
function document(r: Random, i: number, bad: boolean): string {
  const roll = r();
  if (bad && roll < 0.05) return 'apiVersion: v1\nkind: Service\nkind: Secret\nmetadata: {name: dup}';
  if (bad && roll < 0.08) return 'apiVersion: v1\nkind: Service\nmetadata:\n  name: x\n bad: indent';
  if (bad && roll < 0.11) return '- just\n- a list';
  if (bad && roll < 0.13) return 'apiVersion: v1\nkind: Service';
  if (bad && roll < 0.14) return 'apiVersion: v1\nkind: Service\nmetadata: {name: x}\ndata: |\n---\n  after';
  if (roll < 0.16) return '# only a comment';
  if (roll < 0.18) return '';
  const lines = [
    'apiVersion: getambassador.io/v3alpha1',
    'kind: Mapping',
    r() < 0.5 ? `metadata: {name: m-${i}, namespace: ns}` : `metadata:\n  name: m-${i}\n  labels: {a: "1"}`,
    'spec:',
    `  prefix: /p-${i}/`,
  ];
  for (let k = 0; k < 1 + Math.floor(r() * 4); k++) lines.push(`  f${k}: ${value(r)}`);
  if (r() < 0.1) lines.push('  base: &b {x: 1}', '  merged: {<<: *b, y: 2}');
  if (r() < 0.05) lines.push('  tagged: !!str 12');
  if (r() < 0.1) lines.push('  # a comment inside');
  if (r() < 0.05) lines.push('  tabbed:\t1');
  return lines.join('\n');
}

function file(r: Random, n: number, bad: boolean): string {
  const docs = Array.from({ length: n }, (_, i) => document(r, i, bad));
  let text = '';
  docs.forEach((d, i) => {
    if (i > 0 || r() < 0.3) text += r() < 0.1 ? '--- # marker comment\n' : '---\n';
    text += d === '' ? '' : `${d}\n`;
    if (r() < 0.03) text += '...\n';
  });
  if (r() < 0.05) text = `%YAML 1.2\n---\n${text}`;
  if (r() < 0.05) text = text.replaceAll('\n', '\r\n');
  return text;
}

/** The former parser: the whole file in one `yaml` call. */
function reference(name: string, text: string): ParsedFile {
  const out: ParsedFile = { documents: [], errors: [] };
  const lines = new LineCounter();
  const docs = parseAllDocuments(text, {
    lineCounter: lines,
    prettyErrors: false,
    merge: true,
    uniqueKeys: true,
  });
  const lineOf = (offset: number) => lines.linePos(offset).line;
  docs.forEach((doc, document) => {
    const start = doc.contents?.range?.[0] ?? doc.range?.[0] ?? 0;
    const first = doc.errors[0];
    if (first) {
      const more = doc.errors.length > 1 ? ` (and ${doc.errors.length - 1} more)` : '';
      const msg = first.message.split('\n')[0]?.trim();
      out.errors.push({
        file: name,
        document,
        line: lineOf(first.pos[0]),
        message: `invalid YAML: ${msg}${more}`,
      });
      return;
    }
    const value = doc.toJS({ maxAliasCount: 100 });
    if (value === null || value === undefined) return;
    const result = normalizeObject(value);
    if (result.ok) out.documents.push({ file: name, document, line: lineOf(start), object: result.object });
    else
      out.errors.push({
        file: name,
        document,
        line: lineOf(start),
        ...(result.kind ? { kind: result.kind } : {}),
        ...(result.name ? { name: result.name } : {}),
        message: result.message,
      });
  });
  return out;
}

test('parse-file — range-wise parsing equals the whole-file yaml parse on random files', () => {
  for (let seed = 1; seed <= 300; seed++) {
    const r = prng(seed);
    const text = file(r, 1 + Math.floor(r() * 12), true);
    assert.deepEqual(parseYamlFile('f.yaml', text), reference('f.yaml', text), `seed ${seed}:\n${text}`);
  }
});

test('parse-file — edits, inserts, deletes and moves in a large file re-parse only the changed documents', () => {
  const r = prng(42);
  const docs = Array.from({ length: 800 }, (_, i) => document(r, i, false));
  const render = () => `${docs.join('\n---\n')}\n`;
  let prev: FileParse = parseFileBytes('big.yaml', Buffer.from(render()));
  let next = 800;
  for (let step = 0; step < 80; step++) {
    const at = 1 + Math.floor(r() * (docs.length - 2));
    const op = pick(r, ['edit', 'insert', 'delete', 'bad', 'two apart', 'swap', 'directive'] as const);
    const far = (at + 300 + Math.floor(r() * 100)) % docs.length;
    if (op === 'edit') docs[at] = document(r, at, false);
    else if (op === 'two apart') [docs[at], docs[far]] = [document(r, at, false), document(r, far, true)];
    else if (op === 'directive') {
      // A directive line appears in (or leaves) the middle of the file: the file is parsed whole.
      // The next document uses the tag handle it declares.
      const directive = '\n...\n%TAG !e! tag:yaml.org,2002:';
      const k = docs.findIndex((d) => d.endsWith(directive));
      if (k >= 0) docs[k] = (docs[k] as string).slice(0, -directive.length);
      else docs[at] = `${docs[at]}${directive}`;
      docs[(k >= 0 ? k : at) + 1] += k >= 0 ? '' : '\n  tagged: !e!str 12';
    } else if (op === 'swap') [docs[at], docs[far]] = [docs[far] as string, docs[at] as string];
    else if (op === 'insert') docs.splice(at, 0, document(r, next++, false));
    else if (op === 'delete') docs.splice(at, 1);
    else docs[at] = document(r, at, true);
    const text = render();
    const inc = parseFileBytes('big.yaml', Buffer.from(text), prev);
    const fresh = parseFileBytes('big.yaml', Buffer.from(text));
    assert.deepEqual(inc.result, fresh.result, `step ${step} (${op} at ${at})`);
    // A file with directives is parsed whole, and so is the first version after it.
    const whole = inc.ranges === undefined || prev.ranges === undefined;
    assert.ok(whole || inc.parsedRanges <= 2, `step ${step} (${op}): parsed ${inc.parsedRanges} ranges`);
    prev = inc;
  }
  // Lines in diagnostics follow the document wherever edits above it moved it.
  docs[600] = 'apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec: {a: 1, a: 2}';
  const text = render();
  const inc = parseFileBytes('big.yaml', Buffer.from(text), prev);
  const line = text.slice(0, text.indexOf('spec: {a: 1, a: 2}')).split('\n').length;
  assert.deepEqual(
    inc.result.errors.filter((e) => e.document === 600).map((e) => [e.line, e.message]),
    [[line, 'invalid YAML: Map keys must be unique']],
  );
});
