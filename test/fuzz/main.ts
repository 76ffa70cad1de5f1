/**
 * `npm run test:fuzz -- [--resources N] [--events M] [--seed S] [--per-round K] [--json FILE]`:
 * the full isolation fuzz run on real nats-server and redis-server processes (see fuzz.ts). Exit
 * code 1 when any round failed; minimised failing inputs are saved to test/fuzz/corpus/.
 */
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { startNats, startRedis } from '../harness/servers.ts';
import { fuzz } from './fuzz.ts';
import { maxPayloadOf } from './run.ts';

const { values } = parseArgs({
  options: {
    resources: { type: 'string', default: '10000' },
    events: { type: 'string', default: '1000' },
    seed: { type: 'string', default: '1' },
    'per-round': { type: 'string', default: '1100' },
    'minimise-budget': { type: 'string', default: '40' },
    json: { type: 'string' },
  },
});

const started = Date.now();
const redis = await startRedis();
const probe = await startNats();
const maxPayload = await maxPayloadOf(probe);
await probe.dispose();
try {
  const report = await fuzz({
    seed: Number(values.seed),
    resources: Number(values.resources),
    events: Number(values.events),
    perRound: Number(values['per-round']),
    redisUrl: redis.url,
    maxPayload,
    minimiseBudget: Number(values['minimise-budget']),
    log: (line) => console.log(line),
  });
  const failed = report.rounds.filter((r) => r.failures.length > 0).length;
  const summary = {
    seed: Number(values.seed),
    resources: Number(values.resources),
    events: Number(values.events),
    rounds: report.rounds.length,
    failedRounds: failed,
    newErrors: report.rounds.reduce((n, r) => n + r.errors, 0),
    seconds: Math.round((Date.now() - started) / 1000),
    saved: report.saved,
  };
  console.log(JSON.stringify(summary));
  if (values.json)
    fs.writeFileSync(values.json, `${JSON.stringify({ summary, rounds: report.rounds }, null, 1)}\n`);
  process.exitCode = failed > 0 ? 1 : 0;
} finally {
  await redis.dispose();
}
