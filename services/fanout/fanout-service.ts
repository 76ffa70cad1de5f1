/**
 * `attache fanout`: serves committed snapshots from Redis over ADS. Stateless: any number of
 * fan-out processes serve the same groups and derive identical versions from snapshot content.
 *
 * Runners, in start order:
 *   1. snapshot store — Redis connection
 *   2. snapshot cache — loads every group's head, then tails the snapshot log
 *   3. fleet events   — (with --nats) NATS publisher of NACK and status events; never blocks xDS
 *   4. fleet reporter — turns stream events into NACK events and periodic status summaries
 *   5. ADS server     — accepts streams only once the cache holds the current snapshots; closed
 *                       first on SIGTERM, draining streams over --drain-window while 3–4 still report
 *   6. admin          — /readyz, /metrics, /debug/fleet
 */
import os from 'node:os';
import { AdminServer, adminTokenFromFlags } from '../../shared/runtime/admin-server.ts';
import { type FlagValue, flag } from '../../shared/runtime/config.ts';
import {
  natsSecurityFromFlags,
  redisSecurityFromFlags,
  redisSentinelFromFlags,
} from '../../shared/runtime/connection-flags.ts';
import { createLogger } from '../../shared/runtime/logger.ts';
import { createRegistry } from '../../shared/runtime/metrics.ts';
import { fatalChannel, type Runner, runService } from '../../shared/runtime/runner.ts';
import { PLAINTEXT_SECRETS_WARNING, productionSecretKeys } from '../../shared/runtime/secret-keys.ts';
import { RedisSnapshotStore, withSentinel } from '../../shared/snapshot/redis-snapshot-store.ts';
import { SnapshotCache } from './cache/snapshot-cache.ts';
import { authFlags, durationFlag, limitFlags, tlsFlags, xdsTransportFlag } from './fanout-flags.ts';
import { FleetEventPublisher } from './fleet/fleet-event-publisher.ts';
import { FleetReporter } from './fleet/fleet-reporter.ts';
import { nackSourcesFor } from './fleet/nack-sources.ts';
import { AdsServerRunner } from './server/ads-server.ts';
import { configureServedSetCaches } from './server/served-set.ts';

export async function runFanout(flags: Record<string, FlagValue>): Promise<never> {
  const log = createLogger('attache-fanout');
  const tls = tlsFlags(flags);
  const auth = authFlags(flags, tls);
  const { limits, caches } = limitFlags(flags);
  configureServedSetCaches(caches);
  // Without keys (or the explicit plaintext flag) the command exits before connecting anywhere.
  const secretKeys = productionSecretKeys(
    flags,
    'reads TLS Secrets (private keys) from Redis and serves them over SDS',
  ).keys;
  if (!secretKeys) log.warn(PLAINTEXT_SECRETS_WARNING);
  const registry = createRegistry('fanout');
  const fatal = fatalChannel();
  const store = await RedisSnapshotStore.connect({
    url: flag.str(flags, 'redis') ?? '',
    prefix: flag.str(flags, 'redis-prefix') ?? 'attache:',
    security: redisSecurityFromFlags(flags),
    ...withSentinel(redisSentinelFromFlags(flags)),
    log,
  });
  const cache = new SnapshotCache({ store, log, registry, ...(secretKeys ? { secretKeys } : {}) });
  const fanoutId = flag.str(flags, 'fanout-id') ?? os.hostname();
  const natsUrl = flag.str(flags, 'nats');
  const publisher = natsUrl
    ? new FleetEventPublisher({ servers: natsUrl, security: natsSecurityFromFlags(flags), log, registry })
    : undefined;
  const fleet = new FleetReporter({
    fanoutId,
    source: { groups: () => ads.groups(), summary: (group) => ads.summary(group) },
    publish: publisher ? (subject, body) => publisher.publish(subject, body) : undefined,
    nackSources: nackSourcesFor(cache, store, log),
    log,
  });
  const ads: AdsServerRunner = new AdsServerRunner({
    cache,
    host: flag.str(flags, 'bind') ?? '0.0.0.0',
    port: flag.num(flags, 'xds-port'),
    log,
    registry,
    defaultGroup: flag.str(flags, 'default-group') ?? 'default',
    events: fleet,
    tls,
    auth,
    limits,
    maxConnectionAgeMs: durationFlag(flags, 'max-connection-age', '30m'),
    drainWindowMs: durationFlag(flags, 'drain-window', '10s'),
    initialPushConcurrency: flag.num(flags, 'initial-push-concurrency'),
    transport: xdsTransportFlag(flags),
    compression: flag.bool(flags, 'xds-compression'),
  });
  const runners: Runner[] = [
    { name: 'snapshot-store', start: async () => {}, ready: () => true, close: () => store.close() },
    cache,
    ...(publisher ? [publisher] : []),
    fleet,
    ads,
    new AdminServer({
      host: flag.str(flags, 'admin-host') ?? '0.0.0.0',
      port: flag.num(flags, 'admin-port'),
      token: adminTokenFromFlags(flags),
      registry,
      runners: () => runners,
      debug: {
        '/debug/fleet': async () => ({
          fanout: fanoutId,
          groups: fleet.statuses(),
          streams: ads.streamCount,
        }),
      },
      log,
    }),
  ];
  return runService(runners, log, fatal);
}
