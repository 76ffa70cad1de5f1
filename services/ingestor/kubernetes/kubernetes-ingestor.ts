/**
 * The Kubernetes ingestor: publishes every change to the objects Attaché reads from one cluster
 * as events of that source cluster.
 *
 * Start-up reconciles against the log, not against memory: it folds what the log says this
 * cluster last published, lists every kind, publishes upserts for new or changed objects and
 * tombstones for objects that vanished while nothing was watching, then a `resync` marker. Every
 * event a (re)list publishes carries `relist`, so the compiler holds its commits until the marker
 * (no snapshot from half a sync: a Host without its Secret). After
 * that, watch events are published as they come. Every later full list (after a 410, a dropped
 * connection that could not resume, a restarted watch) is swept the same way and followed by a
 * `resync` marker, so no delete is missed and nothing stale survives a gap.
 *
 * What is published:
 * - every getambassador.io kind, x.getambassador.io AmbassadorMappings,
 *   Services, EndpointSlices, Ingresses, IngressClasses;
 * - Endpoints only of Services that have no EndpointSlice;
 * - Secrets only while a Host or TLSContext refers to them (secret-refs.ts): a secret gets an
 *   upsert when a reference appears and a tombstone when the last one goes.
 *
 * A kind that is not served (404) or forbidden (403) is a warning and a metric; it is retried
 * with backoff and never holds up the other kinds. Its objects in the log are left as they are
 * until it can be listed again (a denial says nothing about whether they still exist).
 *
 * Changes go through the {@link PublishQueue}: coalesced per object, bounded, retried with the
 * same message id while NATS is unreachable. When the queue is full, a change is not buffered and
 * its kind is marked dirty; once the queue drains, dirty kinds are re-swept from their informer
 * caches, which hold the current state — so nothing is lost, only delayed.
 *
 * Anti-entropy (every `antiEntropyIntervalMs`): reads this cluster's events appended since the last
 * check, adopts every object whose newest event is not one this ingestor published (anti-entropy.ts:
 * a forged tombstone or upsert, another process publishing as this cluster), then compares every
 * informer cache with what the log holds and publishes what differs. It reads the caches, never the
 * API server, so it adds no LIST; unchanged objects are matched by resourceVersion without hashing.
 * Repairs are counted (`attache_ingestor_anti_entropy_repairs_total`) and logged as a warning.
 *
 * Leader election (`leadership`, `--leader-elect`): of several replicas watching one cluster only
 * the holder of the cluster's Lease (the one status write-back uses) publishes. The others follow:
 * their informers list and watch as the leader's do (caches warm, nothing offered or published),
 * and every `followIntervalMs` they fold the cluster's newly logged events into their record of
 * the log. Taking over is: read the log up to its end, compare every informer cache with it (by
 * resourceVersion, as anti-entropy does) and publish only what differs — the changes the old
 * leader observed too late or never published; no LIST is sent, and an unchanged object costs
 * nothing. Then a `resync` marker, which closes any relist the old leader left half-published (the
 * compiler's sync barrier). A change both replicas publish from the same log position has the
 * same message id and is stored once. Losing the Lease (or a renewal older than the renew
 * deadline, as after SIGSTOP) stops publishing at once: pending states are dropped and retries
 * abandoned. One anti-entropy round runs a lease duration after a takeover, so a publish the old
 * leader still had on the wire when it was paused, stored late, is corrected.
 */
