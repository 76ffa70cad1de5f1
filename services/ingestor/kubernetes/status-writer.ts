/**
 * Writes the compiler's per-object status (NATS KV `ATTACHE_STATUS`) back to one Kubernetes
 * cluster's Mapping and Host status subresources.
 *
 * Contract:
 * - Watches only this cluster's keys (`<cluster>.>`); the latest value per object is the desired
 *   status. A deleted key (object gone) writes nothing.
 * - Writes only while `isLeader()` (one replica per cluster, see leader-election.ts); on becoming
 *   leader every known status is re-checked, since the previous leader may have missed some.
 * - Each write first GETs the object and writes nothing when the observed status already equals
 *   the desired one, so a status is written once per change and replicas, restarts and re-checks
 *   never cause a write loop. The PUT carries the resourceVersion just read; a 409 Conflict is
 *   retried with a fresh GET (up to 5 times), a 404 means the object is gone and is skipped.
 * - Other failures are retried with backoff; the watch itself resumes after NATS reconnects.
 */
import { CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import type { KV } from '@nats-io/kv';
import { Counter, type Registry } from 'prom-client';
import {
  clusterStatusFilter,
  decodeStatus,
  type ObjectStatus,
  parseStatusKey,
  type StatusKeyParts,
} from '../../../shared/events/status-keys.ts';
import { errorMessage } from '../../../shared/runtime/errors.ts';
import type { Logger } from '../../../shared/runtime/logger.ts';
import type { Runner } from '../../../shared/runtime/runner.ts';
import { codeOf } from './leader-election.ts';
import { desiredStatus, jsonEqual, STATUS_KINDS } from './status-shape.ts';

export interface StatusWriterOptions {
  /** Source cluster name, as the ingestor publishes it. */
  cluster: string;
  kubeConfig: KubeConfig;
  /** The status bucket (`ATTACHE_STATUS`), opened by the caller. */
  kv: KV;
  log: Logger;
  registry: Registry;
  /** Only the leader writes; default: always (a single replica). */
  isLeader?: () => boolean;
  /** CRD version written through; default `v3alpha1` (the storage version). */
  crdVersion?: string;
}

/** Outcome of one object's write-back (metric label and test hook). */
export type WriteOutcome = 'written' | 'in_sync' | 'not_found' | 'error' | 'skipped';

const MAX_CONFLICT_RETRIES = 5;

export class StatusWriter implements Runner {
  readonly name: string;
  private readonly api: CustomObjectsApi;
  private readonly desired = new Map<string, { parts: StatusKeyParts; status: ObjectStatus }>();
  private readonly pending = new Set<string>();
  private readonly abort = new AbortController();
  private watching?: Promise<void>;
  private working?: Promise<void>;
  private retryTimer?: NodeJS.Timeout;
  private wasLeader = false;
  private started = false;
  private readonly outcomes: Counter;
  /** Count of PUTs that changed a status, by kind (tests read it). */
  readonly written = new Map<string, number>();

  constructor(private readonly opts: StatusWriterOptions) {
    this.name = `status-writer/${opts.cluster}`;
    this.api = opts.kubeConfig.makeApiClient(CustomObjectsApi);
    this.outcomes =
      (opts.registry.getSingleMetric('attache_ingestor_status_writes_total') as Counter | undefined) ??
      new Counter({
        name: 'attache_ingestor_status_writes_total',
        help: 'status write-back attempts by kind and outcome',
        labelNames: ['cluster', 'kind', 'outcome'],
        registers: [opts.registry],
      });
  }

  async start(): Promise<void> {
    const iter = await this.opts.kv.watch({ key: clusterStatusFilter(this.opts.cluster) });
    this.abort.signal.addEventListener('abort', () => iter.stop(), { once: true });
    this.watching = (async () => {
      for await (const e of iter) {
        const parts = parseStatusKey(e.key);
        if (!parts || parts.cluster !== this.opts.cluster) continue;
        const id = `${parts.kind}/${parts.namespace}/${parts.name}`;
        const status = e.operation === 'PUT' ? decodeStatus(e.string()) : undefined;
        if (!status) {
          this.desired.delete(id);
          this.pending.delete(id);
          continue;
        }
        this.desired.set(id, { parts, status });
        this.pending.add(id);
        this.kick();
      }
    })().catch((err: unknown) => {
      if (!this.abort.signal.aborted) this.opts.log.error({ err: errorMessage(err) }, 'status watch ended');
    });
    this.started = true;
  }

  ready(): boolean {
    return this.started;
  }

  /** Tells the writer leadership may have changed (LeaderElector `onChange`). */
  leadershipChanged = (): void => {
    this.kick();
  };

  /** Resolves once nothing is pending or being written (tests). */
  async idle(): Promise<void> {
    while (this.working) await this.working;
  }

  async close(): Promise<void> {
    this.abort.abort();
    if (this.retryTimer) clearTimeout(this.retryTimer);
    await this.watching;
    await this.working?.catch(() => {});
  }

  private isLeader(): boolean {
    return this.opts.isLeader?.() ?? true;
  }

  private kick(): void {
    if (this.abort.signal.aborted) return;
    const leader = this.isLeader();
    if (leader && !this.wasLeader) for (const id of this.desired.keys()) this.pending.add(id);
    this.wasLeader = leader;
    if (!leader || this.working || this.pending.size === 0) return;
    this.working = this.drain().finally(() => {
      this.working = undefined;
      if (this.pending.size > 0 && !this.retryTimer) {
        this.retryTimer = setTimeout(() => {
          this.retryTimer = undefined;
          this.kick();
        }, 1000);
        this.retryTimer.unref();
      }
    });
  }

  private async drain(): Promise<void> {
    let failed = 0;
    while (this.pending.size > failed && this.isLeader() && !this.abort.signal.aborted) {
      const id = [...this.pending].sort()[failed];
      if (id === undefined) break;
      const want = this.desired.get(id);
      this.pending.delete(id);
      if (!want) continue;
      const outcome = await this.writeOne(want.parts, want.status);
      this.outcomes.inc({ cluster: this.opts.cluster, kind: want.parts.kind, outcome });
      if (outcome === 'error') {
        this.pending.add(id);
        failed++;
      }
    }
  }

  /** GET, compare, PUT the status subresource; retried on 409 with a fresh GET. */
  private async writeOne(parts: StatusKeyParts, status: ObjectStatus): Promise<WriteOutcome> {
    const coords = STATUS_KINDS[parts.kind];
    if (!coords) return 'skipped';
    const ref = {
      group: coords.group,
      version: this.opts.crdVersion ?? 'v3alpha1',
      plural: coords.plural,
      namespace: parts.namespace,
      name: parts.name,
    };
    for (let attempt = 0; attempt <= MAX_CONFLICT_RETRIES; attempt++) {
      try {
        const current = (await this.api.getNamespacedCustomObject(ref)) as Record<string, unknown>;
        const want = desiredStatus(parts.kind, current.status, status);
        if (!want || jsonEqual(current.status, want)) return 'in_sync';
        await this.api.replaceNamespacedCustomObjectStatus({ ...ref, body: { ...current, status: want } });
        this.written.set(parts.kind, (this.written.get(parts.kind) ?? 0) + 1);
        this.opts.log.info(
          {
            cluster: this.opts.cluster,
            kind: parts.kind,
            namespace: parts.namespace,
            name: parts.name,
            state: status.state,
          },
          'status written',
        );
        return 'written';
      } catch (err) {
        const code = codeOf(err);
        if (code === 409) continue;
        if (code === 404) return 'not_found';
        this.opts.log.warn(
          { cluster: this.opts.cluster, kind: parts.kind, name: parts.name, err: errorMessage(err) },
          'status write failed; will retry',
        );
        return 'error';
      }
    }
    return 'error';
  }
}
