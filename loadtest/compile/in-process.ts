/**
 * Child process of `npm run bench:compile`: loads the generated YAML the way `attache translate`
 * does and runs the full in-process compile `runs` times after `warmup` runs, so the numbers are
 * of one warm compiler and its own peak RSS. Prints one JSON line:
 * { loadMs, compileMs: [...], peakRssBytes, resources, bytesByType }.
 *
 *   node --import tsx loadtest/compile/in-process.ts DIR RUNS WARMUP
 */
import fs from 'node:fs';
import { compile, type SourceRecord } from '../../services/compiler/compile.ts';
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
let last: ReturnType<typeof compile> | undefined;
for (let i = 0; i < Number(warmupArg) + Number(runsArg); i++) {
  const t = performance.now();
  last = compile(records, { group: 'default' });
  if (i >= Number(warmupArg)) compileMs.push(performance.now() - t);
}
const bytesByType: Record<string, number> = {};
for (const r of last?.resources ?? []) {
  const t = shortName(r.typeUrl);
  bytesByType[t] = (bytesByType[t] ?? 0) + r.bytes.length;
}
const hwm = /^VmHWM:\s+(\d+)\s+kB/m.exec(fs.readFileSync('/proc/self/status', 'utf8'));
process.stdout.write(
  `${JSON.stringify({
    loadMs,
    compileMs,
    peakRssBytes: hwm ? Number(hwm[1]) * 1024 : process.resourceUsage().maxRSS * 1024,
    resources: last?.resources.length ?? 0,
    diagnostics: last?.diagnostics.length ?? 0,
    bytesByType,
  })}\n`,
);
