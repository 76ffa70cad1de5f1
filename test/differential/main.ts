/**
 * `npm run test:differential -- --configs 500 [--seed 1] [--verbose]`: compiles seeded Emissary
 * configurations with Emissary 4.1's own compiler and with Attaché, and counts configurations that
 * route identically on every probe, differ only where FEATURES.md documents it, or differ for real
 * (printed with their seed and probes). Needs ../shared/emissary-reference (see its README).
 */
import { parseArgs } from 'node:util';
import { compareConfigs, describeDiffs, type Verdict } from './differential.ts';
import { generateConfig } from './emissary-config-generator.ts';
import { findOracle } from './emissary-oracle.ts';

const { values } = parseArgs({
  options: {
    configs: { type: 'string', default: '500' },
    seed: { type: 'string', default: '1' },
    verbose: { type: 'boolean', default: false },
  },
});
const configs = Number(values.configs);
const first = Number(values.seed);

const oracle = await findOracle();
if (!oracle.ok) {
  console.error(`differential: skipped: ${oracle.reason}`);
  process.exit(0);
}
const counts = { identical: 0, documented: 0, different: 0 };
const documented = new Map<string, number>();
let probes = 0;
const started = Date.now();
const BATCH = 50;
for (let start = first; start < first + configs; start += BATCH) {
  const seeds = Array.from({ length: Math.min(BATCH, first + configs - start) }, (_, i) => start + i);
  const verdicts = await compareConfigs(oracle.runScript, seeds.map(generateConfig));
  for (const [i, verdict] of verdicts.entries()) report(seeds[i]!, verdict);
}

function report(seed: number, verdict: Verdict): void {
  counts[verdict.kind]++;
  probes += verdict.probes;
  if (verdict.kind === 'documented')
    for (const reason of verdict.reasons) documented.set(reason, (documented.get(reason) ?? 0) + 1);
  if (verdict.kind === 'different' || (values.verbose && verdict.kind === 'documented')) {
    console.log(
      `seed ${seed}: ${verdict.kind}, ${verdict.diffs.length} of ${verdict.probes} probes differ\n${describeDiffs(verdict.diffs)}`,
    );
  }
}
const summary = {
  configs,
  firstSeed: first,
  probes,
  ...counts,
  documentedByReason: Object.fromEntries(documented),
  wallSeconds: Math.round((Date.now() - started) / 100) / 10,
};
console.log(JSON.stringify(summary));
console.log(
  `${configs} configurations (seeds ${first}–${first + configs - 1}, ${probes} probes): ${counts.identical} identical, ` +
    `${counts.documented} documented difference, ${counts.different} real difference`,
);
process.exitCode = counts.different > 0 ? 1 : 0;
