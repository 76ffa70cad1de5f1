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
 */
import os from 'node:os';
import type { KubeConfig } from '@kubernetes/client-node';
import type { Registry } from 'prom-client';
import { objectKey, type SourceObject } from '../../../shared/events/envelope.ts';
import type { EventLog } from '../../../shared/events/event-log.ts';
import { errorMessage } from '../../../shared/runtime/errors.ts';
import type { Logger } from '../../../shared/runtime/logger.ts';
import type { Runner } from '../../../shared/runtime/runner.ts';
import { type IngestorMetrics, ingestorMetrics } from '../shared/ingestor-metrics.ts';
import { readPublishedState } from '../shared/published-state.ts';
import { type Backoff, retryUntilDone } from '../shared/retry.ts';
import { type FailureReason, KindWatch } from './kind-watch.ts';
import {
  AMBASSADOR_MAPPING,
  DEPENDENT_KINDS,
  ENDPOINT_SLICE,
  ENDPOINTS,
  groupOf,
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
  private resyncWanted = false;
  /** True while sweep() runs: what it offers is part of a (re)list. */
  private sweeping = false;
  private resyncing = false;
  private started = false;
  private isReady = false;
  private closed = false;

  constructor(private readonly opts: KubernetesIngestorOptions) {
    this.ingestorId = opts.ingestorId ?? `${SOURCE}/${opts.cluster}/${os.hostname()}`;
    this.metrics = ingestorMetrics(opts.registry);
    this.kubeMetrics = kubernetesMetrics(opts.registry);
    this.labels = { source: SOURCE, cluster: opts.cluster };
    this.queue = new PublishQueue({
      cluster: opts.cluster,
      ingestorId: this.ingestorId,
      events: opts.events,
      log: opts.log,
      signal: this.abort.signal,
      ...(opts.backoff ? { backoff: opts.backoff } : {}),
      ...(opts.publishWindow ? { window: opts.publishWindow } : {}),
      ...(opts.maxBufferedObjects ? { maxPending: opts.maxBufferedObjects } : {}),
      onPublished: (event) => this.metrics.published.inc({ ...this.labels, op: event.op }),
      onPublishFailure: () => this.metrics.publishFailures.inc(this.labels),
      onSize: (n) => this.metrics.pending.set(this.labels, n),
      onIdle: () => this.afterIdle(),
    });
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
    for (const [key, { seq, event }] of state.objects) {
      this.queue.logged.set(key, {
        key,
        kind: event.kind,
        namespace: event.namespace,
        name: event.name,
        group: groupOf(event.object?.apiVersion),
        live: event.op === 'upsert',
        resourceVersion: event.resourceVersion,
        hash: event.object ? changeHash(event.object) : '',
        seq,
      });
    }
    this.queue.lastSeq = state.lastSeq;

    const selected = new Set(this.opts.kinds ?? [...PRIMARY_KINDS, ...DEPENDENT_KINDS]);
    const primary = this.createWatches(PRIMARY_KINDS.filter((k) => selected.has(k)));
    const dependent = this.createWatches(DEPENDENT_KINDS.filter((k) => selected.has(k)));
    await Promise.all(primary.map((w) => w.start()));
    await Promise.all(dependent.map((w) => w.start()));
    await this.settle();
    if (this.closed) return;
    await this.queue.publishResync();
    this.resyncWanted = false;
    this.started = true;
    this.isReady = true;
    const synced = this.watches.filter((w) => w.listed).length;
    log.info(
      { cluster, watches: this.watches.length, synced, lastSeq: this.queue.lastSeq },
      'cluster reconciled with the event log',
    );
    this.afterIdle();
  }

  ready(): boolean {
    return this.isReady;
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
    if (this.queue.offer(this.sweeping ? { ...state, relist: true } : state) === 'overflow') {
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

  // ---- resync markers ------------------------------------------------------------------------

  /** After the queue drains: re-sweep dirty watches, or publish the `resync` marker a relist asked for. */
  private afterIdle(): void {
    if (!this.started || this.closed || this.resyncing || this.queue.size > 0) return;
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
