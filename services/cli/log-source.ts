/**
 * Where the debugging commands read the event log: NATS JetStream (`--nats`) or a running
 * `attache dev` / `attache compile` admin port (`--admin`, which serves its log at
 * `/debug/events`, the only way to reach the embedded log of `attache dev`), and the compile
 * options they rebuild snapshots with: the group and, as `attache compile` takes them,
 * `--local-cluster`, `--remote-endpoints` and `--secret-namespace`, so a rebuild is the one the
 * compiler committed.
 */
import { JetStreamEventLog } from '../../shared/events/jetstream-event-log.ts';
import { SecretSealingEventLog } from '../../shared/events/sealed-secrets.ts';
import { adminClientToken, adminEndpoint } from '../../shared/runtime/admin-client.ts';
import { type FlagValue, flag } from '../../shared/runtime/config.ts';
import {
  natsSecurityFromFlags,
  redisSecurityFromFlags,
  redisSentinelFromFlags,
} from '../../shared/runtime/connection-flags.ts';
import { ConfigError } from '../../shared/runtime/errors.ts';
import type { Logger } from '../../shared/runtime/logger.ts';
import { keyRingFromFlags } from '../../shared/runtime/secret-keys.ts';
import type { CheckpointStore } from '../../shared/snapshot/checkpoint-store.ts';
import { RedisSnapshotStore, withSentinel } from '../../shared/snapshot/redis-snapshot-store.ts';
import type { CompileOptions } from '../compiler/contracts.ts';
import { endpointPolicyFromFlags } from '../compiler/endpoint-policy-flags.ts';
import { secretNamespacesFromFlags } from '../compiler/secret-namespace-flags.ts';
import { HttpCheckpointSource, HttpEventSource } from '../debug/http-event-source.ts';
import { LogHistory } from '../debug/log-history.ts';

/** The compile options of the group the flags name, as `attache compile` builds them. */
export function compileOptionsFromFlags(flags: Record<string, FlagValue>): CompileOptions {
  const group = flag.str(flags, 'group') ?? 'default';
  const endpointPolicy = endpointPolicyFromFlags(
    flag.list(flags, 'local-cluster'),
    flag.str(flags, 'remote-endpoints'),
  );
  return {
    group,
    ...endpointPolicy(group),
    secretNamespaces: secretNamespacesFromFlags(flag.list(flags, 'secret-namespace')),
  };
}

/**
 * The snapshot store at --redis (its compiler checkpoints, its committed manifests), or undefined
 * without the flag; the caller closes it.
 */
export async function redisStoreFromFlags(
  flags: Record<string, FlagValue>,
  log: Logger,
): Promise<RedisSnapshotStore | undefined> {
  const url = flag.str(flags, 'redis');
  if (!url) return undefined;
  return RedisSnapshotStore.connect({
    url,
    prefix: flag.str(flags, 'redis-prefix') ?? 'attache:',
    security: redisSecurityFromFlags(flags),
    ...withSentinel(redisSentinelFromFlags(flags)),
    log,
  });
}

/**
 * Opens the history of the group the flags name; the caller closes it. With `checkpoints`, the
 * history can start rebuilds from the compiler's checkpoints (log-history.ts `useCheckpoint`):
 * those in that store (Redis), or, with --admin, those the admin port serves.
 */
export async function openHistory(
  flags: Record<string, FlagValue>,
  log: Logger,
  opts: { checkpoints?: CheckpointStore | 'admin' } = {},
): Promise<{ history: LogHistory; close(): Promise<void> }> {
  const compileOptions = compileOptionsFromFlags(flags);
  const nats = flag.str(flags, 'nats');
  const admin = flag.str(flags, 'admin');
  if (!nats === !admin) throw new ConfigError('give exactly one of --nats or --admin');
  const keys = keyRingFromFlags(flags);
  if (admin) {
    const endpoint = adminEndpoint(admin, adminClientToken(flags));
    const checkpoints = opts.checkpoints === 'admin' ? new HttpCheckpointSource(endpoint) : opts.checkpoints;
    return {
      history: await LogHistory.open(
        new HttpEventSource(endpoint),
        compileOptions,
        // The admin port delivers the events as its process opened them; its checkpoints likewise.
        checkpoints ? { store: checkpoints, ...(keys ? { keys } : {}), plaintext: 'allow' } : undefined,
      ),
      close: async () => {},
    };
  }
  const events = new SecretSealingEventLog(
    await JetStreamEventLog.connect({ url: nats ?? '', security: natsSecurityFromFlags(flags), log }),
    { ...(keys ? { keys } : {}), plaintext: 'refuse', log },
  );
  const checkpoints = opts.checkpoints === 'admin' ? undefined : opts.checkpoints;
  try {
    return {
      history: await LogHistory.open(
        events,
        compileOptions,
        checkpoints ? { store: checkpoints, ...(keys ? { keys } : {}), plaintext: 'refuse' } : undefined,
      ),
      close: () => events.close(),
    };
  } catch (err) {
    await events.close();
    throw err;
  }
}
