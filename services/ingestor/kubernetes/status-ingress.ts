/**
 * Ingress load-balancer status, as Emissary does it: every Ingress that Attaché serves gets the
 * `.status.loadBalancer` of the Attaché Service (the Service labelled
 * `app.kubernetes.io/component: ambassador-service` in the configured namespace, or the one named).
 *
 * An Ingress is served when `spec.ingressClassName` names an IngressClass whose controller is
 * `getambassador.io/ingress-controller`, or it carries the annotation
 * `kubernetes.io/ingress.class: ambassador`.
 *
 * Inputs are watched, never polled: three informers (kind-watch.ts) — IngressClasses, Ingresses in
 * every namespace, Services in the Attaché namespace — list once, then watch; any change schedules
 * a sync computed from their caches. So an idle cluster costs no requests at all, where the former
 * 5 s loop listed all IngressClasses, all Ingresses and the labelled Services 12 times a minute.
 * Only the leader writes, and only Ingresses whose load-balancer status differs from the
 * Service's (Emissary's reconcile-loop fix): GET the Ingress, PUT its status with that
 * resourceVersion, retry a 409 with a fresh GET.
 */
import { type KubeConfig, NetworkingV1Api, type V1Ingress } from '@kubernetes/client-node';
import type { SourceObject } from '../../../shared/events/envelope.ts';
import { errorMessage } from '../../../shared/runtime/errors.ts';
import type { Logger } from '../../../shared/runtime/logger.ts';
import type { Backoff } from '../../../shared/runtime/retry.ts';
import type { Runner } from '../../../shared/runtime/runner.ts';
import { KindWatch, type KindWatchHandlers } from './kind-watch.ts';
import { INGRESS, INGRESS_CLASS, SERVICE } from './kinds.ts';
import { codeOf } from './leader-election.ts';
import { jsonEqual } from './status-shape.ts';

export const AMBASSADOR_SERVICE_LABEL = 'app.kubernetes.io/component=ambassador-service';
export const INGRESS_CONTROLLER = 'getambassador.io/ingress-controller';

export interface IngressStatusSyncOptions {
  cluster: string;
  kubeConfig: KubeConfig;
  /** Namespace of the Attaché Service. */
  serviceNamespace: string;
  /** Name of the Attaché Service; default: the first (by name) carrying the component label. */
  serviceName?: string;
  log: Logger;
  isLeader?: () => boolean;
  /** Restart backoff of a failed watch (default 1 s → 30 s). */
  watchRetry?: Backoff;
}

const [LABEL_KEY, LABEL_VALUE] = AMBASSADOR_SERVICE_LABEL.split('=') as [string, string];

export class IngressStatusSync implements Runner {
  readonly name: string;
  private readonly net: NetworkingV1Api;
  private readonly classes: KindWatch;
  private readonly ingresses: KindWatch;
  private readonly services: KindWatch;
  private running?: Promise<void>;
  private again = false;
  private closed = false;
  /** Ingress status writes that changed something (tests read it). */
  written = 0;

  constructor(private readonly opts: IngressStatusSyncOptions) {
    this.name = `ingress-status/${opts.cluster}`;
    this.net = opts.kubeConfig.makeApiClient(NetworkingV1Api);
    const handlers: KindWatchHandlers = {
      listed: () => this.kick(),
      upsert: () => this.kick(),
      deleted: () => this.kick(),
      failed: (w, reason, err, retryInMs) =>
        opts.log.warn(
          { cluster: opts.cluster, kind: w.id, reason, err: errorMessage(err), retryInMs },
          'ingress status input not watchable; retrying',
        ),
      recovered: () => this.kick(),
    };
    const watch = (kind: typeof INGRESS, namespace?: string) =>
      new KindWatch({
        kc: opts.kubeConfig,
        kind,
        ...(namespace ? { namespace } : {}),
        log: opts.log,
        handlers,
        retry: opts.watchRetry ?? { initialMs: 1_000, maxMs: 30_000, factor: 2 },
      });
    this.classes = watch(INGRESS_CLASS);
    this.ingresses = watch(INGRESS);
    this.services = watch(SERVICE, opts.serviceNamespace);
  }

