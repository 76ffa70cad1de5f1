/**
 * `attache compile`: folds the event log (NATS JetStream) into snapshots committed to Redis.
 *
 * Runners, in start order:
 *   1. snapshot store — Redis connection (commits go here)
 *   2. event log      — JetStream connection (the compiler reads from it)
 *   3. status         — publishes per-object status after each commit (KV ATTACHE_STATUS), if enabled
 *   4. compiler       — claims the leader lease (Redis key `<prefix>lease:compiler`); the holder takes
 *                       a fencing epoch per group and commits, other replicas are warm standbys;
 *                       every replica loads the newest checkpoint (Redis `<prefix>ckpt:<seq>`),
 *                       catches up with the log after it, then follows it
 *   5. fleet watcher  — hears the fan-out nodes' status reports and NACKs on NATS for the
 *                       diagnostics page; never blocks the compiler
 *   6. admin          — /readyz turns green once the first snapshot is committed; /debug/status,
 *                       the debugging routes and the diagnostics page (services/debug)
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
import { PLAINTEXT_SECRETS_WARNING, productionSecretKeys } from '../../shared/runtime/secret-keys.ts';
import { RedisSnapshotStore, withSentinel } from '../../shared/snapshot/redis-snapshot-store.ts';
import { debugRoutes } from '../debug/admin-routes.ts';
import { FleetWatcher } from '../fanout/fleet/fleet-watcher.ts';
import { checkpointPolicyFromFlags } from './checkpoint-flags.ts';
import { endpointPolicyFromFlags } from './endpoint-policy-flags.ts';
import { CompilerRunner } from './runner.ts';
import { secretNamespacesFromFlags } from './secret-namespace-flags.ts';
import { StatusPublisher } from './status-publisher.ts';

export async function runCompiler(flags: Record<string, FlagValue>): Promise<never> {
  const log = createLogger('attache-compile');
  const registry = createRegistry('compiler');
  const fatal = fatalChannel();
  // Before connecting anywhere: without keys (or the explicit plaintext flag) the command exits.
  const secrets = productionSecretKeys(
    flags,
    'reads TLS Secrets (private keys) from NATS and writes them to Redis as SDS resources',
  );
  const secretKeys = secrets.keys;
  if (!secretKeys) log.warn(PLAINTEXT_SECRETS_WARNING);
  const store = await RedisSnapshotStore.connect({
    url: flag.str(flags, 'redis') ?? '',
    prefix: flag.str(flags, 'redis-prefix') ?? 'attache:',
    security: redisSecurityFromFlags(flags),
    ...withSentinel(redisSentinelFromFlags(flags)),
    log,
  });
  const natsSecurity = natsSecurityFromFlags(flags);
  const replicas = flag.num(flags, 'stream-replicas');
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
  const events = new SecretSealingEventLog(jetstream, { ...secrets, log });
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
    checkpoints: {
      store: store.checkpoints(),
      policy: checkpointPolicyFromFlags(flags),
      // As the event log: plaintext Secret material only under --allow-plaintext-secrets.
      plaintext: secrets.plaintext,
    },
    ...(secretKeys ? { secretKeys } : {}),
    compileOptions: (group) => ({ ...endpointPolicy(group), secretNamespaces }),
    ...(status ? { onCommit: status.onCommit } : {}),
  });
  const fleet = new FleetWatcher({ servers: flag.str(flags, 'nats') ?? '', security: natsSecurity, log });
  const runners: Runner[] = [
    { name: 'snapshot-store', start: async () => {}, ready: () => true, close: () => store.close() },
    { name: 'event-log', start: async () => {}, ready: () => true, close: () => events.close() },
    ...(status ? [status] : []),
    compiler,
    fleet,
    new AdminServer({
      host: flag.str(flags, 'admin-host') ?? '0.0.0.0',
      port: flag.num(flags, 'admin-port'),
      token: adminTokenFromFlags(flags),
      registry,
      runners: () => runners,
      log,
      debug: {
        '/debug/status': async () => compiler.groupStatus(),
        ...debugRoutes({
          events,
          store,
          groups,
          checkpoints: store.checkpoints(),
          fleet: () => fleet.heard(),
        }),
      },
    }),
  ];
  return runService(runners, log, fatal);
}