import os from 'node:os';
import type { KubeConfig } from '@kubernetes/client-node';
import type { Registry } from 'prom-client';
import { objectKey, type SourceObject } from '../../../shared/events/envelope.ts';
import type { EventLog } from '../../../shared/events/event-log.ts';
import { errorMessage } from '../../../shared/runtime/errors.ts';
import type { Logger } from '../../../shared/runtime/logger.ts';
import { type Backoff, retryUntilDone } from '../../../shared/runtime/retry.ts';
import type { Runner } from '../../../shared/runtime/runner.ts';
import { type IngestorMetrics, ingestorMetrics } from '../shared/ingestor-metrics.ts';
import { readPublishedState } from '../shared/published-state.ts';
import { adoptForeignEvents, loggedStateOf } from './anti-entropy.ts';
import { type FailureReason, KindWatch } from './kind-watch.ts';
import {
  AMBASSADOR_MAPPING,
  DEPENDENT_KINDS,
  ENDPOINT_SLICE,
  ENDPOINTS,
  kindId,
  PRIMARY_KINDS,
  SECRET,
  type WatchedKind,
} from './kinds.ts';
import { type KubernetesMetrics, kubernetesMetrics } from './kubernetes-metrics.ts';
import { changeHash } from './normalize.ts';
import { type DesiredState, PublishQueue } from './publish-queue.ts';
import { referencedSecrets, type SecretKey } from './secret-refs.ts';

export interface KubernetesIngestorOptions {
  /** Source cluster name of every event; unique per cluster. */
  cluster: string;
  kubeConfig: KubeConfig;
  /** Namespaces to watch; all namespaces when absent or empty. */
  namespaces?: readonly string[];
  events: EventLog;
  log: Logger;
  registry: Registry;
  /** Publisher identity (default `k8s/<cluster>/<hostname>`). */
  ingestorId?: string;
  /** Bound on objects waiting to be published (default 10,000). */
  maxBufferedObjects?: number;
  /** Concurrent publishes (default 64). */
  publishWindow?: number;
  /** Retry backoff for publishing and reading the log. */
  backoff?: Backoff;
  /** Restart backoff of a failed watch, a missing kind or a denied one (default 1 s → 30 s). */
  watchRetry?: Backoff;
  /** Page size of lists (default 500). */
  pageSize?: number;
  /** Kinds to watch (default: all of kinds.ts). */
  kinds?: readonly WatchedKind[];
  /**
   * Anti-entropy period (default 60 s; 0 turns it off): compare what the log holds for this
   * cluster with the informer caches and republish what differs (lost or forged events).
   */
  antiEntropyIntervalMs?: number;
  /** Publish only while this replica leads (see the module comment); default: always publish. */
  leadership?: Leadership;
  /** While following: how often the leader's newly logged events are read (default 2 s). */
  followIntervalMs?: number;
  /**
   * After how long one object's publish has kept failing the source counts as stalled: not ready
   * (`/readyz`) and `attache_ingestor_stalled` 1 (default 60 s). The other objects are published
   * meanwhile; the stall says this one's changes are not reaching the log.
   */
  stallAfterMs?: number;
}

/** The part of a {@link LeaderElector} the ingestor needs. */
export interface Leadership {
  isLeader(): boolean;
  onChange(listener: (leader: boolean) => void): void;
  /** How long a dead leader can hold the lease (anti-entropy runs this long after a takeover). */
  readonly leaseDurationMs: number;
}

const SOURCE = 'k8s';
const DEFAULT_WATCH_RETRY: Backoff = { initialMs: 1_000, maxMs: 30_000, factor: 2 };

/**
 * Whether a logged identity is an object of this watched kind. Logs written before
 * AmbassadorMappings had their own kind hold them as kind `Mapping` of group x.getambassador.io:
 * they count as AmbassadorMappings, so the first list tombstones those old keys (the objects are
 * republished under their own kind) instead of leaving duplicates behind.
 */
function sameKind(id: { kind: string; group: string }, kind: WatchedKind): boolean {
  if (id.group !== kind.group) return false;
  return id.kind === kind.kind || (kind === AMBASSADOR_MAPPING && id.kind === 'Mapping');
}

const isHostOrTlsContext = (k: WatchedKind) =>
  k.group === 'getambassador.io' && (k.kind === 'Host' || k.kind === 'TLSContext');

