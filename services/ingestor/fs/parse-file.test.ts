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
