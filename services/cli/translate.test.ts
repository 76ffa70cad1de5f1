/**
 * `attache translate` on every golden case gives the committed output: the offline command and
 * the golden tests run the same passes, and this proves the command's own loading (the YAML
 * directory loader) does not change the result. Cases with several source clusters or extra
 * compile options are the golden harness's alone.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { startAttache } from '../../test/harness/attache-process.ts';
import { GOLDEN_ROOT, listCases } from '../compiler/golden-cases.ts';
import { translateDirectories } from './translate.ts';

/** Cases whose YAML all belongs to one source cluster and that need no compile options. */
function singleClusterCases(): string[] {
  return listCases().filter((name) => {
    const dir = path.join(GOLDEN_ROOT, name);
    if (fs.existsSync(path.join(dir, 'options.json'))) return false;
    return fs.readdirSync(path.join(dir, 'in'), { withFileTypes: true }).every((e) => !e.isDirectory());
  });
}

function committedOutput(name: string): Record<string, string> {
  const out = path.join(GOLDEN_ROOT, name, 'out');
  return Object.fromEntries(fs.readdirSync(out).map((f) => [f, fs.readFileSync(path.join(out, f), 'utf8')]));
}

interface Diag {
  severity: string;
  source: { file?: string; document?: number; name: string };
  field?: string;
  message: string;
}

/**
 * Statuses agree, except that the YAML loader rejects a document without an identity (no kind or
 * name) before the compiler sees it: such a document gets the loader's diagnostic (naming file
 * and document) instead of the compiler's. Everything else must be identical.
 */
function assertSameStatus(name: string, actual: Diag[], expected: Diag[]) {
  const at = (d: Diag) => `${d.source.file}#${d.source.document}`;
  const loaderRejected = new Set(actual.filter((d) => d.field?.startsWith('line ')).map(at));
  const compilerOnly = expected.filter((d) => loaderRejected.has(at(d)));
  for (const d of compilerOnly)
    assert.equal(d.severity, 'error', `${name}: ${at(d)} must be an error either way`);
  assert.equal(
    compilerOnly.length,
    loaderRejected.size,
    `${name}: every loader rejection replaces a compiler error`,
  );
  assert.deepEqual(
    actual.filter((d) => !loaderRejected.has(at(d))),
    expected.filter((d) => !loaderRejected.has(at(d))),
    `${name}: status.json`,
  );
}

describe('translate', () => {
  const cases = singleClusterCases();

  test('translate — covers most golden cases', () => {
    assert.ok(cases.length >= 30, `only ${cases.length} single-cluster cases found`);
  });

  for (const name of cases) {
    test(`translate — ${name} matches the committed golden output`, async () => {
      const { files } = await translateDirectories([path.join(GOLDEN_ROOT, name, 'in')], 'test', 'default');
      const expected = committedOutput(name);
      assert.deepEqual(Object.keys(files).sort(), Object.keys(expected).sort());
      for (const file of Object.keys(expected)) {
        if (file !== 'status.json') assert.equal(files[file], expected[file], `${name}/${file}`);
      }
      assertSameStatus(
        name,
        JSON.parse(files['status.json'] ?? '[]'),
        JSON.parse(expected['status.json'] ?? '[]'),
      );
    });
  }

  test('translate — the attache translate command writes the same files', async () => {
    for (const name of ['canary-30', 'edge-host-tls', 'mapping-match']) {
      const out = fs.mkdtempSync(path.join(os.tmpdir(), 'attache-translate-'));
      try {
        const proc = startAttache([
          'translate',
          '--config',
          path.join(GOLDEN_ROOT, name, 'in'),
          '--out',
          out,
          '--cluster',
          'test',
        ]);
        assert.equal(await proc.wait(), 0, proc.output());
        const written = Object.fromEntries(
          fs.readdirSync(out).map((f) => [f, fs.readFileSync(path.join(out, f), 'utf8')]),
        );
        assert.deepEqual(written, committedOutput(name), `${name}: CLI output differs`);
      } finally {
        fs.rmSync(out, { recursive: true, force: true });
      }
    }
  });
});