export class KubernetesIngestor implements Runner {
  readonly name = 'kubernetes-ingestor';
  private readonly ingestorId: string;
  private readonly metrics: IngestorMetrics;
  private readonly kubeMetrics: KubernetesMetrics;
  private readonly labels: { source: string; cluster: string };
  private readonly abort = new AbortController();
  private readonly queue: PublishQueue;
  private readonly watches: KindWatch[] = [];
  /** Watches that lost a change to a full queue; re-swept from their cache when it drains. */
  private readonly dirty = new Set<KindWatch>();
  /** Secrets a Host or TLSContext refers to. */
  private secretRefs = new Set<SecretKey>();
  /** EndpointSlice (`ns/name`) → the Service (`ns/name`) it belongs to. */
  private readonly sliceService = new Map<string, string>();
  /** Service (`ns/name`) → number of its EndpointSlices. */
  private readonly serviceSlices = new Map<string, number>();
  /** Watches that failed and have not recovered: their caches may be stale. */
  private readonly unavailable = new Set<KindWatch>();
  /** Sequence up to which anti-entropy has accounted for the log. */
  private checkedSeq = 0;
  private antiEntropyTimer?: NodeJS.Timeout;
  private checking = false;
  /** Set during anti-entropy's cache comparison: collects the keys it queued. */
  private repairing?: string[];
  private resyncWanted = false;
  /** True while sweep() runs: what it offers is part of a (re)list. */
  private sweeping = false;
  private resyncing = false;
  private started = false;
  private isReady = false;
  private closed = false;
  /** False while a leader-elected replica follows: informers run, nothing is offered or published. */
  private publishing: boolean;
  private followTimer?: NodeJS.Timeout;
  private followRound?: Promise<void>;
  private takeoverCheck?: NodeJS.Timeout;
  /** Leadership transitions, one at a time. */
  private transitions: Promise<void> = Promise.resolve();

  constructor(private readonly opts: KubernetesIngestorOptions) {
    this.ingestorId = opts.ingestorId ?? `${SOURCE}/${opts.cluster}/${os.hostname()}`;
    this.metrics = ingestorMetrics(opts.registry);
    this.kubeMetrics = kubernetesMetrics(opts.registry);
    this.labels = { source: SOURCE, cluster: opts.cluster };
    this.publishing = !opts.leadership;
    const lead = opts.leadership;
    this.queue = new PublishQueue({
      ...(lead ? { canPublish: () => this.publishing && lead.isLeader() } : {}),
      cluster: opts.cluster,
      ingestorId: this.ingestorId,
      events: opts.events,
      log: opts.log,
      signal: this.abort.signal,
      ...(opts.backoff ? { backoff: opts.backoff } : {}),
      ...(opts.publishWindow ? { window: opts.publishWindow } : {}),
      ...(opts.maxBufferedObjects ? { maxPending: opts.maxBufferedObjects } : {}),
      onPublished: (event) => {
        this.metrics.published.inc({ ...this.labels, op: event.op });
        this.stalled();
      },
      onPublishFailure: () => {
        this.metrics.publishFailures.inc(this.labels);
        this.stalled();
      },
      onSize: (n) => this.metrics.pending.set(this.labels, n),
      onIdle: () => this.afterIdle(),
    });
    lead?.onChange((leader) => this.leadershipChanged(leader));
  }