  async start(): Promise<void> {
    await Promise.all([this.classes.start(), this.ingresses.start(), this.services.start()]);
  }

  ready(): boolean {
    return true;
  }

  /** Runs one sync now (tests, and after leadership is gained); resolves when it is done. */
  syncNow(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = this.sync().finally(() => {
      this.running = undefined;
      if (this.again && !this.closed) {
        this.again = false;
        void this.syncNow();
      }
    });
    return this.running;
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([this.classes.close(), this.ingresses.close(), this.services.close()]);
    await this.running?.catch(() => {});
  }

  private kick(): void {
    if (!this.closed) void this.syncNow();
  }

  private async sync(): Promise<void> {
    if (!(this.opts.isLeader?.() ?? true)) return;
    if (!this.classes.listed || !this.ingresses.listed || !this.services.listed) return;
    const lb = this.serviceLoadBalancer();
    if (lb === undefined) return;
    const ours = new Set(
      [...this.classes.objects.values()]
        .filter((c) => (c.spec as { controller?: string } | undefined)?.controller === INGRESS_CONTROLLER)
        .map((c) => c.metadata.name),
    );
    for (const ing of [...this.ingresses.objects.values()]) {
      if (this.closed) return;
      const className = (ing.spec as { ingressClassName?: string } | undefined)?.ingressClassName;
      const served =
        (className !== undefined && ours.has(className)) ||
        ing.metadata.annotations?.['kubernetes.io/ingress.class'] === 'ambassador';
      if (!served || jsonEqual(loadBalancerOf(ing), lb)) continue;
      try {
        await this.writeOne(ing.metadata.namespace ?? 'default', ing.metadata.name, lb);
      } catch (err) {
        this.opts.log.warn(
          {
            cluster: this.opts.cluster,
            namespace: ing.metadata.namespace,
            name: ing.metadata.name,
            err: errorMessage(err),
          },
          'ingress status write failed; retried on the next change',
        );
      }
    }
  }

  /** The Attaché Service's load-balancer status, or undefined when there is no such Service. */
  private serviceLoadBalancer(): Record<string, unknown> | undefined {
    const candidates = [...this.services.objects.values()]
      .filter((s) =>
        this.opts.serviceName
          ? s.metadata.name === this.opts.serviceName
          : s.metadata.labels?.[LABEL_KEY] === LABEL_VALUE,
      )
      .sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : 1));
    const svc = candidates[0];
    return svc ? loadBalancerOf(svc) : undefined;
  }

  private async writeOne(namespace: string, name: string, lb: Record<string, unknown>): Promise<void> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const ing: V1Ingress | undefined = await this.net
        .readNamespacedIngress({ name, namespace })
        .catch((err: unknown) => {
          if (codeOf(err) === 404) return undefined;
          throw err;
        });
      if (!ing || jsonEqual(plain(ing.status?.loadBalancer ?? {}), lb)) return;
      try {
        await this.net.replaceNamespacedIngressStatus({
          name,
          namespace,
          body: { ...ing, status: { ...ing.status, loadBalancer: lb } },
        });
        this.written++;
        this.opts.log.info(
          { cluster: this.opts.cluster, namespace, name },
          'ingress load-balancer status written',
        );
        return;
      } catch (err) {
        if (codeOf(err) !== 409) throw err;
      }
    }
  }
}

function loadBalancerOf(o: SourceObject): Record<string, unknown> {
  return plain((o.status as { loadBalancer?: unknown } | undefined)?.loadBalancer ?? {});
}

/** A value as plain JSON (drops undefined fields), for comparison and copying. */
function plain(v: unknown): Record<string, unknown> {
  return JSON.parse(JSON.stringify(v ?? {})) as Record<string, unknown>;
}
