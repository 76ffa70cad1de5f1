/**
 * `npm run bench:fleet -- --streams N --mode sotw|delta …` (flags in options.ts).
 *
 * Exit codes: 0 every phase passed; 1 a phase failed (the result still says which); 2 usage;
 * 3 the fan-out refused the ADS method (e.g. delta before it exists): nothing was measured.
 * Progress goes to stderr; stdout carries the summary (or the JSON with --json).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type CliOptions, parseCli, USAGE, UsageError } from './options.ts';
import { markdownReport, summaryLines } from './report.ts';
import { ProtocolRefusedError, RunResources, runFleetBenchmark } from './run-fleet.ts';

const say = (line: string) => process.stderr.write(`[bench:fleet] ${line}\n`);

let opts: CliOptions;
try {
  opts = parseCli(process.argv.slice(2));
} catch (err) {
  if (err instanceof UsageError) {
    if (err.message) process.stderr.write(`bench:fleet: ${err.message}\n\n`);
    process.stderr.write(USAGE);
    process.exit(err.message ? 2 : 0);
  }
  throw err;
}

const stamp = new Date()
  .toISOString()
  .replace(/[-:]/g, '')
  .replace(/\.\d+Z$/, 'Z');
const base = `fleet-${opts.mode}-${opts.streams}-${stamp}`;
const logDir = path.join(os.tmpdir(), `attache-${base}`);
const resources = new RunResources();

let tearingDown = false;
async function teardownAndExit(code: number, why?: string): Promise<never> {
  if (why) say(why);
  if (!tearingDown) {
    tearingDown = true;
    const bound = setTimeout(() => {
      resources.killNow();
      process.exit(code);
    }, 15_000);
    await resources.close();
    clearTimeout(bound);
  }
  process.exit(code);
}

for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => void teardownAndExit(130, `${sig}: stopping every process this run started`));
}
process.once('exit', () => resources.killNow());
const hardLimit = setTimeout(
  () => void teardownAndExit(1, `hard limit of ${opts.timeoutS} s reached; aborting`),
  opts.timeoutS * 1000,
);
hardLimit.unref();

try {
  const result = await runFleetBenchmark(
    {
      mode: opts.mode,
      streams: opts.streams,
      processes: opts.processes,
      streamsPerChannel: opts.streamsPerChannel,
      connectRatePerS: opts.connectRatePerS,
      holdS: opts.holdS,
      services: opts.services,
      routes: opts.routes,
      hosts: opts.hosts,
      vhds: opts.vhds,
      grpcClients: opts.grpcClients,
      ...(opts.fanoutUrl ? { fanoutUrl: opts.fanoutUrl } : {}),
      ...(opts.fanoutPid ? { fanoutPid: opts.fanoutPid } : {}),
      changes: !opts.fanoutUrl,
      storm: opts.storm && !opts.fanoutUrl,
      logDir,
      say,
    },
    resources,
  );
  await resources.close();
  fs.mkdirSync(opts.outDir, { recursive: true });
  const jsonFile = path.join(opts.outDir, `${base}.json`);
  const mdFile = path.join(opts.outDir, `${base}.md`);
  fs.writeFileSync(jsonFile, `${JSON.stringify(result, null, 2)}\n`);
  fs.writeFileSync(mdFile, markdownReport(result));
  if (opts.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  else process.stdout.write(`${summaryLines(result).join('\n')}\n`);
  say(`wrote ${jsonFile} and ${mdFile}`);
  process.exit(result.ok ? 0 : 1);
} catch (err) {
  if (err instanceof ProtocolRefusedError) {
    await teardownAndExit(
      3,
      `${opts.mode} mode cannot be measured: ${err.message}. No numbers were recorded.`,
    );
  }
  await teardownAndExit(1, `benchmark failed: ${(err as Error).stack ?? String(err)}`);
}