  /**
   * Reads what the log holds for this cluster, lists every kind (kinds that cannot be listed are
   * retried in the background), publishes the differences and a `resync` marker.
   */
  async start(): Promise<void> {
    const { cluster, events, log } = this.opts;
    const state = await retryUntilDone(() => readPublishedState(events, cluster), {
      signal: this.abort.signal,
      log,
      what: 'read event log',
      ...(this.opts.backoff ? { backoff: this.opts.backoff } : {}),
    });
    for (const [key, logged] of state.objects) this.queue.logged.set(key, loggedStateOf(key, logged));
    this.queue.lastSeq = state.lastSeq;
    this.checkedSeq = state.lastSeq;
    const lead = this.opts.leadership;
    if (lead && !lead.isLeader()) {
      this.publishing = false;
      this.queue.pause();
    } else this.publishing = true;

    const selected = new Set(this.opts.kinds ?? [...PRIMARY_KINDS, ...DEPENDENT_KINDS]);
    const primary = this.createWatches(PRIMARY_KINDS.filter((k) => selected.has(k)));
    const dependent = this.createWatches(DEPENDENT_KINDS.filter((k) => selected.has(k)));
    await Promise.all(primary.map((w) => w.start()));
    await Promise.all(dependent.map((w) => w.start()));
    await this.settle();
    if (this.closed) return;
    if (this.publishing) {
      try {
        await this.queue.publishResync();
        this.resyncWanted = false;
      } catch (err) {
        if (this.publishing || this.closed) throw err; // else: leadership lost meanwhile, now following
      }
    }
    this.started = true;
    this.isReady = true;
    const synced = this.watches.filter((w) => w.listed).length;
    log.info(
      { cluster, watches: this.watches.length, synced, lastSeq: this.queue.lastSeq, leader: this.publishing },
      this.publishing
        ? 'cluster reconciled with the event log'
        : 'following: informers listed and watching, the Lease holder publishes',
    );
    if (this.publishing) this.afterIdle();
    else {
      this.startFollowing();
      if (lead?.isLeader()) this.leadershipChanged(true);
    }
    const period = this.opts.antiEntropyIntervalMs ?? 60_000;
    if (period > 0) this.antiEntropyTimer = setInterval(() => void this.antiEntropy(), period);
  }

  ready(): boolean {
    return this.isReady && !this.stalled();
  }

  /** One object's publish has kept failing past the stall threshold; sets the metric. */
  stalled(): boolean {
    const since = this.queue.failingSince();
    const stalled = since !== undefined && Date.now() - since > (this.opts.stallAfterMs ?? 60_000);
    this.metrics.stalled.set(this.labels, stalled ? 1 : 0);
    return stalled;
  }

  /**
   * Resolves once every change observed before the call (and everything it led to) is stored in
   * the log, waiting through publish retries.
   */
  async flush(): Promise<void> {
    if (this.closed) throw new Error('kubernetes ingestor is closed');
    await this.settle();
  }

  /** Number of objects observed but not yet stored in the log. */
  get buffered(): number {
    return this.queue.size;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.isReady = false;
    clearInterval(this.antiEntropyTimer);
    clearInterval(this.followTimer);
    clearTimeout(this.takeoverCheck);
    this.abort.abort(new Error('kubernetes ingestor closed'));
    await Promise.all(this.watches.map((w) => w.close()));
  }

  private createWatches(kinds: readonly WatchedKind[]): KindWatch[] {
    const namespaces = this.opts.namespaces?.length ? this.opts.namespaces : [undefined];
    const created: KindWatch[] = [];
    for (const kind of kinds) {
      for (const namespace of kind.namespaced ? namespaces : [undefined]) {
        const w = new KindWatch({
          kc: this.opts.kubeConfig,
          kind,
          ...(namespace ? { namespace } : {}),
          log: this.opts.log,
          retry: this.opts.watchRetry ?? DEFAULT_WATCH_RETRY,
          ...(this.opts.pageSize ? { pageSize: this.opts.pageSize } : {}),
          handlers: {
            listed: (w, items, rv) => this.onListed(w, items, rv),
            upsert: (w, obj) => this.onUpsert(w, obj),
            deleted: (w, obj) => this.onDeleted(w, obj),
            failed: (w, reason, err, retryInMs) => this.onFailed(w, reason, err, retryInMs),
            recovered: (w) => this.markAvailable(w),
          },
        });
        created.push(w);
        this.watches.push(w);
      }
    }
    return created;
  }

  /** Waits until the queue is empty and no watch is dirty. */
  private async settle(): Promise<void> {
    for (;;) {
      if (this.closed) return;
      await this.queue.idle();
      if (this.dirty.size === 0) return;
      this.resweepDirty();
    }
  }

