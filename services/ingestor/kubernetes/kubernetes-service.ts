/**
 * `attache ingest kubernetes`: one Kubernetes cluster's ingestor publishing into NATS JetStream.
 *
 * Runners, in start order (see {@link runIngestService}):
 *   1. event log  — JetStream connection and stream (everything below publishes into it)
 *   2. elector    — with `--leader-elect`: the cluster's Lease, before the ingestor so that it
 *                   starts as leader or follower (shared with status write-back)
 *   3. ingestor   — reconciles the cluster with what the log holds for it, then watches
 *   3. admin      — last, so /readyz only turns green once the initial state is published
 */
import os from 'node:os';
import { type FlagValue, flag } from '../../../shared/runtime/config.ts';
import { natsSecurityFromFlags } from '../../../shared/runtime/connection-flags.ts';
import { runIngestService } from '../shared/ingest-service.ts';
import { loadKubeConfig } from './kube-config.ts';
import { KubernetesIngestor } from './kubernetes-ingestor.ts';
import { clusterLeaderElector, statusWriteBack } from './status-runners.ts';

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
  const identity = flag.str(flags, 'identity') ?? os.hostname();
  const statusNamespace = flag.str(flags, 'status-namespace') ?? 'attache';
  return runIngestService(flags, 'attache-ingest-kubernetes', ({ cluster, log, registry, events }) => {
    const elector = flag.bool(flags, 'leader-elect')
      ? clusterLeaderElector({
          cluster,
          kubeConfig,
          namespace: statusNamespace,
          identity,
          log,
          registry,
          leaseDurationSec: flag.num(flags, 'lease-duration-sec'),
          retryPeriodMs: flag.num(flags, 'lease-retry-ms'),
        })
      : undefined;
    return [
      ...(elector ? [elector] : []),
      new KubernetesIngestor({
        cluster,
        kubeConfig,
        ...(Array.isArray(namespaces) && namespaces.length > 0 ? { namespaces } : {}),
        events,
        log,
        registry,
        maxBufferedObjects: flag.num(flags, 'max-buffered-objects'),
        antiEntropyIntervalMs: flag.num(flags, 'anti-entropy-interval-ms'),
        ingestorId: `k8s/${cluster}/${identity}`,
        ...(elector ? { leadership: elector } : {}),
      }),
      // Status write-back starts after the ingestor, so the first writes see a published state.
      ...(flag.bool(flags, 'write-status')
        ? statusWriteBack({
            cluster,
            kubeConfig,
            natsUrl: flag.str(flags, 'nats') ?? '',
            natsSecurity: natsSecurityFromFlags(flags),
            namespace: statusNamespace,
            identity,
            log,
            registry,
            ...(elector ? { elector } : {}),
          }).runners
        : []),
    ];
  });
}
