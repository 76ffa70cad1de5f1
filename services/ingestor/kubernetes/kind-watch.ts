/**
 * One informer: list + watch of one kind in one namespace (or all namespaces), on
 * `@kubernetes/client-node`'s ListWatch, with what 1.x leaves to the caller:
 *
 * - the served version is found by discovery on every (re)start (v3alpha1, else v2, ...);
 * - lists are raw and paged (kube-http.ts); every completed list, the first and every relist
 *   the ListWatch makes after a 410, is reported with all its items so the owner can publish
 *   tombstones for what disappeared while it was not watching;
 * - any error other than 410 stops a 1.x ListWatch. A broken connection (or a 5xx) after a
 *   completed list resumes the same ListWatch with backoff from its last resourceVersion, like
 *   client-go's reflector: an API server restart costs every watch one request, not a full relist;
 *   if the history it resumes from is gone, the server answers 410 and the ListWatch relists (and
 *   the relist is swept for what disappeared). A missing kind (404), an RBAC denial (403), or a
 *   failed list starts over with a new ListWatch: rediscovery and a full relist, with backoff. None
 *   of this ever affects other kinds;
 * - watch requests carry `timeoutSeconds` and bookmarks and a client-side idle timer
 *   (live-watch.ts), so a silently dead connection is noticed;
 * - the cache here holds normalized objects and drops events that repeat what it holds (the
 *   ListWatch replays its list as adds).
 */
import { type KubeConfig, type KubernetesListObject, ListWatch } from '@kubernetes/client-node';
import type { SourceObject } from '../../../shared/events/envelope.ts';
import { errorMessage } from '../../../shared/runtime/errors.ts';
import type { Logger } from '../../../shared/runtime/logger.ts';
import { type Backoff, backoffDelay } from '../../../shared/runtime/retry.ts';
import { kindId, type WatchedKind } from './kinds.ts';
import { KubeApiError, type KubeObject, listAll, servedVersion } from './kube-http.ts';
import { LiveWatch, type LiveWatchOptions } from './live-watch.ts';
import { normalizeKubeObject } from './normalize.ts';

export type FailureReason = 'NotFound' | 'Forbidden' | 'Error';

export interface KindWatchHandlers {
  /** A full list completed: `items` is the whole current state in this watch's scope. */
  listed(w: KindWatch, items: readonly SourceObject[], resourceVersion: string): void;
  upsert(w: KindWatch, obj: SourceObject): void;
  deleted(w: KindWatch, obj: SourceObject): void;
  /** The watch stopped and will be restarted after `retryInMs`. */
  failed(w: KindWatch, reason: FailureReason, err: unknown, retryInMs: number): void;
  /** A watch resumed after `failed` and the server is talking again (a relist reports `listed`). */
  recovered(w: KindWatch): void;
}

export interface KindWatchOptions {
  kc: KubeConfig;
  kind: WatchedKind;
  /** Namespace to watch; all namespaces when absent (always for cluster-scoped kinds). */
  namespace?: string;
  log: Logger;
  handlers: KindWatchHandlers;
  /** Restart delays after a failure. */
  retry: Backoff;
  pageSize?: number;
  /** Liveness of watch requests (live-watch.ts); tests shorten the timeout. */
  liveness?: LiveWatchOptions;
}

export function classify(err: unknown): FailureReason {
  const code =
    err instanceof KubeApiError
      ? err.statusCode
      : Number((err as { statusCode?: number; code?: number })?.statusCode);
  if (code === 404) return 'NotFound';
  if (code === 403) return 'Forbidden';
  return 'Error';
}

const cacheKey = (o: { metadata: { namespace?: string; name: string } }) =>
  `${o.metadata.namespace ?? ''}/${o.metadata.name}`;

export class KindWatch {
  readonly kind: WatchedKind;
  readonly namespace: string | undefined;
  /** Served version in use, once discovered. */
  version?: string;
  /** Current objects by `namespace/name`; valid once `listed` is true (kept, stale, across failures). */
  objects = new Map<string, SourceObject>();
  /** True once a list has completed. */
  listed = false;
  /** Newest resourceVersion seen (list or event). */
  resourceVersion = '';
  private lw?: ListWatch<KubeObject>;
  private timer?: NodeJS.Timeout;
  private failures = 0;
  private closed = false;

  constructor(private readonly opts: KindWatchOptions) {
    this.kind = opts.kind;
    this.namespace = opts.kind.namespaced ? opts.namespace : undefined;
  }

  get id(): string {
    return this.namespace ? `${kindId(this.kind)}@${this.namespace}` : kindId(this.kind);
  }

  /** Whether objects of `namespace` are in this watch's scope. */
  covers(namespace: string): boolean {
    return this.namespace === undefined || this.namespace === namespace;
  }

