/**
 * Runs the test suite with node:test. Node 20 does not expand globs, so this finds every
 * `*.test.ts` under the source folders (or runs the files given as arguments) and hands them to
 * `node --import tsx --test` with the TAP reporter, whose summary CI reads.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const ROOTS = ['shared', 'services', 'proto', 'test', 'loadtest', 'scripts'];

function find(dir: string, out: string[]): void {
  if (!fs.existsSync(dir)) return;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name === 'gen') continue;
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) find(p, out);
    else if (entry.name.endsWith('.test.ts')) out.push(p);
  }
}

const args = process.argv.slice(2);
const files: string[] = [];
if (args.length > 0) files.push(...args);
else for (const r of ROOTS) find(r, files);
files.sort();
if (files.length === 0) {
  console.error('no test files found');
  process.exit(1);
}
const concurrency = process.env.ATTACHE_TEST_CONCURRENCY ?? '2';
// A hung test must fail, not hold CI until its 90-minute limit: no single test may run longer
// than this (the longest real-tier cases take ~2 minutes on a loaded machine).
const timeoutMs = process.env.ATTACHE_TEST_TIMEOUT_MS ?? '600000';
const result = spawnSync(
  process.execPath,
  [
    '--import',
    'tsx',
    '--test',
    `--test-concurrency=${concurrency}`,
    `--test-timeout=${timeoutMs}`,
    '--test-reporter=spec',
    '--test-reporter-destination=stdout',
    ...files,
  ],
  { stdio: 'inherit' },
);
process.exit(result.status ?? 1);
