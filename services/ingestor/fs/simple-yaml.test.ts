/**
 * The simple reader (simple-yaml.ts) answers only where it gives the `yaml` library's value: on
 * random documents of the shapes it reads (block mappings and sequences, compact mappings in
 * sequences, flow collections, quoted and plain scalars of every core-schema form, comments,
 * indentation variants) and on random mutations of them (a character inserted, deleted or
 * replaced: bad indentation, open brackets, stray colons, quotes, tabs…), whenever it returns a
 * value, `yaml` parses the same text without error to a deep-equal value, and js-yaml with the
 * fast loader's schema too. It must also answer for the bench's and the examples' documents.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { prng } from '../../compiler/test-prng.ts';
import { loadFast } from './fast-yaml.ts';
import { parseYamlFile } from './parse-file.ts';
import { loadSimple } from './simple-yaml.ts';
import { CORE_SCALAR_TEXTS, pick, type Random } from './yaml-test-random.ts';

const SCALARS = [
  ...CORE_SCALAR_TEXTS,
  '1.',
  '.nan',
  'TRUE',
  'Null',
  'svc-1.ns:8080',
  'http://x.example.com/a?b=c',
  'a#b',
  '-1',
  '-x',
  '.',
  'é ünïcode',
  '"quoted"',
  '"with # hash"',
  '"a: b"',
  '"esc \\t"',
  "''",
  '""',
  "'it''s'",
  '{ }',
  '[ ]',
  '{a: {b: [c, {d: e}]}}',
  '[a b, c]',
  '{"k": v}',
  "{'k': 'v'}",
];

const KEYS = ['a', 'name', 'x-y', 'kubernetes.io/name', 'a b', 'k1', 'Camel', 'with.dots', 'yes', 'on'];

function indent(n: number): string {
  return ' '.repeat(n);
}

/** A random block node at indentation `at`, as lines; `depth` bounds nesting. */
function block(r: Random, at: number, depth: number): string[] {
  const lines: string[] = [];
  const step = pick(r, [1, 2, 2, 2, 4]);
  if (depth > 0 && r() < 0.3) {
    // A sequence.
    for (let i = 0; i < 1 + Math.floor(r() * 3); i++) {
      const roll = r();
      if (roll < 0.4) lines.push(`${indent(at)}- ${pick(r, SCALARS)}`);
      else if (roll < 0.75) {
        // A compact mapping.
        const inner = block(r, at + 2, depth - 1).filter((l) => !l.trimStart().startsWith('-'));
        const entries = inner.length > 0 ? inner : [`${indent(at + 2)}k: v`];
        lines.push(`${indent(at)}- ${(entries[0] as string).trimStart()}`, ...entries.slice(1));
      } else {
        lines.push(`${indent(at)}-`, ...block(r, at + step, depth - 1));
      }
      if (r() < 0.1) lines.push(`${indent(at)}# a comment`);
    }
    return lines;
  }
  const used = new Set<string>();
  for (let i = 0; i < 1 + Math.floor(r() * 4); i++) {
    const key = pick(r, KEYS);
    if (used.has(key)) continue;
    used.add(key);
    const roll = r();
    if (depth > 0 && roll < 0.35) {
      lines.push(`${indent(at)}${key}:${r() < 0.1 ? ' # c' : ''}`);
      // A sequence may sit at the key's own indentation.
      const deeper = r() < 0.2 ? at : at + step;
      const nested = block(r, deeper, depth - 1);
      if (deeper === at && !(nested[0] ?? '').trimStart().startsWith('-'))
        lines.push(...block(r, at + step, depth - 1));
      else lines.push(...nested);
    } else {
      lines.push(`${indent(at)}${key}: ${pick(r, SCALARS)}${r() < 0.1 ? ' # trailing' : ''}`);
    }
    if (r() < 0.1) lines.push('');
  }
  return lines;
}

function document(r: Random): string {
  const head = r() < 0.3 ? (r() < 0.2 ? '--- # marker\n' : '---\n') : '';
  return `${head}${block(r, r() < 0.1 ? 2 : 0, 3).join('\n')}${r() < 0.5 ? '\n' : ''}`;
}

