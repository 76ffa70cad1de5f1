import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseYamlFile } from './parse-file.ts';

test('parseYamlFile — empty files, comment-only and null documents load nothing and report nothing', () => {
  for (const text of ['', '# just a comment\n', '---\n---\n', '~\n', '---\n# c\n---\nnull\n']) {
    assert.deepEqual(parseYamlFile('f.yaml', text), { documents: [], errors: [] }, JSON.stringify(text));
  }
});

test('parseYamlFile — document indexes count empty documents; lines point at each document', () => {
  const text = [
    'apiVersion: v1',
    'kind: Service',
    'metadata: {name: a}',
    '---',
    '---',
    'apiVersion: v1',
    'kind: Service',
    'metadata: {name: b, namespace: x}',
  ].join('\n');
  const { documents, errors } = parseYamlFile('f.yaml', text);
  assert.deepEqual(errors, []);
  assert.deepEqual(
    documents.map((d) => [d.document, d.line, d.object.metadata.namespace, d.object.metadata.name]),
    [
      [0, 1, 'default', 'a'],
      [2, 6, 'x', 'b'],
    ],
  );
});

test('parseYamlFile — duplicate keys and bad indentation are errors for their document only', () => {
  const text = [
    'apiVersion: v1',
    'kind: Service',
    'kind: Secret',
    'metadata: {name: a}',
    '---',
    'apiVersion: v1',
    'kind: Service',
    'metadata: {name: ok}',
  ].join('\n');
  const { documents, errors } = parseYamlFile('f.yaml', text);
  assert.deepEqual(
    documents.map((d) => d.object.metadata.name),
    ['ok'],
  );
  assert.equal(errors.length, 1);
  assert.equal(errors[0]?.document, 0);
  assert.equal(errors[0]?.line, 3);
  assert.match(errors[0]?.message ?? '', /^invalid YAML: .*unique/i);
});

test('parseYamlFile — merge keys are resolved as Kubernetes does', () => {
  const text = [
    'apiVersion: v1',
    'kind: ConfigMap',
    'metadata: {name: m}',
    'base: &base {a: "1", b: "2"}',
    'data:',
    '  <<: *base',
    '  b: "3"',
  ].join('\n');
  const { documents, errors } = parseYamlFile('f.yaml', text);
  assert.deepEqual(errors, []);
  assert.deepEqual(documents[0]?.object.data, { a: '1', b: '3' });
});

test('parseYamlFile — marker-like lines inside block scalars and quoted strings do not split a document', () => {
  const text = [
    'apiVersion: v1',
    'kind: ConfigMap',
    'metadata: {name: a}',
    'data:',
    '  block: |',
    '    ---',
    '    ...',
    '    --- still text',
    '  quoted: "one',
    '    --- two"',
    '---',
    'apiVersion: v1',
    'kind: ConfigMap',
    'metadata: {name: b}',
  ].join('\n');
  const { documents, errors } = parseYamlFile('f.yaml', text);
  assert.deepEqual(errors, []);
  assert.deepEqual(
    documents.map((d) => [d.document, d.line, d.object.metadata.name]),
    [
      [0, 1, 'a'],
      [1, 12, 'b'],
    ],
  );
  assert.deepEqual((documents[0]?.object as { data?: unknown } | undefined)?.data, {
    block: '---\n...\n--- still text\n',
    quoted: 'one --- two',
  });
});

test('parseYamlFile — a marker at the start of a line ends the document even inside a string (YAML forbids it there)', () => {
  const doc = (name: string) => `apiVersion: v1\nkind: Service\nmetadata: {name: ${name}}`;
  const text = `${doc('a')}\n---\napiVersion: v1\nkind: Service\nmetadata: {name: "cut\n--- by a marker"}\n---\n${doc('c')}\n`;
  const { documents, errors } = parseYamlFile('f.yaml', text);
  // The cut document is an error naming its line; the text after the marker is a document of its
  // own (a string, so an error too); the documents around them load.
  assert.deepEqual(
    errors.map((e) => [e.document, e.line, e.message]),
    [
      [1, 8, 'invalid YAML: Missing closing "quote (and 1 more)'],
      [2, 8, 'document is not a mapping (got a string)'],
    ],
  );
  assert.deepEqual(
    documents.map((d) => [d.document, d.line, d.object.metadata.name]),
    [
      [0, 1, 'a'],
      [3, 10, 'c'],
    ],
  );
});
