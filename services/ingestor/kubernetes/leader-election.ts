/**
 * Leader election per source cluster with a coordination.k8s.io/v1 Lease, so that of several
 * ingestor replicas watching one cluster only one writes status back and, with `--leader-elect`,
 * only one publishes (the others keep their informers warm and take over; kubernetes-ingestor.ts).
 *
 * Contract (the client-go algorithm, simplified):
 * - Every `retryPeriodMs` each candidate reads the Lease. No Lease: create it holding it. Held by
 *   us: renew (`renewTime`). Held by another: take it over only when its record (holder, renewTime)
 *   has not changed for `leaseDurationSec` as measured by OUR clock since we first saw that record,
 *   so clock skew between replicas cannot cause two leaders.
 * - Every write carries the resourceVersion just read: of two candidates racing, the API server
 *   rejects one with 409 Conflict and it stays a follower.
 * - A leader that has not renewed successfully for `renewDeadlineMs` (< lease duration) steps down
 *   on its own, before anyone else may take over.
 * - `close()` releases a held Lease (empty holder), so a successor need not wait for expiry.
 * - {@link LeaderElector.isLeader} is also false once the last successful renewal is older than the
 *   renew deadline, before any round has run: a process resumed after SIGSTOP (its timers not yet
 *   fired) must not act on a lease that another replica may hold by now.
 *
 * Timings are client-go's leader-election defaults (lease 15 s, renew deadline 10 s, retry 2 s):
 * they bound a failover to about 15 s, and status write-back tolerates a few seconds without a
 * writer. Like client-go (1.26+), a leader renews with the Lease it last wrote, without reading it
 * first: one PUT per 2 s while leading (a conflict falls back to a full read-and-decide round);
 * followers read once per 2 s. None of these requests is a LIST.
 */
import { CoordinationV1Api, type KubeConfig, type V1Lease, V1MicroTime } from '@kubernetes/client-node';
import { Gauge, type Registry } from 'prom-client';
import { errorMessage } from '../../../shared/runtime/errors.ts';
import type { Logger } from '../../../shared/runtime/logger.ts';
import type { Runner } from '../../../shared/runtime/runner.ts';

export interface LeaderElectorOptions {
  /** Source cluster name (metrics and logs). */
  cluster: string;
  kubeConfig: KubeConfig;
  /** Namespace and name of the Lease. */
  namespace: string;
  leaseName: string;
  /** This replica's identity (pod name); must be unique among candidates. */
  identity: string;
  /** Default 15 s. */
  leaseDurationSec?: number;
  /** Default 10 s; must be below the lease duration. */
  renewDeadlineMs?: number;
  /** Default 2 s. */
  retryPeriodMs?: number;
  log: Logger;
  registry: Registry;
  /** Called on every change of leadership (more listeners: {@link LeaderElector.onChange}). */
  onChange?: (leader: boolean) => void;
}

export class LeaderElector implements Runner {
  readonly name: string;
  private readonly api: CoordinationV1Api;
  private leader = false;
  private lastRenew = 0;
  private observed?: { record: string; at: number };
  /** The Lease as this replica last wrote it, while leading (renewals start from it). */
  private held?: V1Lease;
  private timer?: NodeJS.Timeout;
  private ticking?: Promise<void>;
  private closed = false;
  private readonly gauge: Gauge;
  private readonly listeners: ((leader: boolean) => void)[] = [];

  constructor(private readonly opts: LeaderElectorOptions) {
    this.name = `leader-election/${opts.cluster}`;
    if (opts.onChange) this.listeners.push(opts.onChange);
    this.api = opts.kubeConfig.makeApiClient(CoordinationV1Api);
    const existing = opts.registry.getSingleMetric('attache_ingestor_leader');
    this.gauge =
      (existing as Gauge | undefined) ??
      new Gauge({
        name: 'attache_ingestor_leader',
        help: '1 while this replica holds the status-writer lease of the cluster',
        labelNames: ['cluster'],
        registers: [opts.registry],
      });
    this.gauge.set({ cluster: opts.cluster }, 0);
  }

  /** Runs the first election round, then keeps going in the background. */
  async start(): Promise<void> {
    await this.tick();
    this.schedule();
  }

  ready(): boolean {
    return true;
  }

  /** Holding the Lease, renewed within the renew deadline. */
  isLeader(): boolean {
    return this.leader && Date.now() - this.lastRenew <= this.renewDeadlineMs;
  }

  /** Adds a listener called on every change of leadership. */
  onChange(listener: (leader: boolean) => void): void {
    this.listeners.push(listener);
  }

  /** The lease duration: how long a dead leader can hold the Lease before a follower takes it. */
  get leaseDurationMs(): number {
    return this.leaseDurationSec * 1000;
  }

  private get renewDeadlineMs(): number {
    return this.opts.renewDeadlineMs ?? Math.min(10_000, (this.leaseDurationSec * 1000 * 2) / 3);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    await this.ticking?.catch(() => {});
    if (this.leader) await this.release();
    this.setLeader(false);
  }

