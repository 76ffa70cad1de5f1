/**
 * Hostile load, bounded for CI: 120 authenticated but hostile streams (100,000 distinct route
 * names each, 1 MiB type URLs, garbage bytes) against a fan-out with its default limits, while a
 * well-behaved client keeps receiving every update. The full 1,000-stream run with heap and log
 * measurements of a separate fan-out process is `npm run bench:hostile`.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { CLUSTER_TYPE } from '../../../shared/xds/type-urls.ts';
import { captureLogs } from '../../../test/harness/capture-logs.ts';
import { AdsFixture, nodeIn, until } from '../testing/ads-fixture.ts';
import { edsCluster } from '../testing/echo-resources.ts';
import { runHostileStreams } from '../testing/hostile-clients.ts';
import { TokenTable } from './bearer-tokens.ts';
import { DEFAULT_CACHE_BUDGET, DEFAULT_LIMITS } from './client-limits.ts';
import { servedSetCacheStats } from './served-set.ts';

const TOKEN = 'hostile-but-valid-token-0123456789';
const f = new AdsFixture();
const logs = captureLogs('info');

before(async () => {
  await f.start({
    log: logs.log,
    auth: { tokens: TokenTable.parse(`default ${TOKEN}`, 'test'), allowUnauthenticated: false },
    limits: { ...DEFAULT_LIMITS },
  });
  await f.publish('default', 1, [edsCluster('c-1')]);
});
after(() => f.close());

test('hostile load — 120 hostile streams are each refused while a real client receives every update', async () => {
  const real = f.sotw(f.ads, { token: TOKEN });
  real.send({ node: nodeIn('default', 'real'), type_url: CLUSTER_TYPE, resource_names: [] });
  let last = await real.next();
  real.ack(last);
  const logBefore = logs.bytes();

  let version = 1;
  let attacking = true;
  const received: string[] = [];
  const publisher = (async () => {
    while (attacking) {
      version++;
      await f.publish('default', version, [edsCluster(`c-${version}`)]);
      last = await real.next(20_000);
      received.push(last.names.join(','));
      real.ack(last);
    }
  })();
  const report = await runHostileStreams({ port: f.ads.port, streams: 120, token: TOKEN, concurrency: 20 });
  attacking = false;
  await publisher;

  assert.equal(report.streams, 120);
  // Names over the limit: RESOURCE_EXHAUSTED. Long type URLs: INVALID_ARGUMENT. Garbage: INTERNAL
  // when it does not decode, INVALID_ARGUMENT when it decodes into a request without a type URL.
  assert.equal(report.outcomes.RESOURCE_EXHAUSTED, 40, JSON.stringify(report.outcomes));
  assert.equal((report.outcomes.INVALID_ARGUMENT ?? 0) + (report.outcomes.INTERNAL ?? 0), 80);
  assert.equal(report.responses, 0, 'no hostile stream was sent anything');
  assert.ok(received.length >= 1, 'updates were published during the attack');
  assert.deepEqual(
    received,
    Array.from({ length: received.length }, (_, i) => `c-${i + 2}`),
    'the real client received every version in order',
  );
  assert.equal(real.ended, undefined, 'the real client stays connected');
  await until(() => f.ads.streamCount === 1, 'hostile streams to be gone');
  const logBytes = logs.bytes() - logBefore;
  assert.ok(logBytes < 64 * 1024, `120 hostile streams wrote ${logBytes} bytes of log`);
  const caches = servedSetCacheStats();
  assert.ok(caches.subscriptions.bytes <= DEFAULT_CACHE_BUDGET.subscriptionBytes);
  assert.ok(caches.served_sets.bytes <= DEFAULT_CACHE_BUDGET.servedSetBytes);
  assert.equal(await f.metric('attache_fanout_limit_hits_total', { limit: 'names_per_stream' }), 40);
  assert.equal(await f.metric('attache_fanout_limit_hits_total', { limit: 'type_url_length' }), 40);
});