const NOISE = [' ', ':', '-', '#', '"', "'", '[', ']', '{', '}', ',', '\n', '\t', 'x', '|', '&', '\\'];

function mutate(r: Random, text: string): string {
  const at = Math.floor(r() * (text.length + 1));
  const roll = r();
  if (roll < 0.4) return text.slice(0, at) + pick(r, NOISE) + text.slice(at);
  if (roll < 0.7) return text.slice(0, at) + text.slice(at + 1);
  return text.slice(0, at) + pick(r, NOISE) + text.slice(at + 1);
}

/** `yaml`'s value for a one-document text, or undefined when it reports an error. */
function reference(text: string): { value: unknown } | undefined {
  const docs = parseAllDocuments(text, { prettyErrors: false, merge: true, uniqueKeys: true });
  if (docs.length !== 1) return undefined;
  const doc = docs[0];
  if (!doc || doc.errors.length > 0) return undefined;
  return { value: doc.toJS({ maxAliasCount: 100 }) };
}

test('simple YAML reader — whenever it answers, `yaml` and js-yaml give the same value', () => {
  const seed = Number(process.env.ATTACHE_TEST_SEED ?? 20261206);
  const r = prng(seed);
  let answered = 0;
  let total = 0;
  for (let i = 0; i < 4000; i++) {
    let text = document(r);
    for (let m = r() < 0.5 ? 0 : 1 + Math.floor(r() * 3); m > 0; m--) text = mutate(r, text);
    total++;
    const got = loadSimple(text);
    if (!got) continue;
    answered++;
    const want = reference(text);
    assert.ok(want, `seed ${seed}, case ${i}: the reader answered where yaml reports an error:\n${text}`);
    assert.deepEqual(got.value, want.value, `seed ${seed}, case ${i}, yaml:\n${text}`);
    const fast = loadFast(text);
    if (fast?.value !== undefined)
      assert.deepEqual(got.value, fast.value, `seed ${seed}, case ${i}, the fast loader:\n${text}`);
  }
  // The generator must reach the reader: most unmutated documents are of its shape.
  assert.ok(answered > total / 4, `answered ${answered} of ${total}`);
});

test('simple YAML reader — reads the bench and example manifests', () => {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
  const docs = [
    ...fs.readFileSync(path.join(root, 'examples/quickstart/backends.yaml'), 'utf8').split(/^---$/m),
    ...fs.readFileSync(path.join(root, 'examples/quickstart/mappings.yaml'), 'utf8').split(/^---$/m),
    'apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  name: svc-1-x1\n  namespace: bench\n' +
      '  labels: { kubernetes.io/service-name: svc-1 }\naddressType: IPv4\nports:\n' +
      '  - { name: http, port: 8080, protocol: TCP }\nendpoints:\n  - addresses: ["10.0.1.1"]\n' +
      '    conditions: { ready: true }\n',
    'apiVersion: getambassador.io/v3alpha1\nkind: Mapping\nmetadata: { name: m-7, namespace: bench }\nspec:\n' +
      '  hostname: host-2.example.com\n  prefix: /svc-0/r7/\n  service: svc-7.bench:8080\n  timeout_ms: 3000\n  rewrite: /\n',
  ];
  for (const d of docs) {
    const got = loadSimple(d);
    assert.ok(got, `not read:\n${d}`);
    assert.deepEqual(got.value, reference(d)?.value);
  }
});

test('simple YAML reader — a flow collection nested past the stack is left to the other readers, which report it on its line', () => {
  const n = 200_000;
  const text = `apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec: ${'['.repeat(n)}${']'.repeat(n)}\n`;
  assert.equal(loadSimple(text), undefined);
  const parsed = parseYamlFile('deep.yaml', text);
  assert.deepEqual(parsed.documents, []);
  assert.equal(parsed.errors.length, 1);
  assert.equal(parsed.errors[0]?.file, 'deep.yaml');
  assert.equal(parsed.errors[0]?.line, 4);
  assert.match(parsed.errors[0]?.message ?? '', /^invalid YAML: /);
});
