/**
 * `attache fanout`: serves committed snapshots from Redis over ADS. Stateless: any number of
 * fan-out processes serve the same groups and derive identical versions from snapshot content.
 *
 * Runners, in start order:
 *   1. snapshot store — Redis connection
 *   2. snapshot cache — loads every group's head, then tails the snapshot log
 *   3. ADS server     — accepts streams only once the cache holds the current snapshots
 *   4. admin          — /readyz, /metrics, /debug/snapshot
 */
import { AdminServer } from '../../shared/runtime/admin-server.ts';
import { type FlagValue, flag } from '../../shared/runtime/config.ts';
import { createLogger } from '../../shared/runtime/logger.ts';
import { createRegistry } from '../../shared/runtime/metrics.ts';
import { fatalChannel, type Runner, runService } from '../../shared/runtime/runner.ts';
import { RedisSnapshotStore } from '../../shared/snapshot/redis-snapshot-store.ts';
import { SnapshotCache } from './cache/snapshot-cache.ts';
import { AdsServerRunner } from './server/ads-server.ts';

export async function runFanout(flags: Record<string, FlagValue>): Promise<never> {
  const log = createLogger('attache-fanout');
  const registry = createRegistry('fanout');
  const fatal = fatalChannel();
  const store = await RedisSnapshotStore.connect({
    url: flag.str(flags, 'redis') ?? '',
    prefix: flag.str(flags, 'redis-prefix') ?? 'attache:',
    log,
  });
  const cache = new SnapshotCache({ store, log, registry });
  const ads = new AdsServerRunner({
    cache,
    host: flag.str(flags, 'bind') ?? '0.0.0.0',
    port: flag.num(flags, 'xds-port'),
    log,
    registry,
    defaultGroup: flag.str(flags, 'default-group') ?? 'default',
  });
  const runners: Runner[] = [
    { name: 'snapshot-store', start: async () => {}, ready: () => true, close: () => store.close() },
    cache,
    ads,
    new AdminServer({
      host: flag.str(flags, 'admin-host') ?? '0.0.0.0',
      port: flag.num(flags, 'admin-port'),
      registry,
      runners: () => runners,
      log,
    }),
  ];
  return runService(runners, log, fatal);
}