  // ---- informer events --------------------------------------------------------------------

  private onListed(w: KindWatch, items: readonly SourceObject[], resourceVersion: string): void {
    this.kubeMetrics.lists.inc({ cluster: this.opts.cluster, kind: kindId(w.kind) });
    this.markAvailable(w);
    if (w.kind === ENDPOINT_SLICE) this.rebuildSliceIndex();
    this.sweep(w, items, resourceVersion);
    if (isHostOrTlsContext(w.kind)) this.refreshSecretRefs(true);
    if (w.kind === ENDPOINT_SLICE) this.resweepKind(ENDPOINTS);
    this.resyncWanted = true;
    setImmediate(() => this.afterIdle());
  }

  private markAvailable(w: KindWatch): void {
    this.unavailable.delete(w);
    for (const reason of ['NotFound', 'Forbidden', 'Error'])
      this.kubeMetrics.kindUnavailable.set({ cluster: this.opts.cluster, kind: kindId(w.kind), reason }, 0);
  }

  private onUpsert(w: KindWatch, obj: SourceObject): void {
    this.offerObject(w, obj);
    if (isHostOrTlsContext(w.kind)) this.refreshSecretRefs(false);
    if (w.kind === ENDPOINT_SLICE) this.sliceChanged(obj, true);
  }

  private onDeleted(w: KindWatch, obj: SourceObject): void {
    this.offerDelete(
      w,
      obj.metadata.namespace ?? '',
      obj.metadata.name,
      obj.metadata.resourceVersion ?? w.resourceVersion,
    );
    if (isHostOrTlsContext(w.kind)) this.refreshSecretRefs(false);
    if (w.kind === ENDPOINT_SLICE) this.sliceChanged(obj, false);
  }

  private onFailed(w: KindWatch, reason: FailureReason, err: unknown, retryInMs: number): void {
    const kind = kindId(w.kind);
    this.unavailable.add(w);
    this.kubeMetrics.watchRestarts.inc({ cluster: this.opts.cluster, kind, reason });
    this.kubeMetrics.kindUnavailable.set({ cluster: this.opts.cluster, kind, reason }, 1);
    const hint =
      reason === 'NotFound'
        ? 'the kind is not served: install its CRD, or ignore this if the cluster does not use it'
        : reason === 'Forbidden'
          ? 'RBAC denies list/watch: grant them to the ingestor service account'
          : 'the API server could not be read';
    this.opts.log.warn(
      { kind, namespace: w.namespace, reason, err: errorMessage(err), retryInMs },
      `cannot watch ${kind}: ${hint}; other kinds are unaffected, retrying`,
    );
  }

  // ---- what to publish ---------------------------------------------------------------------

  /**
   * Publishes the state of every object in `items` and a tombstone for every object of this
   * watch's kind and scope that the log (or the queue) holds live but the list no longer has.
   */
  private sweep(w: KindWatch, items: Iterable<SourceObject>, resourceVersion: string): void {
    this.sweeping = true;
    try {
      this.sweepItems(w, items, resourceVersion);
    } finally {
      this.sweeping = false;
    }
  }

  private sweepItems(w: KindWatch, items: Iterable<SourceObject>, resourceVersion: string): void {
    const seen = new Set<string>();
    for (const obj of items) {
      seen.add(this.keyOf(w.kind, obj.metadata.namespace ?? '', obj.metadata.name));
      this.offerObject(w, obj);
    }
    const gone = [...this.queue.identities()].filter(
      (id) =>
        sameKind(id, w.kind) && w.covers(id.namespace) && !seen.has(id.key) && this.queue.isLive(id.key),
    );
    for (const id of gone) this.offer(w, { ...id, op: 'delete', resourceVersion, hash: '' });
  }

  private resweepKind(kind: WatchedKind): void {
    for (const w of this.watches)
      if (w.kind === kind && w.listed) this.sweep(w, [...w.objects.values()], w.resourceVersion);
  }

