/**
 * The isolation fuzzer in CI (issue 9): every saved failing input in test/fuzz/corpus/ is replayed
 * on the real tiers, then a bounded seeded run (ATTACHE_FUZZ_SEED, default 1; 160 hostile
 * resources and 40 raw events, about half a minute on a loaded machine) mixes new hostile items
 * into a golden case. A failure is minimised and saved to the corpus before the test fails, so it
 * is replayed from then on; the minimiser is shown at work on real rounds with a planted failure
 * (minimise.test.ts checks it exhaustively on a known runner). The full run is `npm run test:fuzz`
 * (README, "Fuzzing").
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startNats, startRedis, type TestServer } from '../harness/servers.ts';
import { fuzz, loadCorpus, minimise } from './fuzz.ts';
import { generate, type Item } from './generate.ts';
import { fuzzableCases, goodIdentities, maxPayloadOf, runRound } from './run.ts';

let redis: TestServer;
let maxPayload: number;

before(async () => {
  redis = await startRedis();
  const probe = await startNats();
  maxPayload = await maxPayloadOf(probe);
  await probe.dispose();
});

after(async () => {
  await redis?.dispose();
});

describe('isolation fuzzer', () => {
  test('isolation fuzzer — every corpus case stays fixed on the real tiers', async () => {
    const corpus = loadCorpus();
    assert.ok(corpus.length > 0, 'the corpus holds the failures found so far');
    for (const { file, case: c } of corpus) {
      const result = await runRound(c, redis.url, { deadlineMs: 60_000 });
      assert.deepEqual(result.failures, [], `${file} fails again`);
    }
  });

  test('isolation fuzzer — a bounded seeded run: no crash, no stall, good output unchanged, every bad item diagnosed', async () => {
    const seed = Number(process.env.ATTACHE_FUZZ_SEED ?? 1);
    const lines: string[] = [];
    const report = await fuzz({
      seed,
      resources: 160,
      events: 40,
      perRound: 200,
      redisUrl: redis.url,
      maxPayload,
      minimiseBudget: 12,
      deadlineMs: 60_000,
      log: (line) => lines.push(line),
    });
    assert.equal(report.rounds.length, 1);
    const [round] = report.rounds;
    assert.ok(round!.resources > 0, 'the golden case committed resources');
    assert.ok(round!.errors >= 150, `hostile items were diagnosed (${round!.errors} new errors)`);
    assert.deepEqual(report.saved, [], `seed ${seed} failed; minimised input saved:\n${lines.join('\n')}`);
  });

  test('isolation fuzzer — a failing round on the real tiers is minimised to the item that fails it', async () => {
    const golden = fuzzableCases()[0]!;
    // A "hostile" item that is a valid Mapping: nothing diagnoses it and it adds a route, so the
    // round fails; the three generated items around it are diagnosed and change nothing.
    const planted: Item = {
      t: 'doc',
      name: 'fz-planted',
      yaml: 'apiVersion: getambassador.io/v3alpha1\nkind: Mapping\nmetadata: { name: fz-planted, namespace: default }\nspec: { hostname: "*", prefix: /planted/, service: planted:80 }\n',
    };
    const hostile = generate(4242, 3, 0, goodIdentities(golden), maxPayload).filter((i) => i.t === 'doc');
    const items = [...hostile, planted];
    const lines: string[] = [];
    const result = await minimise({ golden, items }, redis.url, 8, (l) => lines.push(l), {
      deadlineMs: 60_000,
    });
    assert.deepEqual(
      result.items,
      [planted],
      `minimised to ${JSON.stringify(result.items)}\n${lines.join('\n')}`,
    );
    assert.ok(
      result.failures.some((f) => /^not diagnosed: document .*fz-planted/.test(f)),
      result.failures.join('\n'),
    );
    // And what it kept fails on its own, while the rest passes without it.
    assert.notDeepEqual((await runRound({ golden, items: result.items }, redis.url)).failures, []);
    assert.deepEqual((await runRound({ golden, items: hostile }, redis.url)).failures, []);
  });
});
