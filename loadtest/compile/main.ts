/**
 * Benchmark: the compiler at scale.
 *
 *   npm run bench:compile -- --mappings N [--endpoints M] [--services S] [--hosts H] [--runs R]
 *       [--rounds K] [--changes C] [--burst B] [--debounce-ms D] [--no-tiers] [--no-emissary] [--json]
 *
 * Generates N Mappings over S Services (default N/5) with M endpoints (default 5·S) in
 * EndpointSlices, H Hosts (default 5) and the default Listeners (loadtest/compile/generate.ts), then:
 *   1. whole process: `attache translate` (compiled build) vs Emissary 4.1's compiler when
 *      ../shared/emissary-reference is present, K interleaved rounds, wall and CPU time, ratio;
 *   2. in process: full compile() of the loaded records, median of R warm runs, peak RSS of that
 *      process, encoded snapshot size per type;
 *   3. tiers (tiers.ts): real NATS + Redis + `attache compile`: start-up, one Mapping change and
 *      one endpoint change → committed (p50/p99, debounce stated and subtracted), a B-change burst.
 * Writes loadtest/results/compile-<N>-<timestamp>.json and prints a summary (or the JSON).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { dist } from '../fleet/stats.ts';
import { type BenchShape, writeInput } from './generate.ts';
import { defaultLogFile, measureTiers, progress, type TierResult } from './tiers.ts';
import { emissaryAvailable, type ProcessRun, runAttacheTranslate, runEmissary } from './whole-process.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({
  options: {
    mappings: { type: 'string' },
    endpoints: { type: 'string' },
    services: { type: 'string' },
    hosts: { type: 'string', default: '5' },
    runs: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '3' },
    changes: { type: 'string', default: '20' },
    burst: { type: 'string', default: '500' },
    'debounce-ms': { type: 'string', default: '50' },
    'no-tiers': { type: 'boolean', default: false },
    'no-emissary': { type: 'boolean', default: false },
    'timeout-s': { type: 'string', default: '600' },
    json: { type: 'boolean', default: false },
  },
});
if (!values.mappings) {
  process.stderr.write(
    'usage: npm run bench:compile -- --mappings N [--endpoints M] [--json] (see loadtest/compile/main.ts)\n',
  );
  process.exit(2);
}
const mappings = Number(values.mappings);
const services = Number(values.services ?? Math.max(1, Math.round(mappings / 5)));
const shape: BenchShape = {
  mappings,
  services,
  endpoints: Number(values.endpoints ?? services * 5),
  hosts: Number(values.hosts),
};
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'attache-bench-compile-'));
const inDir = path.join(scratch, 'in');
writeInput(inDir, shape);

const machine = { cpus: os.cpus().length, loadAvg1m: os.loadavg()[0] ?? 0, node: process.version };

// 1. Whole process, interleaved.
const rounds = Number(values.rounds);
const emissarySkip = values['no-emissary'] ? 'disabled with --no-emissary' : emissaryAvailable();
const attacheRuns: ProcessRun[] = [];
const emissaryRuns: ProcessRun[] = [];
let emissaryError: string | null = emissarySkip;
for (let r = 0; r < rounds; r++) {
  progress(`whole process: round ${r + 1} of ${rounds}`);
  attacheRuns.push(await runAttacheTranslate(inDir, path.join(scratch, 'attache-out')));
  if (emissaryError === null) {
    try {
      emissaryRuns.push(await runEmissary(inDir, path.join(scratch, 'emissary-out')));
    } catch (err) {
      emissaryError = err instanceof Error ? err.message.slice(0, 500) : String(err);
    }
  }
}
const median = (xs: number[]) => dist(xs)?.p50 ?? null;
const wholeProcess = {
  rounds,
  attacheTranslate: {
    wallMs: median(attacheRuns.map((r) => r.wallMs)),
    cpuMs: median(attacheRuns.map((r) => r.cpuMs)),
  },
  emissary:
    emissaryRuns.length > 0
      ? { wallMs: median(emissaryRuns.map((r) => r.wallMs)), cpuMs: median(emissaryRuns.map((r) => r.cpuMs)) }
      : { skipped: emissaryError },
  speedupWall: null as number | null,
  speedupCpu: null as number | null,
};
if (emissaryRuns.length > 0) {
  const e = wholeProcess.emissary as { wallMs: number; cpuMs: number };
  wholeProcess.speedupWall = round2(e.wallMs / (wholeProcess.attacheTranslate.wallMs ?? 1));
  wholeProcess.speedupCpu = round2(e.cpuMs / (wholeProcess.attacheTranslate.cpuMs ?? 1));
}

// 2. In process, in a child so its peak RSS is the compiler's alone.
progress('in process: full compiles');
const child = spawnSync(
  process.execPath,
  ['--import', 'tsx', path.join(HERE, 'in-process.ts'), inDir, values.runs, '2'],
  { encoding: 'utf8', maxBuffer: 16 << 20 },
);
if (child.status !== 0) throw new Error(`in-process compile failed:\n${child.stderr.slice(-3000)}`);
const inProc = JSON.parse(child.stdout.trim().split('\n').at(-1) ?? '{}') as {
  loadMs: number;
  compileMs: number[];
  peakRssBytes: number;
  resources: number;
  diagnostics: number;
  bytesByType: Record<string, number>;
};
const inProcess = {
  runs: inProc.compileMs.length,
  compileMs: dist(inProc.compileMs),
  loadYamlMs: Math.round(inProc.loadMs),
  peakRssMiB: round2(inProc.peakRssBytes / 2 ** 20),
  resources: inProc.resources,
  diagnostics: inProc.diagnostics,
  snapshotBytesByType: inProc.bytesByType,
  snapshotBytes: Object.values(inProc.bytesByType).reduce((a, b) => a + b, 0),
};

// 3. Through the tiers.
let tiers: TierResult | { skipped: string };
if (values['no-tiers']) tiers = { skipped: 'disabled with --no-tiers' };
else {
  const logFile = defaultLogFile();
  tiers = await measureTiers(inDir, shape, {
    changes: Number(values.changes),
    burst: Number(values.burst),
    debounceMs: Number(values['debounce-ms']),
    maxDelayMs: 500,
    timeoutMs: Number(values['timeout-s']) * 1000,
    logFile,
  });
  fs.rmSync(logFile, { force: true });
}

const result = {
  bench: 'compile',
  at: new Date().toISOString(),
  shape,
  machine: { ...machine, loadAvg1mAtEnd: os.loadavg()[0] ?? 0 },
  wholeProcess,
  inProcess,
  tiers,
};
fs.rmSync(scratch, { recursive: true, force: true });
const resultsDir = path.join(HERE, '../results');
fs.mkdirSync(resultsDir, { recursive: true });
const file = path.join(resultsDir, `compile-${mappings}-${result.at.replace(/[:.]/g, '-')}.json`);
fs.writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
if (values.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
else process.stdout.write(summary(result, file));

function round2(v: number): number {
  return Math.round(v * 100) / 100;
}

function summary(r: typeof result, file: string): string {
  const w = r.wholeProcess;
  const e = w.emissary as { wallMs?: number; cpuMs?: number; skipped?: string };
  const lines = [
    `compile bench: ${r.shape.mappings} Mappings, ${r.shape.services} Services, ${r.shape.endpoints} endpoints, ${r.shape.hosts} Hosts`,
    `machine: ${r.machine.cpus} cores, load ${r.machine.loadAvg1m.toFixed(1)} → ${r.machine.loadAvg1mAtEnd.toFixed(1)}, node ${r.machine.node}`,
    `whole process (median of ${w.rounds}): attache translate ${w.attacheTranslate.wallMs} ms wall / ${w.attacheTranslate.cpuMs} ms CPU`,
    e.skipped
      ? `  Emissary: skipped (${e.skipped})`
      : `  Emissary ${e.wallMs} ms wall / ${e.cpuMs} ms CPU → attaché ${w.speedupWall}× (wall), ${w.speedupCpu}× (CPU)`,
    `in process: full compile p50 ${r.inProcess.compileMs?.p50} ms (min ${r.inProcess.compileMs?.min}, ${r.inProcess.runs} warm runs), peak RSS ${r.inProcess.peakRssMiB} MiB, ${r.inProcess.resources} resources, ${r.inProcess.snapshotBytes} bytes`,
  ];
  const t = r.tiers as TierResult & { skipped?: string };
  if (t.skipped) lines.push(`tiers: skipped (${t.skipped})`);
  else {
    lines.push(
      `tiers (${t.events} objects, debounce ${t.debounceMs} ms): compiler ready in ${Math.round(t.startupMs)} ms, peak RSS ${round2((t.compilerPeakRssBytes ?? 0) / 2 ** 20)} MiB`,
      `  one Mapping → committed: p50 ${t.mappingChangeMs?.p50} / p99 ${t.mappingChangeMs?.p99} ms (excl. debounce ${t.mappingChangeExclDebounceMs?.p50} / ${t.mappingChangeExclDebounceMs?.p99})`,
      `  one endpoint → committed: p50 ${t.endpointChangeMs?.p50} / p99 ${t.endpointChangeMs?.p99} ms (excl. debounce ${t.endpointChangeExclDebounceMs?.p50} / ${t.endpointChangeExclDebounceMs?.p99})`,
      `  burst of ${t.burst.changes}: ${t.burst.versionsCommitted} versions, last commit ${t.burst.lastEventToLastCommitMs} ms after the last event`,
    );
  }
  lines.push(`result: ${file}`, '');
  return lines.join('\n');
}
