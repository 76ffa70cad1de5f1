/**
 * Golden files: testdata/compiler/<case>/in/*.yaml → out/{listeners,routes,clusters,endpoints,status}.json.
 * `ATTACHE_UPDATE_GOLDEN=1` rewrites the outputs and deletes outputs of cases that no longer exist.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { compile } from './compile.ts';
import { GOLDEN_ROOT, listCases, loadCase, loadCaseOptions } from './golden-cases.ts';
import { toTranslateFiles } from './translate-output.ts';

const UPDATE = process.env.ATTACHE_UPDATE_GOLDEN === '1';

describe('compiler golden files', () => {
  const cases = listCases();

  test('compiler golden — there are cases to compare', () => {
    assert.ok(cases.length >= 15, `expected the golden cases under ${GOLDEN_ROOT}, found ${cases.length}`);
  });

  for (const name of cases) {
    test(`compiler golden — ${name}`, () => {
      const files = toTranslateFiles(compile(loadCase(name), { group: 'default', ...loadCaseOptions(name) }));
      const outDir = path.join(GOLDEN_ROOT, name, 'out');
      if (UPDATE) {
        fs.rmSync(outDir, { recursive: true, force: true });
        fs.mkdirSync(outDir, { recursive: true });
        for (const [file, text] of Object.entries(files)) fs.writeFileSync(path.join(outDir, file), text);
        return;
      }
      for (const [file, text] of Object.entries(files)) {
        const goldenPath = path.join(outDir, file);
        assert.ok(fs.existsSync(goldenPath), `${goldenPath} is missing; run with ATTACHE_UPDATE_GOLDEN=1`);
        assert.equal(
          text,
          fs.readFileSync(goldenPath, 'utf8'),
          `${name}/out/${file} differs from the golden file`,
        );
      }
      const extra = fs.readdirSync(outDir).filter((f) => !(f in files));
      assert.deepEqual(extra, [], `${name}/out has files the compiler no longer writes`);
    });
  }

  if (UPDATE) {
    test('compiler golden — orphaned outputs are deleted', () => {
      const live = new Set(cases);
      for (const e of fs.readdirSync(GOLDEN_ROOT, { withFileTypes: true })) {
        if (e.isDirectory() && !live.has(e.name))
          fs.rmSync(path.join(GOLDEN_ROOT, e.name), { recursive: true });
      }
      const left = fs
        .readdirSync(GOLDEN_ROOT, { withFileTypes: true })
        .filter((e) => e.isDirectory() && !live.has(e.name))
        .map((e) => e.name);
      assert.deepEqual(left, []);
    });
  }
});