  private resweepDirty(): void {
    const dirty = [...this.dirty];
    this.dirty.clear();
    for (const w of dirty) this.sweep(w, [...w.objects.values()], w.resourceVersion);
  }

  /** Whether an object of a filtered kind is published at all. */
  private wanted(kind: WatchedKind, namespace: string, name: string): boolean {
    if (kind === SECRET) return this.secretRefs.has(`${namespace}/${name}`);
    if (kind === ENDPOINTS) return (this.serviceSlices.get(`${namespace}/${name}`) ?? 0) === 0;
    return true;
  }

  private offerObject(w: KindWatch, obj: SourceObject): void {
    const namespace = obj.metadata.namespace ?? '';
    const name = obj.metadata.name;
    if (!this.wanted(w.kind, namespace, name)) {
      this.offerDelete(w, namespace, name, obj.metadata.resourceVersion ?? w.resourceVersion);
      return;
    }
    // Unchanged since the log's record of it: skip hashing (relists and anti-entropy see mostly these).
    if (this.queue.holdsLive(this.keyOf(w.kind, namespace, name), obj.metadata.resourceVersion ?? '')) return;
    this.offer(w, {
      ...this.identity(w.kind, namespace, name),
      op: 'upsert',
      resourceVersion: obj.metadata.resourceVersion ?? '',
      object: obj,
      hash: changeHash(obj),
    });
  }

  private offerDelete(w: KindWatch, namespace: string, name: string, resourceVersion: string): void {
    const id = this.identity(w.kind, namespace, name);
    if (!this.queue.isLive(id.key)) return;
    this.offer(w, { ...id, op: 'delete', resourceVersion, hash: '' });
  }

  private offer(w: KindWatch, state: DesiredState): void {
    if (!this.publishing) return; // following: the leader publishes; a takeover compares the caches
    const wasBusy = this.queue.busy(state.key);
    const result = this.queue.offer(this.sweeping ? { ...state, relist: true } : state);
    if (result === 'queued' && !wasBusy) this.repairing?.push(state.key);
    if (result === 'overflow') {
      if (!this.dirty.has(w)) {
        this.opts.log.warn(
          { kind: w.id, buffered: this.queue.size },
          'outbox full: changes of this kind are re-read from the informer cache once it drains',
        );
      }
      this.dirty.add(w);
      this.kubeMetrics.bufferOverflows.inc({ cluster: this.opts.cluster });
    }
  }

  private identity(kind: WatchedKind, namespace: string, name: string) {
    return { key: this.keyOf(kind, namespace, name), kind: kind.kind, namespace, name, group: kind.group };
  }

  private keyOf(kind: WatchedKind, namespace: string, name: string): string {
    return objectKey({ cluster: this.opts.cluster, kind: kind.kind, namespace, name });
  }

  // ---- derived interest: secrets and endpoints -----------------------------------------------

  /** Recomputes the referenced secrets; re-evaluates the secrets whose status changed (all on `full`). */
  private refreshSecretRefs(full: boolean): void {
    const hosts: SourceObject[] = [];
    const contexts: SourceObject[] = [];
    for (const w of this.watches) {
      if (!isHostOrTlsContext(w.kind)) continue;
      (w.kind.kind === 'Host' ? hosts : contexts).push(...w.objects.values());
    }
    const next = referencedSecrets(hosts, contexts);
    const changed = new Set<SecretKey>();
    for (const k of next) if (!this.secretRefs.has(k)) changed.add(k);
    for (const k of this.secretRefs) if (!next.has(k)) changed.add(k);
    this.secretRefs = next;
    if (full) this.resweepKind(SECRET);
    else for (const k of changed) this.reevaluate(SECRET, k);
  }

  private rebuildSliceIndex(): void {
    this.sliceService.clear();
    this.serviceSlices.clear();
    for (const w of this.watches) {
      if (w.kind !== ENDPOINT_SLICE) continue;
      for (const obj of w.objects.values()) this.sliceChanged(obj, true, false);
    }
  }

