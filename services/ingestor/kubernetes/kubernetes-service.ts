/**
 * `attache ingest kubernetes`: one Kubernetes cluster's ingestor publishing into NATS JetStream.
 *
 * Runners, in start order (see {@link runIngestService}):
 *   1. event log  — JetStream connection and stream (everything below publishes into it)
 *   2. ingestor   — reconciles the cluster with what the log holds for it, then watches
 *   3. admin      — last, so /readyz only turns green once the initial state is published
 */
import os from 'node:os';
import { type FlagValue, flag } from '../../../shared/runtime/config.ts';
import { natsSecurityFromFlags } from '../../../shared/runtime/connection-flags.ts';
import { runIngestService } from '../shared/ingest-service.ts';
import { loadKubeConfig } from './kube-config.ts';
import { KubernetesIngestor } from './kubernetes-ingestor.ts';
import { statusWriteBack } from './status-runners.ts';

/** Flags of `attache ingest kubernetes`, for services/cli/commands.ts. */
export { KUBERNETES_INGEST_FLAGS } from './flags.ts';

export async function runKubernetesIngestor(flags: Record<string, FlagValue>): Promise<never> {
  const kubeconfig = flag.str(flags, 'kubeconfig');
  const context = flag.str(flags, 'context');
  const kubeConfig = loadKubeConfig({
    ...(kubeconfig ? { kubeconfig } : {}),
    ...(context ? { context } : {}),
  });
  const namespaces = flags.namespace;
  return runIngestService(flags, 'attache-ingest-kubernetes', ({ cluster, log, registry, events }) => [
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
    // Status write-back starts after the ingestor, so the first writes see a published state.
    ...(flag.bool(flags, 'write-status')
      ? statusWriteBack({
          cluster,
          kubeConfig,
          natsUrl: flag.str(flags, 'nats') ?? '',
          natsSecurity: natsSecurityFromFlags(flags),
          namespace: flag.str(flags, 'status-namespace') ?? 'attache',
          log,
          registry,
        }).runners
      : []),
  ]);
}
