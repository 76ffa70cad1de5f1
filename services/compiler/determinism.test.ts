/**
 * Determinism: the same records in any order give byte-identical resources, hashes, diagnostics
 * and translate files; compile never mutates its input.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { canonicalJson } from '../../shared/snapshot/manifest.ts';
import { compile } from './compile.ts';
import type { CompileResult, SourceRecord } from './contracts.ts';
import { listCases, loadCase } from './golden-cases.ts';
import { prng } from './test-prng.ts';
import { toTranslateFiles } from './translate-output.ts';

function shuffled<T>(items: readonly T[], random: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

function fingerprint(result: CompileResult): unknown {
  return {
    resources: result.resources.map((r) => [
      r.typeUrl,
      r.name,
      r.hash,
      Buffer.from(r.bytes).toString('hex'),
      r.onDemand,
    ]),
    diagnostics: result.diagnostics,
    provenance: canonicalJson(result.provenance),
    files: toTranslateFiles(result),
  };
}

/** Every golden case at once, each case's clusters prefixed so the cases stay distinguishable. */
function allCases(): SourceRecord[] {
  return listCases().flatMap((name) =>
    loadCase(name).map((r) => ({ ...r, cluster: `${name}.${r.cluster}` })),
  );
}

describe('compiler determinism', () => {
  test('compiler determinism — shuffled record order gives identical bytes, hashes and diagnostics', () => {
    const random = prng(20240611);
    const inputs: [string, SourceRecord[]][] = [
      ...listCases().map((name): [string, SourceRecord[]] => [name, loadCase(name)]),
      ['all cases together', allCases()],
    ];
    assert.ok(inputs.length > 1);
    for (const [name, records] of inputs) {
      const expected = fingerprint(compile(records, { group: 'default' }));
      for (let round = 0; round < 5; round++) {
        const actual = fingerprint(compile(shuffled(records, random), { group: 'default' }));
        assert.deepEqual(actual, expected, `${name}: output changed with record order (round ${round})`);
      }
    }
  });

  test('compiler determinism — compile does not mutate its input', () => {
    const records = allCases();
    const before = structuredClone(records);
    compile(records, { group: 'default' });
    assert.deepEqual(records, before);
  });

  test('compiler determinism — the group changes only which Mappings are selected', () => {
    const records = loadCase('ambassador-id');
    const blue = compile(records, { group: 'blue' });
    const routes = blue.resources.find((r) => r.name === 'ambassador-listener-8080-routes');
    assert.ok(routes);
    const text = JSON.stringify(toTranslateFiles(blue)['routes.json']);
    for (const prefix of ['/list/', '/automatic/', '/other/', '/not-alone/'])
      assert.ok(text.includes(prefix), prefix);
    for (const prefix of ['/implicit/', '/string/']) assert.ok(!text.includes(prefix), prefix);
    assert.ok(blue.diagnostics.some((d) => d.source.name === 'other-group-broken' && d.field === 'prefix'));
  });
});
