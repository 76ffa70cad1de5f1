/**
 * Differential parity with Emissary 4.1's own compiler (issue 12): the `parity-*` golden cases and
 * a bounded number of seeded configurations (`ATTACHE_DIFFERENTIAL_CONFIGS`, default 10) must
 * route identically on every probe, apart from differences FEATURES.md documents. Skips with the
 * reason when ../shared/emissary-reference is absent or cannot run. The full run is
 * `npm run test:differential -- --configs 500`.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { listCases, loadCase } from '../../services/compiler/golden-cases.ts';
import { compareConfigs, describeDiffs } from './differential.ts';
import { fixtureConfig, generateConfig } from './emissary-config-generator.ts';
import { findOracle } from './emissary-oracle.ts';

const oracle = await findOracle();
const skip = oracle.ok ? false : `skipped: ${oracle.reason}`;
const CONFIGS = Number(process.env.ATTACHE_DIFFERENTIAL_CONFIGS ?? '10');
/** Golden cases that show a deliberate difference on purpose (FEATURES.md). */
const DOCUMENTED: Record<string, string> = { 'parity-hostless-every-host': 'hostless-every-host' };

describe('differential parity with Emissary', () => {
  test('differential — parity-* golden cases route as Emissary routes them', { skip }, async () => {
    if (!oracle.ok) return;
    const names = listCases().filter((n) => n.startsWith('parity-'));
    assert.ok(names.length >= 5, `expected the parity-* golden cases, found ${names.length}`);
    const configs = names.map((n) =>
      fixtureConfig(
        loadCase(n).map((r) => r.object as unknown as Record<string, unknown>),
        DOCUMENTED[n] ? [DOCUMENTED[n]] : [],
      ),
    );
    const verdicts = await compareConfigs(oracle.runScript, configs);
    verdicts.forEach((v, i) => {
      const name = names[i]!;
      if (DOCUMENTED[name])
        assert.equal(v.kind, 'documented', `${name} should differ from Emissary on purpose`);
      else
        assert.equal(
          v.kind,
          'identical',
          `${name}:\n${v.kind === 'identical' ? '' : describeDiffs(v.diffs)}`,
        );
    });
  });

  test(`differential — ${CONFIGS} seeded configurations route identically`, { skip }, async () => {
    if (!oracle.ok) return;
    const cfgs = Array.from({ length: CONFIGS }, (_, i) => generateConfig(1000 + i));
    assert.ok(
      cfgs.some((c) =>
        c.objects.some((o) => o.kind === 'Mapping' && !Object.hasOwn((o.spec as object) ?? {}, 'hostname')),
      ),
      'the generated configurations include host-less Mappings',
    );
    const verdicts = await compareConfigs(oracle.runScript, cfgs);
    const real = verdicts.flatMap((v, i) =>
      v.kind === 'different' ? [`seed ${cfgs[i]!.seed}:\n${describeDiffs(v.diffs)}`] : [],
    );
    assert.deepEqual(real, [], real.join('\n'));
    assert.ok(verdicts.reduce((n, v) => n + v.probes, 0) > CONFIGS * 10, 'every configuration was probed');
  });
});
