/**
 * The isolation fuzzer's driver: splits a run into rounds (one golden case each), runs them,
 * minimises a failing round's items (delta debugging over real rounds) and saves the result to
 * the corpus (`test/fuzz/corpus/*.json`), which `fuzz.test.ts` replays on every run.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { generate, type Item } from './generate.ts';
import { fuzzableCases, goodIdentities, type RoundInput, runRound } from './run.ts';

export const CORPUS_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'corpus');

/** A saved failing input: replayed as a regression test. */
export interface CorpusCase extends RoundInput {
  seed: number;
  /** The failures the input showed when it was saved (documentation only). */
  found: string[];
}

export interface FuzzOptions {
  seed: number;
  resources: number;
  events: number;
  /** Hostile items per round (resources and events are spread over the rounds). */
  perRound: number;
  redisUrl: string;
  maxPayload: number;
  /** Real rounds the minimiser may spend on one failure. */
  minimiseBudget: number;
  /** How long a round may take to settle before it counts as a stall (default 120 s). */
  deadlineMs?: number;
  log?: (line: string) => void;
}

export interface FuzzReport {
  rounds: {
    golden: string;
    items: number;
    resources: number;
    errors: number;
    ms: number;
    failures: string[];
  }[];
  saved: string[];
}

export async function fuzz(o: FuzzOptions): Promise<FuzzReport> {
  const cases = fuzzableCases();
  const total = o.resources + o.events;
  const rounds = Math.max(1, Math.ceil(total / o.perRound));
  const report: FuzzReport = { rounds: [], saved: [] };
  for (let i = 0; i < rounds; i++) {
    const golden = cases[(o.seed + i) % cases.length]!;
    const seed = o.seed * 1000 + i;
    const share = (n: number) => Math.floor((n * (i + 1)) / rounds) - Math.floor((n * i) / rounds);
    const items = generate(seed, share(o.resources), share(o.events), goodIdentities(golden), o.maxPayload);
    const deadline = o.deadlineMs !== undefined ? { deadlineMs: o.deadlineMs } : {};
    const result = await runRound({ golden, items }, o.redisUrl, deadline);
    o.log?.(
      `round ${i + 1}/${rounds} ${golden} seed ${seed}: ${items.length} items, ${result.resources} good resources, ${result.errors} new errors, ${result.ms} ms, ${result.failures.length} failures`,
    );
    report.rounds.push({ golden, items: items.length, ...result });
    if (result.failures.length > 0) {
      for (const f of result.failures.slice(0, 10)) o.log?.(`  ${f}`);
      const small = await minimise({ golden, items }, o.redisUrl, o.minimiseBudget, o.log, deadline);
      report.saved.push(saveCase({ seed, golden, items: small.items, found: small.failures.slice(0, 20) }));
    }
  }
  return report;
}

/** Runs one round with the given items and returns its failures (none: the round passed). */
export type RoundRunner = (items: Item[]) => Promise<string[]>;

/**
 * Delta debugging (ddmin) over the items of a failing round, each trial a real round: keeps
 * removing chunks while the round still fails, within `budget` real rounds. Returns the smallest
 * failing input found and its failures.
 */
export async function minimise(
  input: RoundInput,
  redisUrl: string,
  budget: number,
  log?: (line: string) => void,
  opts: { deadlineMs?: number } = {},
): Promise<{ items: Item[]; failures: string[] }> {
  const run: RoundRunner = async (items) =>
    (await runRound({ golden: input.golden, items }, redisUrl, opts)).failures;
  return ddmin(input.items, run, budget, log);
}

/**
 * ddmin itself, over any round runner: `run(items)` is called at most `budget` times. An input
 * that does not fail again is returned whole, with a failure saying so.
 */
export async function ddmin(
  input: Item[],
  run: RoundRunner,
  budget: number,
  log?: (line: string) => void,
): Promise<{ items: Item[]; failures: string[] }> {
  let items = input;
  let failures = await run(items);
  if (failures.length === 0) return { items, failures: ['did not fail again when minimising (flaky?)'] };
  let n = 2;
  let runs = 1;
  while (items.length > 1 && runs < budget) {
    const size = Math.ceil(items.length / n);
    let reduced = false;
    for (let start = 0; start < items.length && runs < budget; start += size) {
      const rest = [...items.slice(0, start), ...items.slice(start + size)];
      if (rest.length === 0) continue;
      runs++;
      const f = await run(rest);
      if (f.length > 0) {
        items = rest;
        failures = f;
        n = Math.max(n - 1, 2);
        reduced = true;
        log?.(`  minimised to ${items.length} items`);
        break;
      }
    }
    if (!reduced) {
      if (n >= items.length) break;
      n = Math.min(n * 2, items.length);
    }
  }
  return { items, failures };
}

export function saveCase(c: CorpusCase): string {
  fs.mkdirSync(CORPUS_DIR, { recursive: true });
  const file = path.join(CORPUS_DIR, `${c.golden}-seed${c.seed}.json`);
  fs.writeFileSync(file, `${JSON.stringify(c, null, 1)}\n`);
  return file;
}

export function loadCorpus(): { file: string; case: CorpusCase }[] {
  if (!fs.existsSync(CORPUS_DIR)) return [];
  return fs
    .readdirSync(CORPUS_DIR)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => ({
      file: f,
      case: JSON.parse(fs.readFileSync(path.join(CORPUS_DIR, f), 'utf8')) as CorpusCase,
    }));
}
