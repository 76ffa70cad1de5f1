/**
 * Whole-process compile times, as a user runs them: `attache translate` (the compiled build) and,
 * when the team's reference checkout is present, Emissary 4.1's own compiler
 * (`../shared/emissary-reference/run.sh`), on the same YAML, interleaved round by round so machine
 * load hits both alike. Each run reports wall time and the child's CPU time (user + system),
 * which load disturbs less.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/**
 * The team kit sits beside the main checkout (`../shared`) and two levels up from a worktree in
 * /work/wt/<name>; ATTACHE_EMISSARY_REFERENCE names another checkout.
 */
export const EMISSARY_RUN =
  [
    process.env.ATTACHE_EMISSARY_REFERENCE,
    path.resolve(ROOT, '../shared/emissary-reference'),
    path.resolve(ROOT, '../../shared/emissary-reference'),
  ]
    .filter((d): d is string => !!d)
    .map((d) => path.join(d, 'run.sh'))
    .find((f) => fs.existsSync(f)) ?? path.resolve(ROOT, '../shared/emissary-reference/run.sh');
/** This tree's `bin/attache.js`, or ATTACHE_BENCH_BIN: another build's (a copy of main's, for before/after runs). */
const BIN = process.env.ATTACHE_BENCH_BIN ?? path.join(ROOT, 'bin/attache.js');

export interface ProcessRun {
  wallMs: number;
  cpuMs: number;
}

/** Runs a command to completion; rejects on a non-zero exit with its output's tail. */
function timed(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<ProcessRun> {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    let out = '';
    const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (b: Buffer) => (out = (out + b.toString()).slice(-4000)));
    child.stderr.on('data', (b: Buffer) => (out = (out + b.toString()).slice(-4000)));
    child.once('exit', (code) => {
      const wallMs = performance.now() - start;
      const cpuMs = childCpuMsSinceLast();
      if (code !== 0) reject(new Error(`${path.basename(cmd)} exited with ${code}:\n${out}`));
      else resolve({ wallMs, cpuMs });
    });
  });
}

let lastChildCpu = readChildCpuMs();

/**
 * CPU time of this process's reaped children (cutime + cstime of /proc/self/stat; Node exposes no
 * RUSAGE_CHILDREN). Runs are sequential, so the difference across one run is that run's process
 * tree. Clock ticks are 100 Hz on Linux.
 */
function readChildCpuMs(): number {
  const stat = fs.readFileSync('/proc/self/stat', 'utf8');
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(rest[13]) + Number(rest[14])) * 10;
}

function childCpuMsSinceLast(): number {
  const now = readChildCpuMs();
  const d = now - lastChildCpu;
  lastChildCpu = now;
  return d;
}

export function runAttacheTranslate(inDir: string, outDir: string): Promise<ProcessRun> {
  return timed(process.execPath, [
    BIN,
    'translate',
    '--config',
    inDir,
    '--out',
    outDir,
    '--cluster',
    'bench',
  ]);
}

/** `attache --help`: what the CLI costs to start (module graph, proto descriptor). */
export function runAttacheHelp(): Promise<ProcessRun> {
  return timed(process.execPath, [BIN, '--help']);
}

/** Whether the reference compiler can run here, or why not. */
export function emissaryAvailable(): string | null {
  return fs.existsSync(EMISSARY_RUN) ? null : `${EMISSARY_RUN} is absent`;
}

export function runEmissary(inDir: string, outDir: string): Promise<ProcessRun> {
  return timed(EMISSARY_RUN, [inDir, outDir]);
}
