/**
 * Benchmark: the compiler at scale.
 *
 *   npm run bench:compile -- --mappings N [--endpoints M] [--services S] [--hosts H] [--runs R]
 *       [--rounds K] [--changes C] [--burst B] [--debounce-ms D] [--checkpoint-events E]
 *       [--checkpoint-restarts R2]
 *       [--translate-sizes N1,N2,…] [--file-changes F] [--watch-debounce-ms W]
 *       [--no-tiers] [--no-emissary] [--json]
 *
 * Generates N Mappings over S Services (default N/5) with M endpoints (default 5·S) in
 * EndpointSlices, H Hosts (default 5) and the default Listeners (loadtest/compile/generate.ts), then:
 *   1. whole process: `attache --help` (10 runs), and `attache translate` (compiled build) vs
 *      Emissary 4.1's compiler when ../shared/emissary-reference is present, K interleaved rounds,
 *      wall and CPU time, ratio, at N and at every size of --translate-sizes;
 *   2. in process: full compile() of the loaded records, median of R warm runs (and R one-Mapping
 *      changes through the incremental compiler), peak RSS of that
 *      process, encoded snapshot size per type;
 *   3. tiers (tiers.ts): real NATS + Redis + `attache compile`: start-up, one Mapping change and
 *      one endpoint change → committed (p50/p99, debounce stated and subtracted), a B-change burst,
 *      then F Mappings changed in mappings.yaml through a real `attache ingest fs`
 *      (file-changes.ts: from the file write and from the event, debounces subtracted);
 *   4. checkpoint start-up (checkpoint-startup.ts): the log grown to E events (default 100,000),
 *      the compiler restarted: time to ready and committed from its newest checkpoint, and with
 *      checkpoints off (the whole log folded).
 * Writes loadtest/results/compile-<N>-<timestamp>.json and prints a summary (or the JSON).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';
import { DESCRIPTOR_FILE } from '../../proto/descriptor.ts';
import { dist } from '../fleet/stats.ts';
import type { CheckpointStartup } from './checkpoint-startup.ts';
import type { FileChangeResult } from './file-changes.ts';
import { type BenchShape, writeInput } from './generate.ts';
import { defaultLogFile, measureTiers, progress, type TierResult } from './tiers.ts';
import {
  emissaryAvailable,
  type ProcessRun,
  runAttacheHelp,
  runAttacheTranslate,
  runEmissary,
} from './whole-process.ts';

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
    'checkpoint-events': { type: 'string', default: '100000' },
    'checkpoint-restarts': { type: 'string', default: '3' },
    'file-changes': { type: 'string' },
    'watch-debounce-ms': { type: 'string', default: '50' },
    'translate-sizes': { type: 'string' },
    'no-tiers': { type: 'boolean', default: false },
    'no-emissary': { type: 'boolean', default: false },
    'timeout-s': { type: 'string', default: '600' },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
const USAGE = `usage: npm run bench:compile -- --mappings N [options]
  --endpoints M            endpoints in EndpointSlices (default 5 per Service)
  --services S             Services (default N/5)
  --hosts H                Hosts (default 5)
  --runs R                 warm in-process compiles, median reported (default 5)
  --rounds K               interleaved whole-process rounds, attache vs Emissary (default 3)
  --translate-sizes A,B    also run the whole-process comparison at these Mapping counts
  --changes C              one-Mapping and one-endpoint changes through the tiers (default 20)
  --burst B                changes in the burst (default 500)
  --debounce-ms D          compiler debounce, subtracted from every latency (default 50)
  --checkpoint-events E    log length for the checkpoint start-up tier (default 100000; 0 skips)
  --checkpoint-restarts R  restarts from the checkpoint, median reported (default 3)
  --file-changes F         Mapping edits in mappings.yaml through attache ingest fs (default C; 0 skips)
  --watch-debounce-ms W    fs ingestor debounce, subtracted (default 50)
  --no-tiers               skip the real NATS/Redis tiers
  --no-emissary            skip Emissary's compiler
  --timeout-s T            give up after T seconds (default 600)
  --json                   print the JSON result instead of the summary
(see loadtest/compile/main.ts for what each tier measures)
`;
if (values.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}
if (!values.mappings) {
  process.stderr.write(USAGE);
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

// 1. Whole process, interleaved, at every size asked for (each its own generated input).
const rounds = Number(values.rounds);
const emissarySkip = values['no-emissary'] ? 'disabled with --no-emissary' : emissaryAvailable();
const median = (xs: number[]) => dist(xs)?.p50 ?? null;
const sizes = (values['translate-sizes'] ?? String(mappings))
  .split(',')
  .map(Number)
  .filter((n) => n > 0);
const bySize = [];
for (const n of sizes) {
  const dir = n === mappings ? inDir : path.join(scratch, `in-${n}`);
  if (n !== mappings) {
    const s = Math.max(1, Math.round(n / 5));
    writeInput(dir, { mappings: n, services: s, endpoints: s * 5, hosts: shape.hosts });
  }
  const attacheRuns: ProcessRun[] = [];
  const emissaryRuns: ProcessRun[] = [];
  let emissaryError: string | null = emissarySkip;
  for (let r = 0; r < rounds; r++) {
    progress(`whole process at ${n} Mappings: round ${r + 1} of ${rounds}`);
    attacheRuns.push(await runAttacheTranslate(dir, path.join(scratch, 'attache-out')));
    if (emissaryError === null) {
      try {
        emissaryRuns.push(await runEmissary(dir, path.join(scratch, 'emissary-out')));
      } catch (err) {
        emissaryError = err instanceof Error ? err.message.slice(0, 500) : String(err);
      }
    }
  }
  const attache = {
    wallMs: median(attacheRuns.map((r) => r.wallMs)),
    cpuMs: median(attacheRuns.map((r) => r.cpuMs)),
  };
  const emissary =
    emissaryRuns.length > 0
      ? { wallMs: median(emissaryRuns.map((r) => r.wallMs)), cpuMs: median(emissaryRuns.map((r) => r.cpuMs)) }
      : null;
  bySize.push({
    mappings: n,
    attacheTranslate: attache,
    emissary: emissary ?? { skipped: emissaryError },
    speedupWall: emissary ? round2((emissary.wallMs ?? 0) / (attache.wallMs ?? 1)) : null,
    speedupCpu: emissary ? round2((emissary.cpuMs ?? 0) / (attache.cpuMs ?? 1)) : null,
  });
}
// `attache --help`: the CLI's start-up (module graph and proto descriptor), median of 10 runs.
const helpRuns: number[] = [];
for (let r = 0; r < 10; r++) helpRuns.push((await runAttacheHelp()).wallMs);
const wholeProcess = { rounds, bySize, attacheHelpMs: dist(helpRuns) };

// 2. In process, in a child so its peak RSS is the compiler's alone. The child is bundled as
// dist/ is (scripts/build.ts: esbuild, no keepNames, the proto descriptor beside it), so it runs
// the code `attache compile` runs, without tsx's per-function wrappers.
progress('in process: full compiles');
const bundleDir = path.join(HERE, '../../.tmp', `bench-in-process-${process.pid}`);
await build({
  entryPoints: [path.join(HERE, 'in-process.ts')],
  outfile: path.join(bundleDir, 'in-process.js'),
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  logLevel: 'warning',
});
fs.mkdirSync(path.join(bundleDir, 'gen'), { recursive: true });
fs.copyFileSync(
  path.join(HERE, '../../proto/gen', DESCRIPTOR_FILE),
  path.join(bundleDir, 'gen', DESCRIPTOR_FILE),
);
const child = spawnSync(
  process.execPath,
  ['--expose-gc', path.join(bundleDir, 'in-process.js'), inDir, values.runs, '2'],
  {
    encoding: 'utf8',
    maxBuffer: 16 << 20,
  },
);
fs.rmSync(bundleDir, { recursive: true, force: true });
if (child.status !== 0) throw new Error(`in-process compile failed:\n${child.stderr.slice(-3000)}`);
const inProc = JSON.parse(child.stdout.trim().split('\n').at(-1) ?? '{}') as {
  loadMs: number;
  compileMs: number[];
  compileCpuMs: number[];
  incrementalMs: number[];
  fullPeakRssBytes: number;
  liveHeapBytes: number | null;
  peakRssBytes: number;
  resources: number;
  diagnostics: number;
  bytesByType: Record<string, number>;
};
const inProcess = {
  runs: inProc.compileMs.length,
  compileMs: dist(inProc.compileMs),
  compileCpuMs: dist(inProc.compileCpuMs),
  /** One Mapping changed, incremental compile (incremental.ts), R runs. */
  incrementalCompileMs: dist(inProc.incrementalMs),
  loadYamlMs: Math.round(inProc.loadMs),
  /** Peak RSS after loading and the full compiles, before the incremental compiler ran. */
  fullCompilePeakRssMiB: round2(inProc.fullPeakRssBytes / 2 ** 20),
  /**
   * The heap after a full collection at that point, the records and the last result still held:
   * what the process holds. The peak RSS above is mostly garbage not yet collected.
   */
  fullCompileLiveHeapMiB: inProc.liveHeapBytes === null ? null : round2(inProc.liveHeapBytes / 2 ** 20),
  /** Peak RSS at the end, the incremental compiler and its caches included. */
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
    checkpointEvents: Number(values['checkpoint-events']),
    checkpointRestarts: Number(values['checkpoint-restarts']),
    fileChanges: Number(values['file-changes'] ?? values.changes),
    watchDebounceMs: Number(values['watch-debounce-ms']),
  });
  // ATTACHE_BENCH_KEEP_LOG=1 keeps the children's log (the compiler's commit lines carry phase timings).
  if (process.env.ATTACHE_BENCH_KEEP_LOG === '1') progress(`children's log kept: ${logFile}`);
  else fs.rmSync(logFile, { force: true });
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
  const lines = [
    `compile bench: ${r.shape.mappings} Mappings, ${r.shape.services} Services, ${r.shape.endpoints} endpoints, ${r.shape.hosts} Hosts`,
    `machine: ${r.machine.cpus} cores, load ${r.machine.loadAvg1m.toFixed(1)} → ${r.machine.loadAvg1mAtEnd.toFixed(1)}, node ${r.machine.node}`,
    `attache --help: p50 ${w.attacheHelpMs?.p50} ms, min ${w.attacheHelpMs?.min} ms (10 runs)`,
    ...w.bySize.flatMap((x) => {
      const e = x.emissary as { wallMs?: number; cpuMs?: number; skipped?: string };
      return [
        `whole process at ${x.mappings} Mappings (median of ${w.rounds}): attache translate ${x.attacheTranslate.wallMs} ms wall / ${x.attacheTranslate.cpuMs} ms CPU`,
        e.skipped
          ? `  Emissary: skipped (${e.skipped})`
          : `  Emissary ${e.wallMs} ms wall / ${e.cpuMs} ms CPU → attaché ${x.speedupWall}× faster (wall), ${x.speedupCpu}× (CPU)`,
      ];
    }),
    `in process: full compile p50 ${r.inProcess.compileMs?.p50} ms (min ${r.inProcess.compileMs?.min}, ${r.inProcess.runs} warm runs; CPU p50 ${r.inProcess.compileCpuMs?.p50} ms, min ${r.inProcess.compileCpuMs?.min}), peak RSS ${r.inProcess.fullCompilePeakRssMiB} MiB (live heap after a full collection ${r.inProcess.fullCompileLiveHeapMiB} MiB); one Mapping changed (incremental) p50 ${r.inProcess.incrementalCompileMs?.p50} ms, peak RSS with the incremental compiler ${r.inProcess.peakRssMiB} MiB; ${r.inProcess.resources} resources, ${r.inProcess.snapshotBytes} bytes`,
  ];
  const t = r.tiers as TierResult & { skipped?: string };
  if (t.skipped) lines.push(`tiers: skipped (${t.skipped})`);
  else {
    lines.push(
      `tiers (${t.events} objects, debounce ${t.debounceMs} ms): compiler ready in ${Math.round(t.startupMs)} ms, peak RSS ${round2((t.compilerPeakRssBytes ?? 0) / 2 ** 20)} MiB`,
      `  one Mapping → committed: p50 ${t.mappingChangeMs?.p50} / p99 ${t.mappingChangeMs?.p99} ms (excl. debounce ${t.mappingChangeExclDebounceMs?.p50} / ${t.mappingChangeExclDebounceMs?.p99})`,
      `  one endpoint → committed: p50 ${t.endpointChangeMs?.p50} / p99 ${t.endpointChangeMs?.p99} ms (excl. debounce ${t.endpointChangeExclDebounceMs?.p50} / ${t.endpointChangeExclDebounceMs?.p99})`,
      `  written to Redis per change (p50 / p99 bytes): one Mapping ${t.mappingChangeRedisBytes?.p50} / ${t.mappingChangeRedisBytes?.p99}, one endpoint ${t.endpointChangeRedisBytes?.p50} / ${t.endpointChangeRedisBytes?.p99}`,
      `  first Mapping change right after ready (overlapping the first commit's status writes, excl. debounce): ${round2(t.firstMappingAfterReadyMs - t.debounceMs)} ms; the series above started after they settled (${t.statusSettleMs} ms later)`,
      `  Redis per command: ${t.redisCommandStats.join('; ')}`,
      `  endpoint fast path: ${t.fastPathCommits} of the endpoint changes; Mapping fast path: ${t.mappingFastPathCommits} of the Mapping changes`,
      `  burst of ${t.burst.changes}: ${t.burst.versionsCommitted} versions, last commit ${t.burst.lastEventToLastCommitMs} ms after the last event (max delay 500 ms)`,
    );
    const g = t.seriesGc;
    if (g)
      lines.push(
        `  compiler GC over the ${g.commits} commits of the series: ${g.scavenges} scavenges, ${g.markCompacts} mark-compacts, pauses ${g.pauseMs} ms + marking steps ${g.markingStepsMs} ms (longest ${g.longestMs} ms), ~${g.allocatedMb} MB allocated; per commit ${g.perCommit.scavenges} scavenges, ${g.perCommit.markCompacts} mark-compacts, ${g.perCommit.pauseMs} + ${g.perCommit.markingStepsMs} ms, ~${g.perCommit.allocatedMb} MB`,
      );
    const cp = t.seriesCommitPhases;
    if (cp)
      lines.push(
        `  the compiler's split of those commits (p50 / p99 ms): compile ${cp.compileMs?.p50} / ${cp.compileMs?.p99}, snapshot ${cp.snapshotMs?.p50} / ${cp.snapshotMs?.p99}, store ${cp.storeMs?.p50} / ${cp.storeMs?.p99}, debounce timer late ${cp.timerLateMs?.p50} / ${cp.timerLateMs?.p99}`,
      );
    const f = t.fileChanges as FileChangeResult & { skipped?: string };
    lines.push(
      f.skipped
        ? `  YAML file changes: skipped (${f.skipped})`
        : `  one Mapping changed in the YAML file (real fs ingestor, ready in ${Math.round(f.ingestorStartupMs)} ms, peak RSS ${round2((f.ingestorPeakRssBytes ?? 0) / 2 ** 20)} MiB), ${f.changes} changes:\n` +
            `    from the file write: p50 ${f.fromWriteMs?.p50} / p99 ${f.fromWriteMs?.p99} ms (excl. watch debounce ${f.watchDebounceMs} + compiler debounce ${f.compilerDebounceMs}: ${f.fromWriteExclDebounceMs?.p50} / ${f.fromWriteExclDebounceMs?.p99})\n` +
            `    from its event in the log: p50 ${f.fromEventMs?.p50} / p99 ${f.fromEventMs?.p99} ms (excl. compiler debounce: ${f.fromEventExclDebounceMs?.p50} / ${f.fromEventExclDebounceMs?.p99})\n` +
            `    the ingestor's share, file write → event in the log: p50 ${f.writeToEventMs?.p50} / p99 ${f.writeToEventMs?.p99} ms (excl. watch debounce: ${f.writeToEventExclDebounceMs?.p50} / ${f.writeToEventExclDebounceMs?.p99})`,
    );
    const c = t.checkpointStartup as CheckpointStartup & { skipped?: string };
    lines.push(
      c.skipped
        ? `  checkpoint start-up time: skipped (${c.skipped})`
        : `  checkpoint start-up time: ${c.fromCheckpointMs} ms to ready and committed (median of ${JSON.stringify(c.fromCheckpointRunsMs)}) on a ${c.logEvents}-event log (checkpoint at ${c.checkpointSeq}, ${c.checkpointBytes} bytes loaded in ${c.checkpointLoadMs === null ? '?' : Math.round(c.checkpointLoadMs)} ms, ${c.tailEventsFolded} tail events folded); without checkpoints ${c.fromZeroMs} ms`,
    );
    if (!c.skipped) {
      const ph = (x: CheckpointStartup['fromZeroPhases']) =>
        `process up and connected ${x.connected} ms, leader ${x.leader} ms, ${x.checkpointLoaded !== null ? `checkpoint loaded ${x.checkpointLoaded} ms, ` : ''}folded+compiled+committed ${x.caughtUp} ms`;
      lines.push(
        `    from checkpoint (ms after spawn): ${ph(c.fromCheckpointPhases)}`,
        `    without checkpoints (ms after spawn): ${ph(c.fromZeroPhases)}`,
        `    the compiler's start-up steps (ms): from checkpoint ${JSON.stringify(c.fromCheckpointSteps)}, without ${JSON.stringify(c.fromZeroSteps)}`,
      );
    }
  }
  lines.push(`result: ${file}`, '');
  return lines.join('\n');
}