  /** Runs the first attempt; resolves when it has listed and is watching, or has failed (a retry is then scheduled). */
  async start(): Promise<void> {
    await this.run();
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    const lw = this.lw;
    this.lw = undefined;
    await lw?.stop();
  }

  private async run(): Promise<void> {
    if (this.closed) return;
    const { kc, kind } = this.opts;
    let version: string | undefined;
    try {
      version = await servedVersion(kc, kind.group, kind.versions, kind.plural);
    } catch (err) {
      return this.fail(classify(err), err);
    }
    if (!version) {
      return this.fail(
        'NotFound',
        new KubeApiError(
          `${kindId(kind)} is not served in ${kind.versions.join(' or ')} (is its CRD installed?)`,
          404,
          'NotFound',
        ),
      );
    }
    if (this.closed) return;
    this.version = version;
    const root = kind.group === '' ? `/api/${version}` : `/apis/${kind.group}/${version}`;
    const path = this.namespace
      ? `${root}/namespaces/${this.namespace}/${kind.plural}`
      : `${root}/${kind.plural}`;

    const lw: ListWatch<KubeObject> = new ListWatch(
      path,
      new LiveWatch(kc, {
        ...this.opts.liveness,
        onActivity: () => {
          if (this.lw !== lw || this.failures === 0) return;
          this.failures = 0;
          this.opts.handlers.recovered(this);
        },
      }),
      () => this.list(lw, path, version),
      false,
    );
    lw.on('add', (o) => this.onUpsert(lw, o));
    lw.on('update', (o) => this.onUpsert(lw, o));
    lw.on('delete', (o) => this.onDelete(lw, o));
    lw.on('error', (err) => {
      if (this.lw !== lw || this.closed) return; // our own stop() reports an AbortError
      const reason = classify(err);
      if (reason === 'Error' && lw.latestResourceVersion() !== '') {
        this.retryLater(reason, err, () => {
          if (this.lw === lw && !this.closed) void lw.start();
        });
        return;
      }
      this.lw = undefined;
      void lw.stop();
      this.fail(reason, err);
    });
    this.lw = lw;
    await lw.start();
  }

  private async list(
    lw: ListWatch<KubeObject>,
    path: string,
    version: string,
  ): Promise<KubernetesListObject<KubeObject>> {
    const result = await listAll(
      this.opts.kc,
      path,
      this.opts.pageSize ? { pageSize: this.opts.pageSize } : {},
    );
    if (this.lw === lw && !this.closed) {
      const items = result.items.map((o) => normalizeKubeObject(o, this.kind, version));
      this.objects = new Map(items.map((o) => [cacheKey(o), o]));
      this.listed = true;
      this.failures = 0;
      this.resourceVersion = result.resourceVersion;
      this.opts.handlers.listed(this, items, result.resourceVersion);
    }
    return { metadata: { resourceVersion: result.resourceVersion }, items: result.items };
  }

  private onUpsert(lw: ListWatch<KubeObject>, raw: KubeObject): void {
    if (this.lw !== lw || this.closed) return;
    const obj = normalizeKubeObject(raw, this.kind, this.version ?? '');
    const key = cacheKey(obj);
    const rv = obj.metadata.resourceVersion ?? '';
    if (this.objects.get(key)?.metadata.resourceVersion === rv) return;
    this.objects.set(key, obj);
    if (rv) this.resourceVersion = rv;
    this.opts.handlers.upsert(this, obj);
  }

  private onDelete(lw: ListWatch<KubeObject>, raw: KubeObject): void {
    if (this.lw !== lw || this.closed) return;
    const obj = normalizeKubeObject(raw, this.kind, this.version ?? '');
    // A relist already replaced the cache and reported the disappearance through `listed`.
    if (!this.objects.delete(cacheKey(obj))) return;
    if (obj.metadata.resourceVersion) this.resourceVersion = obj.metadata.resourceVersion;
    this.opts.handlers.deleted(this, obj);
  }

  /** Starts over: rediscovery, a new ListWatch, a full list. */
  private fail(reason: FailureReason, err: unknown): void {
    this.retryLater(reason, err, () => void this.run());
  }

  private retryLater(reason: FailureReason, err: unknown, retry: () => void): void {
    if (this.closed) return;
    const delay = Math.round(backoffDelay(this.failures++, this.opts.retry));
    this.opts.log.debug({ kind: this.id, reason, err: errorMessage(err), retryInMs: delay }, 'watch stopped');
    this.opts.handlers.failed(this, reason, err, delay);
    clearTimeout(this.timer);
    this.timer = setTimeout(retry, delay);
  }
}
