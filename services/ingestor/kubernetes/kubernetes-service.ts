/**
 * `attache ingest kubernetes`: one Kubernetes cluster's ingestor publishing into NATS JetStream.
 *
 * Runners, in start order:
 *   1. event log  — JetStream connection and stream (everything below publishes into it)
 *   2. ingestor   — reconciles the cluster with what the log holds for it, then watches
 *   3. admin      — last, so /readyz only turns green once the initial state is published
 */
import os from 'node:os';
import { JetStreamEventLog } from '../../../shared/events/jetstream-event-log.ts';
import { AdminServer } from '../../../shared/runtime/admin-server.ts';
import { type FlagSpecs, type FlagValue, flag } from '../../../shared/runtime/config.ts';
import { createLogger } from '../../../shared/runtime/logger.ts';
import { createRegistry } from '../../../shared/runtime/metrics.ts';
import { fatalChannel, type Runner, runService } from '../../../shared/runtime/runner.ts';
import { loadKubeConfig } from './kube-config.ts';
import { KubernetesIngestor } from './kubernetes-ingestor.ts';
import { statusWriteBack } from './status-runners.ts';

/** Flags of `attache ingest kubernetes`, for services/cli/commands.ts. */
export { KUBERNETES_INGEST_FLAGS } from './flags.ts';

export async function runKubernetesIngestor(flags: Record<string, FlagValue>): Promise<never> {
  const cluster = flag.str(flags, 'cluster') ?? '';
  const log = createLogger('attache-ingest-kubernetes').child({ cluster });
  const registry = createRegistry('ingestor');
  const fatal = fatalChannel();
  const kubeconfig = flag.str(flags, 'kubeconfig');
  const context = flag.str(flags, 'context');
  const kubeConfig = loadKubeConfig({
    ...(kubeconfig ? { kubeconfig } : {}),
    ...(context ? { context } : {}),
  });
  const namespaces = flags.namespace;
  const events = await JetStreamEventLog.connect({ url: flag.str(flags, 'nats') ?? '', log });
  const runners: Runner[] = [];
  runners.push({
    name: 'event-log',
    start: async () => {},
    ready: () => true,
    close: () => events.close(),
  });
  runners.push(
    new KubernetesIngestor({
      cluster,
      kubeConfig,
      ...(Array.isArray(namespaces) && namespaces.length > 0 ? { namespaces } : {}),
      events,
      log,
      registry,
      maxBufferedObjects: flag.num(flags, 'max-buffered-objects'),
      ingestorId: `k8s/${cluster}/${os.hostname()}`,
    }),
  );
  // Status write-back starts after the ingestor, so the first writes see a published state.
  if (flag.bool(flags, 'write-status')) {
    runners.push(
      ...statusWriteBack({
        cluster,
        kubeConfig,
        natsUrl: flag.str(flags, 'nats') ?? '',
        namespace: flag.str(flags, 'status-namespace') ?? 'attache',
        log,
        registry,
      }).runners,
    );
  }
  runners.push(
    new AdminServer({
      host: flag.str(flags, 'admin-host') ?? '0.0.0.0',
      port: flag.num(flags, 'admin-port'),
      registry,
      runners: () => runners,
      log,
    }),
  );
  return runService(runners, log, fatal);
}
