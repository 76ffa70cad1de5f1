/**
 * `npm run bench:hostile`: hostile clients against a separate `attache fanout` process while a
 * well-behaved client keeps receiving updates. Measures the fan-out's heap and RSS (sampled from
 * its /metrics), the bytes it logged, how each hostile stream ended, and the update latency the
 * real client saw during the attack. Prints a summary and one JSON line; writes the JSON to
 * loadtest/results/.
 *
 *   npm run bench:hostile -- [--streams 1000] [--names 100000] [--concurrency 100] [--json]
 *
 * The hostile clients hold a valid bearer token (a compromised client gets past authentication;
 * anonymous ones are refused before any request is read) and the per-address stream limit is
 * raised so that every hostile stream from this one loopback address reaches the per-stream
 * limits. Everything else runs with the fan-out's defaults.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { nodeIn } from '../../services/fanout/testing/ads-fixture.ts';
import { edsCluster } from '../../services/fanout/testing/echo-resources.ts';
import { runHostileStreams } from '../../services/fanout/testing/hostile-clients.ts';
import { RawAdsClient } from '../../services/fanout/testing/raw-ads-client.ts';
import { TestCommitter } from '../../services/fanout/testing/test-snapshots.ts';
import { silentLogger } from '../../shared/runtime/logger.ts';
import { RedisSnapshotStore } from '../../shared/snapshot/redis-snapshot-store.ts';
import { CLUSTER_TYPE } from '../../shared/xds/type-urls.ts';
import { freePort } from '../../test/harness/ports.ts';
import { startRedis } from '../../test/harness/servers.ts';
import { fanoutArgs } from '../../test/harness/tier-args.ts';
import { AttacheChild } from '../fleet/attache-child.ts';

const TOKEN = 'hostile-bench-token-0123456789abcdef';

const { values } = parseArgs({
  options: {
    streams: { type: 'string', default: '1000' },
    names: { type: 'string', default: '100000' },
    concurrency: { type: 'string', default: '100' },
    json: { type: 'boolean', default: false },
  },
});
const streams = Number(values.streams);
const names = Number(values.names);
const concurrency = Number(values.concurrency);

async function metrics(port: number): Promise<{ heap: number; rss: number } | undefined> {
  try {
    const text = await (
      await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(2000) })
    ).text();
    const num = (name: string) =>
      Number(new RegExp(`^${name}(?:\\{[^}]*\\})?\\s+([0-9.e+]+)$`, 'm').exec(text)?.[1] ?? NaN);
    return { heap: num('nodejs_heap_size_used_bytes'), rss: num('process_resident_memory_bytes') };
  } catch {
    return undefined;
  }
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] as number) : NaN;
};

const redis = await startRedis();
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'attache-hostile-'));
let child: AttacheChild | undefined;
try {
  // This process also generates the attack and is CPU-bound meanwhile: be patient with Redis.
  const store = await RedisSnapshotStore.connect({
    url: redis.url,
    prefix: 'attache:',
    log: silentLogger(),
    commandTimeoutMs: 120_000,
  });
  const committer = new TestCommitter(store, 'default');
  let version = 1;
  await committer.commit(version, [edsCluster('c-1')]);
  const tokens = path.join(dir, 'tokens');
  fs.writeFileSync(tokens, `default ${TOKEN}\n`);
  const [xdsPort, adminPort] = await Promise.all([freePort(), freePort()]);
  const logFile = path.join(dir, 'fanout.log');
  child = new AttacheChild(
    'fanout',
    fanoutArgs({
      redisUrl: redis.url,
      xdsPort,
      adminPort,
      auth: ['--tokens-file', tokens, '--max-streams-per-peer', String(streams + 16)],
    }),
    logFile,
  );
  await child.waitReady(adminPort, 60_000);
  const baseline = await metrics(adminPort);
  const logStart = fs.statSync(logFile).size;

  const real = new RawAdsClient(xdsPort, { token: TOKEN });
  real.send({ node: nodeIn('default', 'real'), type_url: CLUSTER_TYPE, resource_names: [] });
  real.ack(await real.next(30_000));

  let maxHeap = baseline?.heap ?? 0;
  let maxRss = baseline?.rss ?? 0;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const m = await metrics(adminPort);
      if (m) {
        maxHeap = Math.max(maxHeap, m.heap);
        maxRss = Math.max(maxRss, m.rss);
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  })();

  let attacking = true;
  const latencies: number[] = [];
  let missed = 0;
  const updates = (async () => {
    while (attacking) {
      version++;
      const t0 = performance.now();
      try {
        await committer.commit(version, [edsCluster(`c-${version}`)]);
        const res = await real.next(60_000);
        real.ack(res);
        if (res.names[0] === `c-${version}`) latencies.push(performance.now() - t0);
        else missed++;
      } catch {
        missed++;
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  })();

  const started = performance.now();
  const report = await runHostileStreams({ port: xdsPort, streams, names, token: TOKEN, concurrency });
  const attackMs = performance.now() - started;
  attacking = false;
  await updates;
  sampling = false;
  await sampler;
  const after = await metrics(adminPort);
  const logBytes = fs.statSync(logFile).size - logStart;
  real.close();

  const result = {
    bench: 'hostile',
    streams,
    names,
    concurrency,
    attackSeconds: Number((attackMs / 1000).toFixed(1)),
    hostile: report,
    fanout: {
      heapBaselineMiB: Number(((baseline?.heap ?? 0) / 2 ** 20).toFixed(1)),
      heapMaxMiB: Number((maxHeap / 2 ** 20).toFixed(1)),
      heapAfterMiB: Number(((after?.heap ?? 0) / 2 ** 20).toFixed(1)),
      rssMaxMiB: Number((maxRss / 2 ** 20).toFixed(1)),
      logBytes,
    },
    realClient: {
      updates: latencies.length,
      missed,
      latencyMs: { p50: Math.round(pct(latencies, 50)), max: Math.round(Math.max(...latencies)) },
      stillConnected: real.ended === undefined,
    },
  };
  fs.mkdirSync(path.join(import.meta.dirname, '../results'), { recursive: true });
  fs.writeFileSync(
    path.join(import.meta.dirname, `../results/hostile-${Date.now()}.json`),
    `${JSON.stringify(result, null, 2)}\n`,
  );
  if (!values.json) {
    console.log(
      [
        `hostile streams: ${report.streams} in ${result.attackSeconds} s (${names} names, 1 MiB type URLs, garbage), outcomes ${JSON.stringify(report.outcomes)}, responses to them ${report.responses}`,
        `fan-out heap: ${result.fanout.heapBaselineMiB} MiB before, max ${result.fanout.heapMaxMiB} MiB during, ${result.fanout.heapAfterMiB} MiB after (goal ≤ 512 MiB); RSS max ${result.fanout.rssMaxMiB} MiB`,
        `fan-out log: ${logBytes} bytes during the attack`,
        `real client: ${latencies.length} updates received (p50 ${result.realClient.latencyMs.p50} ms, max ${result.realClient.latencyMs.max} ms), ${missed} missed, connected: ${result.realClient.stillConnected}`,
      ].join('\n'),
    );
  }
  console.log(JSON.stringify(result));
  await store.close();
} finally {
  await child?.stop();
  await redis.dispose();
  fs.rmSync(dir, { recursive: true, force: true });
}
