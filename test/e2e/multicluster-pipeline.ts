/**
 * The multi-cluster pipeline for end-to-end tests, in process and on real servers: a JetStream
 * event log, a Redis snapshot store, the compiler runner with an endpoint policy and the status
 * publisher on its commits, the snapshot cache and the ADS server on a free port.
 */
import { Registry } from 'prom-client';
import type { CompileOptions } from '../../services/compiler/contracts.ts';
import { CompilerRunner } from '../../services/compiler/runner.ts';
import { StatusPublisher } from '../../services/compiler/status-publisher.ts';
import { SnapshotCache } from '../../services/fanout/cache/snapshot-cache.ts';
import { AdsServerRunner } from '../../services/fanout/server/ads-server.ts';
import type { EventEnvelope, SourceObject } from '../../shared/events/envelope.ts';
import { JetStreamEventLog } from '../../shared/events/jetstream-event-log.ts';
import { messageIdFor } from '../../shared/events/subjects.ts';
import { createLogger } from '../../shared/runtime/logger.ts';
import { closeRunners, type Runner, startRunners } from '../../shared/runtime/runner.ts';
import { RedisSnapshotStore } from '../../shared/snapshot/redis-snapshot-store.ts';

export interface MulticlusterPipeline {
  events: JetStreamEventLog;
  compiler: CompilerRunner;
  status: StatusPublisher;
  ads: AdsServerRunner;
  close(): Promise<void>;
}

export async function startMulticlusterPipeline(o: {
  natsUrl: string;
  redisUrl: string;
  policy: Omit<CompileOptions, 'group'>;
}): Promise<MulticlusterPipeline> {
  const log = createLogger('e2e', process.env.ATTACHE_LOG_LEVEL ?? 'warn');
  const registry = new Registry();
  const events = await JetStreamEventLog.connect({ url: o.natsUrl, log });
  const store = await RedisSnapshotStore.connect({ url: o.redisUrl, prefix: `e2e-${Date.now()}:`, log });
  const status = new StatusPublisher({ url: o.natsUrl, log, registry, groups: ['default'] });
  const compiler = new CompilerRunner({
    events,
    store,
    groups: ['default'],
    log,
    registry,
    debounceMs: 20,
    maxDelayMs: 200,
    retention: 20,
    onFatal: (err) => log.error({ err }, 'fatal'),
    compileOptions: () => o.policy,
    onCommit: status.onCommit,
  });
  const cache = new SnapshotCache({ store, log, registry });
  const ads = new AdsServerRunner({
    auth: { allowUnauthenticated: true },
    cache,
    host: '127.0.0.1',
    port: 0,
    log,
    registry,
  });
  const runners: Runner[] = [
    { name: 'event-log', start: async () => {}, ready: () => true, close: () => events.close() },
    { name: 'snapshot-store', start: async () => {}, ready: () => true, close: () => store.close() },
    status,
    compiler,
    cache,
    ads,
  ];
  await startRunners(runners, log);
  return { events, compiler, status, ads, close: () => closeRunners(runners, log) };
}

let rv = 0;

/** Publishes an object change as the ingestor of `cluster` would. */
export async function publishObject(
  events: JetStreamEventLog,
  cluster: string,
  object: SourceObject,
  op: 'upsert' | 'delete' = 'upsert',
): Promise<void> {
  const version = String(++rv);
  const event: EventEnvelope = {
    v: 1,
    cluster,
    kind: object.kind,
    namespace: object.metadata.namespace ?? '',
    name: object.metadata.name,
    op,
    resourceVersion: version,
    generation: object.metadata.generation ?? 0,
    observedAt: new Date().toISOString(),
    ingestor: `test/${cluster}`,
    ...(op === 'upsert'
      ? { object: { ...object, metadata: { ...object.metadata, resourceVersion: version } } }
      : {}),
  };
  await events.publish(event, { msgId: messageIdFor(event) });
}

/** A Service `echo` in `apps` with one gRPC port, and its EndpointSlice with `ports` on 127.0.0.1. */
export function echoService(): SourceObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'echo', namespace: 'apps' },
    spec: { ports: [{ name: 'grpc', port: 50051 }] },
  };
}

export function echoSlice(
  cluster: string,
  backendPort: number | undefined,
  zone = `${cluster}-a`,
): SourceObject {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name: `echo-${cluster}`,
      namespace: 'apps',
      labels: { 'kubernetes.io/service-name': 'echo' },
    },
    addressType: 'IPv4',
    ports: [{ name: 'grpc', port: backendPort ?? 1 }],
    endpoints:
      backendPort === undefined ? [] : [{ addresses: ['127.0.0.1'], zone, conditions: { ready: true } }],
  };
}

export const ECHO_HOST = 'echo.multicluster.test';

export function echoMapping(): SourceObject {
  return {
    apiVersion: 'getambassador.io/v3alpha1',
    kind: 'Mapping',
    metadata: { name: 'echo', namespace: 'apps', generation: 1 },
    spec: { hostname: ECHO_HOST, prefix: '/', service: 'echo.apps:50051' },
  };
}