  /** Tracks which Services have EndpointSlices; re-evaluates their Endpoints when that flips. */
  private sliceChanged(obj: SourceObject, present: boolean, reevaluate = true): void {
    const ns = obj.metadata.namespace ?? '';
    const sliceKey = `${ns}/${obj.metadata.name}`;
    const svcName = obj.metadata.labels?.['kubernetes.io/service-name'];
    const before = this.sliceService.get(sliceKey);
    const after = present && svcName ? `${ns}/${svcName}` : undefined;
    if (before === after) return;
    const flipped: string[] = [];
    if (before) {
      const n = (this.serviceSlices.get(before) ?? 1) - 1;
      if (n <= 0) {
        this.serviceSlices.delete(before);
        flipped.push(before);
      } else this.serviceSlices.set(before, n);
      this.sliceService.delete(sliceKey);
    }
    if (after) {
      const n = (this.serviceSlices.get(after) ?? 0) + 1;
      this.serviceSlices.set(after, n);
      this.sliceService.set(sliceKey, after);
      if (n === 1) flipped.push(after);
    }
    if (reevaluate) for (const svc of flipped) this.reevaluate(ENDPOINTS, svc);
  }

  /** Publishes or tombstones one object of a filtered kind after its interest changed. */
  private reevaluate(kind: WatchedKind, nsName: string): void {
    const slash = nsName.indexOf('/');
    const namespace = nsName.slice(0, slash);
    const w = this.watches.find((x) => x.kind === kind && x.listed && x.covers(namespace));
    const obj = w?.objects.get(nsName);
    if (w && obj) this.offerObject(w, obj);
  }

  // ---- anti-entropy --------------------------------------------------------------------------

  /**
   * One anti-entropy round: adopt the log's events that are not this ingestor's, then publish
   * where an informer cache differs from what the log holds. Watches that have not listed, are
   * failing (stale cache) or are dirty (re-swept anyway) are left out. A round that cannot read
   * the log changes nothing and the next period tries again.
   */
  private async antiEntropy(): Promise<void> {
    if (!this.started || this.closed || this.checking || !this.publishing) return;
    this.checking = true;
    const { cluster, events, log } = this.opts;
    try {
      let adoption: ReturnType<typeof adoptForeignEvents>;
      try {
        const state = await readPublishedState(events, cluster, this.checkedSeq + 1);
        if (this.closed) return;
        adoption = adoptForeignEvents(this.queue, state, this.checkedSeq);
      } catch (err) {
        if (!this.closed)
          log.warn(
            { err: errorMessage(err) },
            'anti-entropy could not read the event log; trying again next period',
          );
        return;
      }
      this.checkedSeq = adoption.checkedTo;
      const repaired: string[] = [];
      this.repairing = repaired;
      try {
        for (const w of this.watches) {
          if (!w.listed || this.unavailable.has(w) || this.dirty.has(w)) continue;
          this.sweepItems(w, w.objects.values(), w.resourceVersion);
        }
      } finally {
        this.repairing = undefined;
      }
      if (repaired.length === 0) return;
      this.metrics.antiEntropyRepairs.inc(this.labels, repaired.length);
      log.warn(
        {
          objects: repaired.slice(0, 20),
          count: repaired.length,
          foreignEvents: adoption.adopted.length,
          claimedPublishers: [...adoption.publishers].slice(0, 5),
        },
        'anti-entropy: the event log disagrees with the cluster (lost or forged events); republishing the cluster state',
      );
    } finally {
      this.checking = false;
    }
  }

  // ---- leadership ----------------------------------------------------------------------------

