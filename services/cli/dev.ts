/**
 * `attache dev`: every tier in one process. By default the event log and the snapshot store are
 * embedded in memory, so nothing else needs installing; with --nats / --redis the same runners use
 * JetStream and Redis. The config directories are watched live.
 *
 * Runners, in start order:
 *   1. event log + snapshot store (embedded, or connections to NATS / Redis)
 *   2. fs ingestors  — one per --config directory; publish the initial state, then watch
 *   3. compiler      — catches up with the log, commits, follows
 *   4. snapshot cache + fleet reporter + ADS server — serve what the compiler commits; NACKs are
 *      kept (with the source objects behind them) for the diagnostics page
 *   5. admin         — /readyz, /metrics, /debug/status, and the debugging routes
 *                      (debug/admin-routes.ts: event log, /snapshot, /snapshot-external, /ui)
 */
import os from 'node:os';
import path from 'node:path';
import type { Registry } from 'prom-client';
import type { EventLog } from '../../shared/events/event-log.ts';
import { MemoryEventLog } from '../../shared/events/memory-event-log.ts';
import { retentionFromFlags, type StreamRetention } from '../../shared/events/retention.ts';
import { SecretSealingEventLog } from '../../shared/events/sealed-secrets.ts';
import { AdminServer } from '../../shared/runtime/admin-server.ts';
import { type FlagValue, flag } from '../../shared/runtime/config.ts';
import {
  type NatsSecurity,
  natsSecurityFromFlags,
  type RedisSecurity,
  type RedisSentinel,
  redisSecurityFromFlags,
  redisSentinelFromFlags,
} from '../../shared/runtime/connection-flags.ts';
import { createLogger, type Logger } from '../../shared/runtime/logger.ts';
import { isLoopback } from '../../shared/runtime/loopback.ts';
import { createRegistry } from '../../shared/runtime/metrics.ts';
import {
  closeRunners,
  fatalChannel,
  type Runner,
  runService,
  startRunners,
} from '../../shared/runtime/runner.ts';
import { type KeyRing, keyRingFromFlags } from '../../shared/runtime/secret-keys.ts';
import { type CheckpointStore, MemoryCheckpointStore } from '../../shared/snapshot/checkpoint-store.ts';
import { MemorySnapshotStore } from '../../shared/snapshot/memory-snapshot-store.ts';
import type { SnapshotStore } from '../../shared/snapshot/snapshot-store.ts';
import { checkpointPolicyFromFlags, DEFAULT_CHECKPOINT_POLICY } from '../compiler/checkpoint-flags.ts';
import { endpointPolicyFromFlags } from '../compiler/endpoint-policy-flags.ts';
import { CompilerRunner, type CompilerRunnerOptions } from '../compiler/runner.ts';
import type { CheckpointPolicy } from '../compiler/runner-checkpoint.ts';
import { secretNamespacesFromFlags } from '../compiler/secret-namespace-flags.ts';
import { debugRoutes } from '../debug/admin-routes.ts';
import { SnapshotCache } from '../fanout/cache/snapshot-cache.ts';
import { authFlags } from '../fanout/fanout-flags.ts';
import { FleetReporter } from '../fanout/fleet/fleet-reporter.ts';
import { nackSourcesFor } from '../fanout/fleet/nack-sources.ts';
import { type AdsAuthOptions, AdsServerRunner } from '../fanout/server/ads-server.ts';
import { FsIngestor } from '../ingestor/fs/fs-ingestor.ts';

export interface DevOptions {
  configDirs: readonly string[];
  cluster: string;
  groups: readonly string[];
  bind: string;
  /** How xDS clients authenticate (runDev: anonymous by default only on a loopback bind). */
  auth: AdsAuthOptions;
  xdsPort: number;
  adminPort: number;
  natsUrl?: string;
  /** NATS credentials and TLS, with natsUrl. */
  natsSecurity?: NatsSecurity;
  /** Redis credentials and TLS, with redisUrl. */
  redisSecurity?: RedisSecurity;
  /** Redis Sentinel, with redisUrl. */
  redisSentinel?: RedisSentinel;
  redisUrl?: string;
  redisPrefix: string;
  /** NATS event-stream retention (with --nats); the stream keeps its limits when absent. */
  logRetention?: StreamRetention | undefined;
  debounceMs: number;
  maxDelayMs: number;
  /** Longest a syncing source cluster holds commits (compiler default when absent). */
  syncMaxWaitMs?: number;
  /** When the compiler checkpoints its state (the flag defaults when absent). */
  checkpointPolicy?: CheckpointPolicy;
  pollIntervalMs?: number;
  /** Seal Secret material in the log and SDS blobs in the store; without, plaintext and a warning. */
  secretKeys?: KeyRing;
  /** Extra compile options per group (e.g. which source clusters are local for endpoint priorities). */
  compileOptions?: CompilerRunnerOptions['compileOptions'];
  /** Called after each commit (e.g. a StatusPublisher's `onCommit`). */
  onCommit?: CompilerRunnerOptions['onCommit'];
  log: Logger;
  registry: Registry;
  onFatal: (err: unknown) => void;
}

