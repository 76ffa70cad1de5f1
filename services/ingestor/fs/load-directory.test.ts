import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadDirectory, type ParseCache, scanDirectory } from './load-directory.ts';

const FIXTURE = fileURLToPath(new URL('./testdata/fixture', import.meta.url));

describe('loadDirectory', () => {
  test('loadDirectory — fixture: objects in sorted (file, document) order, dot-files and non-YAML skipped', async () => {
    const { documents } = await loadDirectory(FIXTURE);
    assert.deepEqual(
      documents.map((d) => [
        d.file,
        d.document,
        d.object.kind,
        d.object.metadata.namespace,
        d.object.metadata.name,
      ]),
      [
        ['10-mappings.yaml', 0, 'Mapping', 'default', 'quote'],
        ['10-mappings.yaml', 2, 'Mapping', 'prod', 'quote'],
        ['20-host.yml', 0, 'Host', 'edge', 'example'],
        ['bad/broken.yaml', 0, 'Service', 'default', 'fine-before-the-break'],
        ['nested/deeper/service.yaml', 0, 'Service', 'default', 'quote'],
        ['nested/ingress-class.yaml', 0, 'IngressClass', undefined, 'ambassador'],
      ],
    );
  });

  test('loadDirectory — fixture: managedFields stripped; labels, annotations and generation kept', async () => {
    const { documents } = await loadDirectory(FIXTURE);
    const quote = documents[0]?.object;
    assert.deepEqual(quote?.metadata, {
      annotations: { owner: 'team-a' },
      generation: 3,
      labels: { app: 'quote' },
      name: 'quote',
      namespace: 'default',
    });
    assert.deepEqual(quote?.spec, { prefix: '/quote/', service: 'quote:80' });
    const ingressClass = documents.find((d) => d.object.kind === 'IngressClass')?.object;
    assert.equal('namespace' in (ingressClass?.metadata ?? {}), false);
  });

  test('loadDirectory — fixture: every bad document is a LoadError naming file, document, line and problem', async () => {
    const { errors } = await loadDirectory(FIXTURE);
    const [syntax, ...rest] = errors;
    assert.deepEqual(
      { ...syntax, message: undefined },
      {
        file: 'bad/broken.yaml',
        document: 1,
        line: 11,
        message: undefined,
      },
    );
    assert.match(syntax?.message ?? '', /^invalid YAML: Flow sequence/);
    assert.deepEqual(rest, [
      {
        file: 'bad/incomplete.yaml',
        document: 0,
        line: 1,
        message:
          'missing kind, metadata.name (each must be a non-empty string); ' +
          'metadata.labels.tier must be a string (got a number; quote it)',
      },
      {
        file: 'bad/incomplete.yaml',
        document: 1,
        line: 6,
        message: 'document is not a mapping (got a sequence)',
      },
      {
        file: 'bad/incomplete.yaml',
        document: 2,
        line: 9,
        kind: 'Mapping',
        name: 'no-api-trouble',
        message: 'metadata.namespace must be a string',
      },
      {
        file: 'dup.yaml',
        document: 0,
        line: 1,
        kind: 'Mapping',
        name: 'quote',
        message:
          'duplicate Mapping default/quote: already defined in 10-mappings.yaml document 0 (line 2), ' +
          'which wins; this copy (dup.yaml document 0) is ignored',
      },
    ]);
  });

  test('loadDirectory — duplicate identity names both locations and the first in sorted order wins', async () => {
    const { documents, errors } = await loadDirectory(FIXTURE);
    const dup = errors.find((e) => e.file === 'dup.yaml');
    assert.match(dup?.message ?? '', /10-mappings\.yaml document 0/);
    assert.match(dup?.message ?? '', /dup\.yaml document 0/);
    const winner = documents.find(
      (d) => d.object.metadata.namespace === 'default' && d.object.kind === 'Mapping',
    );
    assert.equal(winner?.file, '10-mappings.yaml');
  });

  test('scanDirectory — files with errors are incomplete; duplicates are not', async () => {
    const scan = await scanDirectory(FIXTURE);
    assert.deepEqual(scan.incomplete, ['bad/broken.yaml', 'bad/incomplete.yaml']);
    assert.equal(scan.directories[0], FIXTURE);
    assert.equal(
      scan.directories.some((d) => d.includes('.dotdir')),
      false,
    );
  });

  test('loadDirectory — a missing directory is a LoadError, not an exception', async () => {
    const missing = path.join(os.tmpdir(), `attache-missing-${process.pid}-${Date.now()}`);
    const { documents, errors } = await loadDirectory(missing);
    assert.deepEqual(documents, []);
    assert.equal(errors.length, 1);
    assert.equal(errors[0]?.file, '.');
    assert.match(errors[0]?.message ?? '', /cannot read directory/);
    const scan = await scanDirectory(missing);
    assert.deepEqual(scan.incomplete, ['']);
  });

  test('loadDirectory — symlinked files are followed, symlink loops are not', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'attache-fs-links-'));
    try {
      fs.mkdirSync(path.join(dir, '..2024_01_01'));
      fs.writeFileSync(
        path.join(dir, '..2024_01_01', 'm.yaml'),
        'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: via-link}\n',
      );
      fs.symlinkSync('..2024_01_01', path.join(dir, '..data'));
      fs.symlinkSync('..data/m.yaml', path.join(dir, 'm.yaml'));
      fs.mkdirSync(path.join(dir, 'sub'));
      fs.symlinkSync('..', path.join(dir, 'sub', 'loop'));
      const { documents, errors } = await loadDirectory(dir);
      assert.deepEqual(errors, []);
      assert.deepEqual(
        documents.map((d) => [d.file, d.object.metadata.name]),
        [['m.yaml', 'via-link']],
      );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('scanDirectory — a rescan of an unchanged tree reads no file; an edit that keeps size and mtime is still seen', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'attache-scan-stat-'));
    try {
      const file = path.join(dir, 'm.yaml');
      const doc = (name: string) => `apiVersion: v1\nkind: Service\nmetadata: {name: ${name}}\n`;
      fs.writeFileSync(file, `${doc('aaa')}---\n${doc('bbb')}`);
      // Old enough that its stat may stand for its content (not "racy").
      const past = new Date(Date.now() - 3_600_000);
      fs.utimesSync(file, past, past);
      const cache: ParseCache = new Map();
      const first = await scanDirectory(dir, { cache });
      assert.equal(first.unchanged, false);
      const again = await scanDirectory(dir, { cache });
      assert.equal(again.unchanged, true, 'a trusted, unchanged stat: nothing read');
      assert.deepEqual(
        again.documents.map((d) => d.object.metadata.name),
        ['aaa', 'bbb'],
      );
      // Same size, same mtime (as a coarse-timestamp file system would leave it): ctime moves.
      fs.writeFileSync(file, `${doc('aaa')}---\n${doc('ccc')}`);
      fs.utimesSync(file, past, past);
      const edited = await scanDirectory(dir, { cache });
      assert.equal(edited.unchanged, false);
      assert.deepEqual(
        edited.documents.map((d) => d.object.metadata.name),
        ['aaa', 'ccc'],
      );
      // A file written just now is read again at every scan until it is old enough.
      fs.writeFileSync(file, `${doc('aaa')}---\n${doc('ddd')}`);
      await scanDirectory(dir, { cache });
      const racy = await scanDirectory(dir, { cache });
      assert.equal(racy.unchanged, true, 'same bytes: unchanged, though read again');
      fs.rmSync(file);
      const gone = await scanDirectory(dir, { cache });
      assert.equal(gone.unchanged, false);
      assert.deepEqual(gone.documents, []);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