  private get leaseDurationSec(): number {
    return this.opts.leaseDurationSec ?? 15;
  }

  private schedule(): void {
    if (this.closed) return;
    this.timer = setTimeout(() => {
      this.ticking = this.tick().finally(() => {
        this.ticking = undefined;
        this.schedule();
      });
    }, this.opts.retryPeriodMs ?? 2000);
  }

  private async tick(): Promise<void> {
    const { namespace, leaseName: name, identity } = this.opts;
    if (this.leader && this.held) {
      const now = Date.now();
      try {
        this.held = await this.api.replaceNamespacedLease({
          name,
          namespace,
          body: this.leaseBody(this.held, 0),
        });
        this.won(now);
        return;
      } catch {
        this.held = undefined; // someone else wrote it, or the API failed: decide from a fresh read
      }
    }
    try {
      const now = Date.now();
      const lease = await this.read();
      if (!lease) {
        this.held = await this.api.createNamespacedLease({ namespace, body: this.leaseBody(undefined, 0) });
        this.won(now);
        return;
      }
      const spec = lease.spec ?? {};
      const holder = spec.holderIdentity ?? '';
      const record = JSON.stringify([holder, String(spec.renewTime ?? '')]);
      if (this.observed?.record !== record) this.observed = { record, at: now };
      if (holder === identity) {
        this.held = await this.api.replaceNamespacedLease({
          name,
          namespace,
          body: this.leaseBody(lease, 0),
        });
        this.won(now);
        return;
      }
      const expired =
        holder === '' || now - this.observed.at > (spec.leaseDurationSeconds ?? this.leaseDurationSec) * 1000;
      if (expired) {
        this.held = await this.api.replaceNamespacedLease({
          name,
          namespace,
          body: this.leaseBody(lease, 1),
        });
        this.opts.log.info(
          { cluster: this.opts.cluster, previous: holder || null },
          'acquired the status lease',
        );
        this.won(now);
        return;
      }
      this.setLeader(false);
    } catch (err) {
      // A conflict means another replica wrote first; anything else is an API problem. Either way a
      // leader keeps its role only until the renew deadline passes.
      if (this.leader && Date.now() - this.lastRenew > this.renewDeadlineMs) {
        this.opts.log.warn(
          { cluster: this.opts.cluster, err: errorMessage(err) },
          'could not renew the status lease in time; stepping down',
        );
        this.setLeader(false);
      } else if (!isConflict(err)) {
        this.opts.log.debug({ cluster: this.opts.cluster, err: errorMessage(err) }, 'lease round failed');
      }
    }
  }

  private won(at: number): void {
    this.lastRenew = at;
    this.setLeader(true);
  }

  private setLeader(leader: boolean): void {
    if (!leader) this.held = undefined;
    if (leader === this.leader) return;
    this.leader = leader;
    this.gauge.set({ cluster: this.opts.cluster }, leader ? 1 : 0);
    this.opts.log.info(
      { cluster: this.opts.cluster, identity: this.opts.identity, leader },
      'leadership changed',
    );
    for (const listener of this.listeners) listener(leader);
  }

  private async read(): Promise<V1Lease | undefined> {
    try {
      return await this.api.readNamespacedLease({
        name: this.opts.leaseName,
        namespace: this.opts.namespace,
      });
    } catch (err) {
      if (codeOf(err) === 404) return undefined;
      throw err;
    }
  }

  /** The Lease as this replica holds it; `transition` is 1 when taking it from another holder. */
  private leaseBody(current: V1Lease | undefined, transition: 0 | 1): V1Lease {
    const now = new V1MicroTime();
    const spec = current?.spec ?? {};
    return {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: {
        name: this.opts.leaseName,
        namespace: this.opts.namespace,
        ...(current?.metadata?.resourceVersion ? { resourceVersion: current.metadata.resourceVersion } : {}),
      },
      spec: {
        holderIdentity: this.opts.identity,
        leaseDurationSeconds: this.leaseDurationSec,
        acquireTime: transition === 1 || !current ? now : (spec.acquireTime ?? now),
        renewTime: now,
        leaseTransitions: (spec.leaseTransitions ?? 0) + transition,
      },
    };
  }

  private async release(): Promise<void> {
    try {
      const lease = await this.read();
      if (!lease || lease.spec?.holderIdentity !== this.opts.identity) return;
      const body = this.leaseBody(lease, 0);
      body.spec = { ...body.spec, holderIdentity: '', leaseDurationSeconds: 1 };
      await this.api.replaceNamespacedLease({
        name: this.opts.leaseName,
        namespace: this.opts.namespace,
        body,
      });
    } catch (err) {
      this.opts.log.warn(
        { cluster: this.opts.cluster, err: errorMessage(err) },
        'could not release the lease',
      );
    }
  }
}

/** HTTP status of a client-node ApiException, if any. */
export function codeOf(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

export function isConflict(err: unknown): boolean {
  return codeOf(err) === 409;
}