export interface DevPipeline {
  runners: Runner[];
  events: EventLog;
  store: SnapshotStore;
  /** The compiler's checkpoints (in Redis with --redis, else in memory). */
  checkpoints: CheckpointStore;
  compiler: CompilerRunner;
  ingestors: FsIngestor[];
  fleet: FleetReporter;
  ads: AdsServerRunner;
  admin: AdminServer;
}

/** Builds (but does not start) the one-process pipeline. */
export async function buildDevPipeline(o: DevOptions): Promise<DevPipeline> {
  const { log, registry } = o;
  let events: EventLog;
  if (o.natsUrl) {
    const { JetStreamEventLog } = await import('../../shared/events/jetstream-event-log.ts');
    events = await JetStreamEventLog.connect({
      url: o.natsUrl,
      security: o.natsSecurity ?? {},
      log,
      ...(o.logRetention ? { retention: o.logRetention } : {}),
    });
  } else {
    events = new MemoryEventLog();
  }
  if (!o.secretKeys) {
    log.warn(
      'no secret keys (--secret-keys-file / ATTACHE_SECRET_KEYS): Secret material is kept unencrypted (acceptable for attache dev only)',
    );
  }
  events = new SecretSealingEventLog(events, {
    ...(o.secretKeys ? { keys: o.secretKeys } : {}),
    plaintext: 'allow',
    log,
  });
  let store: SnapshotStore;
  let checkpoints: CheckpointStore;
  if (o.redisUrl) {
    const { RedisSnapshotStore, withSentinel } = await import(
      '../../shared/snapshot/redis-snapshot-store.ts'
    );
    const redisStore = await RedisSnapshotStore.connect({
      url: o.redisUrl,
      prefix: o.redisPrefix,
      security: o.redisSecurity ?? {},
      ...withSentinel(o.redisSentinel),
      log,
    });
    store = redisStore;
    checkpoints = redisStore.checkpoints();
  } else {
    store = new MemorySnapshotStore();
    checkpoints = new MemoryCheckpointStore();
  }
  // Several directories publish as distinct sources so identical object names cannot collide.
  const ingestors = o.configDirs.map((dir, i) => {
    const cluster = o.configDirs.length === 1 ? o.cluster : `${o.cluster}-${i + 1}-${path.basename(dir)}`;
    return new FsIngestor({
      dir,
      cluster,
      events,
      log: log.child({ ingestor: cluster }),
      registry,
      ...(o.pollIntervalMs !== undefined ? { pollIntervalMs: o.pollIntervalMs } : {}),
      ingestorId: `fs/${cluster}/${os.hostname()}`,
    });
  });
  const compiler = new CompilerRunner({
    events,
    store,
    groups: o.groups,
    log: log.child({ tier: 'compiler' }),
    registry,
    debounceMs: o.debounceMs,
    maxDelayMs: o.maxDelayMs,
    retention: 50,
    ...(o.syncMaxWaitMs !== undefined ? { syncMaxWaitMs: o.syncMaxWaitMs } : {}),
    ...(o.compileOptions ? { compileOptions: o.compileOptions } : {}),
    ...(o.onCommit ? { onCommit: o.onCommit } : {}),
    ...(o.secretKeys ? { secretKeys: o.secretKeys } : {}),
    checkpoints: {
      store: checkpoints,
      policy: o.checkpointPolicy ?? DEFAULT_CHECKPOINT_POLICY,
      plaintext: 'allow',
    },
    onFatal: o.onFatal,
  });
  const cache = new SnapshotCache({
    store,
    log: log.child({ tier: 'cache' }),
    registry,
    ...(o.secretKeys ? { secretKeys: o.secretKeys } : {}),
  });
  const fanoutId = `dev/${os.hostname()}`;
  const fleet = new FleetReporter({
    fanoutId,
    source: { groups: () => ads.groups(), summary: (group) => ads.summary(group) },
    nackSources: nackSourcesFor(cache, store, log),
    log: log.child({ tier: 'fleet' }),
  });
  const ads: AdsServerRunner = new AdsServerRunner({
    cache,
    host: o.bind,
    port: o.xdsPort,
    log: log.child({ tier: 'fanout' }),
    registry,
    defaultGroup: o.groups[0] ?? 'default',
    events: fleet,
    auth: o.auth,
  });
  const runners: Runner[] = [];
  const admin = new AdminServer({
    host: o.bind,
    port: o.adminPort,
    registry,
    runners: () => runners,
    log,
    debug: {
      '/debug/status': async () => compiler.groupStatus(),
      // As a fan-out's: `attache status --admin` reads the embedded fan-out's fleet here.
      '/debug/fleet': async () => ({ fanout: fanoutId, groups: fleet.statuses(), streams: ads.streamCount }),
      ...debugRoutes({
        events,
        store,
        checkpoints,
        groups: o.groups,
        fleet: () => ({ statuses: fleet.statuses(), nacks: fleet.recentNacks }),
      }),
    },
  });
  runners.push(
    { name: 'event-log', start: async () => {}, ready: () => true, close: () => events.close() },
    { name: 'snapshot-store', start: async () => {}, ready: () => true, close: () => store.close() },
    ...ingestors,
    compiler,
    cache,
    fleet,
    ads,
    admin,
  );
  return { runners, events, store, checkpoints, compiler, ingestors, fleet, ads, admin };
}

