/**
 * Emissary 4.1's own Python compiler, run offline through `emissary-reference/run.sh` (see its
 * README). It is not part of the project: `findOracle` says why it cannot run (no reference
 * directory, missing Python modules) so differential tests skip with that message.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Where the reference may be: `ATTACHE_EMISSARY_REFERENCE`, else `../shared/` of the checkout (or of its worktree parent). */
function candidates(): string[] {
  const env = process.env.ATTACHE_EMISSARY_REFERENCE;
  if (env) return [env];
  return [
    path.join(ROOT, '../shared/emissary-reference'),
    path.join(ROOT, '../../shared/emissary-reference'),
  ];
}

export type Oracle = { ok: true; runScript: string } | { ok: false; reason: string };

/** Finds the reference and checks that it runs (one empty compile, about a second). */
export async function findOracle(): Promise<Oracle> {
  const dir = candidates().find((d) => fs.existsSync(path.join(d, 'run.sh')));
  if (!dir)
    return { ok: false, reason: `no Emissary reference compiler (looked in ${candidates().join(', ')})` };
  const runScript = path.join(dir, 'run.sh');
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'attache-oracle-'));
  try {
    fs.mkdirSync(path.join(tmp, 'in'));
    await run(runScript, path.join(tmp, 'in'), path.join(tmp, 'out'));
    return { ok: true, runScript };
  } catch (err) {
    const text = String((err as Error).message)
      .split('\n')
      .filter(Boolean)
      .slice(-2)
      .join(' ');
    return {
      ok: false,
      reason: `Emissary reference compiler at ${dir} cannot run (${text}; see its setup.sh)`,
    };
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/** Compiles YAML texts with Emissary's compiler in one process; returns each ADS configuration (`econf.json`). */
export async function compileWithEmissary(
  runScript: string,
  yamlTexts: readonly string[],
): Promise<Record<string, unknown>[]> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'attache-oracle-'));
  try {
    const name = (i: number) => String(i).padStart(6, '0');
    yamlTexts.forEach((text, i) => {
      fs.mkdirSync(path.join(tmp, 'in', name(i)), { recursive: true });
      fs.writeFileSync(path.join(tmp, 'in', name(i), 'config.yaml'), text);
    });
    fs.mkdirSync(path.join(tmp, 'in'), { recursive: true });
    await run(runScript, path.join(tmp, 'in'), path.join(tmp, 'out'), BATCH_PYTHON);
    return yamlTexts.map((_, i) => {
      const dir = path.join(tmp, 'out', name(i));
      const error = path.join(dir, 'error.txt');
      if (fs.existsSync(error))
        throw new Error(`Emissary's compiler failed: ${fs.readFileSync(error, 'utf8')}`);
      return JSON.parse(fs.readFileSync(path.join(dir, 'econf.json'), 'utf8')) as Record<string, unknown>;
    });
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/** run.sh's PYTHON: the batch driver, so many configurations share one Python start. */
const BATCH_PYTHON = path.join(path.dirname(fileURLToPath(import.meta.url)), 'emissary-batch.sh');

function run(script: string, inDir: string, outDir: string, python?: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const env = python ? { ...process.env, PYTHON: python } : process.env;
    execFile('bash', [script, inDir, outDir], { timeout: 600_000, env }, (err, _stdout, stderr) => {
      if (err) reject(new Error(`${err.message}\n${stderr}`));
      else resolve();
    });
  });
}
