/**
 * Child process of `npm run bench:compile`: loads the generated YAML the way `attache translate`
 * does and runs the full in-process compile `runs` times after `warmup` runs, so the numbers are
 * of one warm compiler and its own peak RSS; then, with the runner's incremental compiler warm,
 * changes one Mapping (its timeout) `runs` times and times each compile, checking the last one's
 * output against a full compile of the same records. Prints one JSON line:
 * { loadMs, compileMs: [...], compileCpuMs: [...], incrementalMs: [...], fullPeakRssBytes (before the incremental part),
 * liveHeapBytes (the heap after a full collection at that point), peakRssBytes (at the end),
 * resources, bytesByType }.
 *
 *   node --import tsx loadtest/compile/in-process.ts DIR RUNS WARMUP   (the bench runs it bundled)
 */
import fs from 'node:fs';
import { compile } from '../../services/compiler/compile.ts';
import type { SourceRecord } from '../../services/compiler/contracts.ts';
import { IncrementalCompiler } from '../../services/compiler/incremental.ts';
import { loadDirectory } from '../../services/ingestor/fs/load-directory.ts';
import { shortName } from '../../shared/xds/type-urls.ts';

const [dir = '', runsArg = '5', warmupArg = '2'] = process.argv.slice(2);
const t0 = performance.now();
const { documents } = await loadDirectory(dir);
const records: SourceRecord[] = documents.map((d) => ({
  cluster: 'bench',
  object: d.object,
  origin: { file: d.file, document: d.document },
}));
const loadMs = performance.now() - t0;
const compileMs: number[] = [];
// CPU time of the process (its main thread and V8's helper threads: concurrent marking, sweeping)
// per compile: on a shared machine the wall time also counts other processes' turns.
const compileCpuMs: number[] = [];
let last: ReturnType<typeof compile> | undefined;
for (let i = 0; i < Number(warmupArg) + Number(runsArg); i++) {
  const t = performance.now();
  const cpu = process.cpuUsage();
  last = compile(records, { group: 'default' });
  if (i >= Number(warmupArg)) {
    compileMs.push(performance.now() - t);
    const used = process.cpuUsage(cpu);
    compileCpuMs.push((used.user + used.system) / 1000);
  }
}
// The process's peak so far is that of loading and full compiles alone (issue 10's "compiler RSS").
const fullPeakRssBytes = peakRss();
// What that process holds: its heap after a full collection, with the records and the last result
// still referenced (as a compiler holds its world state and latest output). The peak above is
// mostly garbage V8 had not collected yet: it lets the old generation grow to a few times what
// survived its last full collection before collecting again. (The child runs with --expose-gc,
// used here only, after the peak was read.)
const gc = (globalThis as { gc?: () => void }).gc;
gc?.();
gc?.();
const liveHeapBytes = gc && last ? process.memoryUsage().heapUsed : null;
// One Mapping changed, through the incremental compiler the runner uses (warmed by one compile).
const incremental = new IncrementalCompiler('default');
incremental.compile(records, { group: 'default' });
const incrementalMs: number[] = [];
let current = records;
let changedResult: ReturnType<typeof compile> | undefined;
const mappingAt = records.flatMap((r, i) => (r.object.kind === 'Mapping' ? [i] : []));
for (let i = 0; i < Number(runsArg); i++) {
  const at = mappingAt[(i * 997) % mappingAt.length] ?? 0;
  const r = current[at]!;
  current = [...current];
  const spec = r.object.spec as Record<string, unknown>;
  current[at] = { ...r, object: { ...r.object, spec: { ...spec, timeout_ms: 1000 + i } } };
  const t = performance.now();
  changedResult = incremental.compile(current, { group: 'default' });
  incrementalMs.push(performance.now() - t);
}
if (changedResult) {
  const full = compile(current, { group: 'default' });
  const same =
    full.resources.length === changedResult.resources.length &&
    full.resources.every((r, i) => r.hash === changedResult?.resources[i]?.hash);
  if (!same) throw new Error('incremental compile differs from the full compile of the same records');
}
const bytesByType: Record<string, number> = {};
for (const r of last?.resources ?? []) {
  const t = shortName(r.typeUrl);
  bytesByType[t] = (bytesByType[t] ?? 0) + r.bytes.length;
}
process.stdout.write(
  `${JSON.stringify({
    loadMs,
    compileMs,
    compileCpuMs,
    incrementalMs,
    fullPeakRssBytes,
    liveHeapBytes,
    peakRssBytes: peakRss(),
    resources: last?.resources.length ?? 0,
    diagnostics: last?.diagnostics.length ?? 0,
    bytesByType,
  })}\n`,
);

/** This process's peak RSS (VmHWM). */
function peakRss(): number {
  const hwm = /^VmHWM:\s+(\d+)\s+kB/m.exec(fs.readFileSync('/proc/self/status', 'utf8'));
  return hwm ? Number(hwm[1]) * 1024 : process.resourceUsage().maxRSS * 1024;
}