/** Starts the pipeline in-process (tests); returns it with a close function. */
export async function startDevPipeline(o: DevOptions): Promise<DevPipeline & { close(): Promise<void> }> {
  const p = await buildDevPipeline(o);
  await startRunners(p.runners, o.log);
  return { ...p, close: () => closeRunners(p.runners, o.log) };
}

export async function runDev(flags: Record<string, FlagValue>): Promise<never> {
  const log = createLogger('attache-dev');
  const fatal = fatalChannel();
  const natsUrl = flag.str(flags, 'nats');
  const redisUrl = flag.str(flags, 'redis');
  const secretNamespaces = secretNamespacesFromFlags(flag.list(flags, 'secret-namespace'));
  const endpointPolicy = endpointPolicyFromFlags(
    flag.list(flags, 'local-cluster'),
    flag.str(flags, 'remote-endpoints'),
  );
  const secretKeys = keyRingFromFlags(flags);
  const bind = flag.str(flags, 'bind') ?? '127.0.0.1';
  // Anonymous xDS clients by default only when nobody but this machine can connect.
  const auth = authFlags(
    { ...flags, 'allow-unauthenticated': flags['allow-unauthenticated'] ?? isLoopback(bind) },
    undefined,
  );
  const p = await buildDevPipeline({
    configDirs: flag.list(flags, 'config').map((d) => path.resolve(d)),
    cluster: flag.str(flags, 'cluster') ?? 'local',
    groups: flag.list(flags, 'group'),
    bind,
    auth,
    xdsPort: flag.num(flags, 'xds-port'),
    adminPort: flag.num(flags, 'admin-port'),
    ...(natsUrl ? { natsUrl, natsSecurity: natsSecurityFromFlags(flags) } : {}),
    ...(redisUrl ? { redisUrl, redisSecurity: redisSecurityFromFlags(flags), ...sentinelOf(flags) } : {}),
    redisPrefix: flag.str(flags, 'redis-prefix') ?? 'attache:',
    logRetention: retentionFromFlags(
      flag.optionalNum(flags, 'log-max-age-hours'),
      flag.optionalNum(flags, 'log-max-bytes'),
    ),
    debounceMs: flag.num(flags, 'debounce-ms'),
    maxDelayMs: flag.num(flags, 'max-delay-ms'),
    compileOptions: (group) => ({ ...endpointPolicy(group), secretNamespaces }),
    ...(secretKeys ? { secretKeys } : {}),
    syncMaxWaitMs: flag.num(flags, 'sync-max-wait-ms'),
    checkpointPolicy: checkpointPolicyFromFlags(flags),
    log,
    registry: createRegistry('dev'),
    onFatal: fatal.raise,
  });
  log.info(
    {
      xds: `${flag.str(flags, 'bind')}:${flag.num(flags, 'xds-port')}`,
      admin: `${flag.str(flags, 'bind')}:${flag.num(flags, 'admin-port')}`,
      log: natsUrl ? 'nats' : 'embedded',
      store: redisUrl ? 'redis' : 'embedded',
    },
    'attache dev starting',
  );
  return runService(p.runners, log, fatal);
}

function sentinelOf(flags: Record<string, FlagValue>): { redisSentinel?: RedisSentinel } {
  const sentinel = redisSentinelFromFlags(flags);
  return sentinel ? { redisSentinel: sentinel } : {};
}
