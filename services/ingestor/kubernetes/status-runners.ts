/**
 * The status write-back of one source cluster as runners, for `attache ingest kubernetes`:
 *
 *   1. status-bucket   — NATS connection + KV bucket ATTACHE_STATUS (created if missing)
 *   2. leader-election — the cluster's Lease; only the holder writes
 *   3. status-writer   — Mapping/Host status from the bucket
 *   4. ingress-status  — Ingress load-balancer status from the Attaché Service
 *
 * Start them in this order, after the ingestor itself (closing runs in reverse). With
 * `--leader-elect` the elector is shared with the ingestor and started before it
 * ({@link clusterLeaderElector}); it is then not one of these runners.
 */
import os from 'node:os';
import type { KubeConfig } from '@kubernetes/client-node';
import { type KV, Kvm } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { Registry } from 'prom-client';
import { STATUS_BUCKET } from '../../../shared/events/status-keys.ts';
import { type NatsSecurity, natsServers } from '../../../shared/runtime/connection-flags.ts';
import type { Logger } from '../../../shared/runtime/logger.ts';
import type { Runner } from '../../../shared/runtime/runner.ts';
import { LeaderElector } from './leader-election.ts';
import { IngressStatusSync } from './status-ingress.ts';
import { StatusWriter } from './status-writer.ts';

export interface StatusWriteBackOptions {
  cluster: string;
  kubeConfig: KubeConfig;
  natsUrl: string;
  /** NATS credentials and TLS. */
  natsSecurity?: NatsSecurity;
  /** Namespace of the Lease and of the Attaché Service (usually the pod's namespace). */
  namespace: string;
  /** Name of the Attaché Service for Ingress status; default: found by its component label. */
  serviceName?: string;
  /** This replica's identity; default the host name (the pod name in Kubernetes). */
  identity?: string;
  log: Logger;
  registry: Registry;
  /** Election timings (tests shorten them). */
  retryPeriodMs?: number;
  leaseDurationSec?: number;
  /** The cluster's elector when the ingestor shares it (`--leader-elect`); default: its own. */
  elector?: LeaderElector;
}

/** The Lease name of a cluster: `attache-status-<cluster>` as a DNS label. */
export function leaseNameOf(cluster: string): string {
  return `attache-status-${cluster}`
    .toLowerCase()
    .replace(/[^a-z0-9.-]/g, '-')
    .slice(0, 63);
}

/** The cluster's Lease elector, shared by publishing (`--leader-elect`) and status write-back. */
export function clusterLeaderElector(o: {
  cluster: string;
  kubeConfig: KubeConfig;
  namespace: string;
  identity?: string;
  log: Logger;
  registry: Registry;
  retryPeriodMs?: number;
  leaseDurationSec?: number;
}): LeaderElector {
  return new LeaderElector({
    cluster: o.cluster,
    kubeConfig: o.kubeConfig,
    namespace: o.namespace,
    leaseName: leaseNameOf(o.cluster),
    identity: o.identity ?? os.hostname(),
    log: o.log,
    registry: o.registry,
    ...(o.retryPeriodMs !== undefined ? { retryPeriodMs: o.retryPeriodMs } : {}),
    ...(o.leaseDurationSec !== undefined ? { leaseDurationSec: o.leaseDurationSec } : {}),
  });
}

export interface StatusWriteBack {
  runners: Runner[];
  elector: LeaderElector;
  writer: () => StatusWriter | undefined;
  ingress: IngressStatusSync;
}

export function statusWriteBack(o: StatusWriteBackOptions): StatusWriteBack {
  let nc: NatsConnection | undefined;
  let kv: KV | undefined;
  let writer: StatusWriter | undefined;
  const elector = o.elector ?? clusterLeaderElector(o);
  elector.onChange((leader) => {
    writer?.leadershipChanged();
    if (leader) void ingress.syncNow();
  });
  const ingress = new IngressStatusSync({
    cluster: o.cluster,
    kubeConfig: o.kubeConfig,
    serviceNamespace: o.namespace,
    ...(o.serviceName ? { serviceName: o.serviceName } : {}),
    log: o.log,
    isLeader: () => elector.isLeader(),
  });
  const bucket: Runner = {
    name: 'status-bucket',
    async start() {
      nc = await connect({
        ...o.natsSecurity,
        servers: natsServers(o.natsUrl),
        name: `attache-status-writer-${o.cluster}`,
      });
      kv = await new Kvm(nc).create(STATUS_BUCKET, { history: 1 });
    },
    ready: () => kv !== undefined,
    async close() {
      await nc?.drain().catch(() => {});
    },
  };
  const writerRunner: Runner = {
    name: `status-writer/${o.cluster}`,
    async start() {
      if (!kv) throw new Error('status bucket is not open');
      writer = new StatusWriter({
        cluster: o.cluster,
        kubeConfig: o.kubeConfig,
        kv,
        log: o.log,
        registry: o.registry,
        isLeader: () => elector.isLeader(),
      });
      await writer.start();
    },
    ready: () => writer?.ready() ?? false,
    close: async () => writer?.close(),
  };
  const runners = o.elector ? [bucket, writerRunner, ingress] : [bucket, elector, writerRunner, ingress];
  return { runners, elector, writer: () => writer, ingress };
}
