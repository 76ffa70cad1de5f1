/**
 * `attache compile`: folds the event log (NATS JetStream) into snapshots committed to Redis.
 *
 * Runners, in start order:
 *   1. snapshot store — Redis connection (commits go here)
 *   2. event log      — JetStream connection (the compiler reads from it)
 *   3. status         — publishes per-object status after each commit (KV ATTACHE_STATUS), if enabled
 *   4. compiler       — claims the leader lease (Redis key `<prefix>lease:compiler`); the holder takes
 *                       a fencing epoch per group and commits, other replicas are warm standbys;
 *                       every replica catches up with the log, then follows it
 *   5. admin          — /readyz turns green once the first snapshot is committed; /debug/status
 */
import { JetStreamEventLog } from '../../shared/events/jetstream-event-log.ts';
import { retentionFromFlags } from '../../shared/events/retention.ts';
import { SecretSealingEventLog } from '../../shared/events/sealed-secrets.ts';
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
import { keyRingFromFlags } from '../../shared/runtime/secret-keys.ts';
import { RedisSnapshotStore, withSentinel } from '../../shared/snapshot/redis-snapshot-store.ts';
import { debugRoutes } from '../debug/admin-routes.ts';
import { endpointPolicyFromFlags } from './endpoint-policy-flags.ts';
import { CompilerRunner } from './runner.ts';
import { secretNamespacesFromFlags } from './secret-namespace-flags.ts';
import { StatusPublisher } from './status-publisher.ts';

export async function runCompiler(flags: Record<string, FlagValue>): Promise<never> {
  const log = createLogger('attache-compile');
  const registry = createRegistry('compiler');
  const fatal = fatalChannel();
  const store = await RedisSnapshotStore.connect({
    url: flag.str(flags, 'redis') ?? '',
    prefix: flag.str(flags, 'redis-prefix') ?? 'attache:',
    security: redisSecurityFromFlags(flags),
    ...withSentinel(redisSentinelFromFlags(flags)),
    log,
  });
  const natsSecurity = natsSecurityFromFlags(flags);
  const replicas = flag.num(flags, 'stream-replicas');
  const secretKeys = keyRingFromFlags(flags);
  if (!secretKeys) {
    log.error(
      'no secret keys (--secret-keys-file / ATTACHE_SECRET_KEYS): Secrets are not used, so no TLS certificate reaches Envoy',
    );
  }
  const retention = retentionFromFlags(
    flag.optionalNum(flags, 'log-max-age-hours'),
    flag.optionalNum(flags, 'log-max-bytes'),
  );
  const jetstream = await JetStreamEventLog.connect({
    url: flag.str(flags, 'nats') ?? '',
    security: natsSecurity,
    log,
    replicas,
    ...(retention ? { retention } : {}),
  });
  const events = new SecretSealingEventLog(jetstream, {
    ...(secretKeys ? { keys: secretKeys } : {}),
    plaintext: 'refuse',
    log,
  });
  const groups = flag.list(flags, 'group');
  const endpointPolicy = endpointPolicyFromFlags(
    flag.list(flags, 'local-cluster'),
    flag.str(flags, 'remote-endpoints'),
  );
  const secretNamespaces = secretNamespacesFromFlags(flag.list(flags, 'secret-namespace'));
  const status = flag.bool(flags, 'publish-status')
    ? new StatusPublisher({
        url: flag.str(flags, 'nats') ?? '',
        security: natsSecurity,
        log,
        registry,
        groups,
        replicas,
      })
    : undefined;
  const compiler = new CompilerRunner({
    events,
    store,
    groups,
    log,
    registry,
    debounceMs: flag.num(flags, 'debounce-ms'),
    maxDelayMs: flag.num(flags, 'max-delay-ms'),
    retention: flag.num(flags, 'retention'),
    syncMaxWaitMs: flag.num(flags, 'sync-max-wait-ms'),
    onFatal: fatal.raise,
    lease: store.leaderLease('compiler', flag.num(flags, 'lease-ttl-ms')),
    ...(secretKeys ? { secretKeys } : {}),
    compileOptions: (group) => ({ ...endpointPolicy(group), secretNamespaces }),
    ...(status ? { onCommit: status.onCommit } : {}),
  });
  const runners: Runner[] = [
    { name: 'snapshot-store', start: async () => {}, ready: () => true, close: () => store.close() },
    { name: 'event-log', start: async () => {}, ready: () => true, close: () => events.close() },
    ...(status ? [status] : []),
    compiler,
    new AdminServer({
      host: flag.str(flags, 'admin-host') ?? '0.0.0.0',
      port: flag.num(flags, 'admin-port'),
      token: adminTokenFromFlags(flags),
      registry,
      runners: () => runners,
      log,
      debug: {
        '/debug/status': async () => compiler.groupStatus(),
        ...debugRoutes({ events, store, groups }),
      },
    }),
  ];
  return runService(runners, log, fatal);
}