  private leadershipChanged(leader: boolean): void {
    if (this.closed || !this.opts.leadership) return;
    if (!leader) {
      if (!this.publishing) return;
      this.publishing = false;
      this.queue.pause();
      clearTimeout(this.takeoverCheck);
      this.opts.log.warn(
        { cluster: this.opts.cluster },
        'lost the Lease: stopped publishing (pending changes dropped); following the new leader',
      );
      if (this.started) this.startFollowing();
      return;
    }
    this.transitions = this.transitions
      .then(() => this.takeOver())
      .catch((err) => {
        if (!this.closed) this.opts.log.error({ err: errorMessage(err) }, 'takeover failed');
      });
  }

  private startFollowing(): void {
    clearInterval(this.followTimer);
    this.followTimer = setInterval(() => {
      if (this.followRound || this.publishing || this.closed) return;
      this.followRound = this.catchUp()
        .then(() => {})
        .catch((err) =>
          this.opts.log.debug({ err: errorMessage(err) }, 'could not read the event log while following'),
        )
        .finally(() => {
          this.followRound = undefined;
        });
    }, this.opts.followIntervalMs ?? 2_000);
  }

  /** Folds the cluster's events logged since the last read into the record of the log. */
  private async catchUp(): Promise<number> {
    const state = await readPublishedState(this.opts.events, this.opts.cluster, this.checkedSeq + 1);
    const adoption = adoptForeignEvents(this.queue, state, this.checkedSeq);
    this.checkedSeq = Math.max(this.checkedSeq, adoption.checkedTo);
    return adoption.adopted.length;
  }

  /**
   * Becomes the publisher: reads the log to its end, publishes where an informer cache differs
   * from it (nothing for objects the old leader published), then a `resync` marker.
   */
  private async takeOver(): Promise<void> {
    const lead = this.opts.leadership;
    if (!lead || !this.started || this.publishing || this.closed) return;
    const began = Date.now();
    clearInterval(this.followTimer);
    await this.followRound;
    const adopted = await retryUntilDone(() => this.catchUp(), {
      signal: this.abort.signal,
      log: this.opts.log,
      what: 'read event log at takeover',
      ...(this.opts.backoff ? { backoff: this.opts.backoff } : {}),
    });
    if (this.closed) return;
    if (!lead.isLeader()) {
      this.startFollowing();
      return;
    }
    this.publishing = true;
    this.queue.resume();
    const published: string[] = [];
    this.repairing = published;
    try {
      for (const w of this.watches) {
        if (!w.listed || this.unavailable.has(w)) continue;
        this.sweepItems(w, w.objects.values(), w.resourceVersion);
      }
    } finally {
      this.repairing = undefined;
    }
    this.kubeMetrics.takeovers.inc({ cluster: this.opts.cluster });
    this.kubeMetrics.takeoverPublished.inc({ cluster: this.opts.cluster }, published.length);
    this.opts.log.info(
      {
        cluster: this.opts.cluster,
        published: published.length,
        objects: published.slice(0, 20),
        adoptedFromLog: adopted,
        logSeq: this.checkedSeq,
        ms: Date.now() - began,
      },
      'took over publishing: the informer caches were compared with the event log; only differences are published',
    );
    this.resyncWanted = true;
    this.afterIdle();
    clearTimeout(this.takeoverCheck);
    this.takeoverCheck = setTimeout(() => void this.antiEntropy(), lead.leaseDurationMs);
    this.takeoverCheck.unref();
  }

  // ---- resync markers ------------------------------------------------------------------------

  /** After the queue drains: re-sweep dirty watches, or publish the `resync` marker a relist asked for. */
  private afterIdle(): void {
    if (!this.started || this.closed || !this.publishing || this.resyncing || this.queue.size > 0) return;
    if (this.dirty.size > 0) {
      this.resweepDirty();
      if (this.queue.size > 0) return; // the next drain calls back
    }
    if (!this.resyncWanted) return;
    this.resyncWanted = false;
    this.resyncing = true;
    this.queue
      .publishResync()
      .catch((err) => {
        if (!this.closed) this.opts.log.error({ err: errorMessage(err) }, 'resync marker not published');
      })
      .finally(() => {
        this.resyncing = false;
        this.afterIdle();
      });
  }
}
