/**
 * Ingress load-balancer status, as Emissary does it: every Ingress that Attaché serves gets the
 * `.status.loadBalancer` of the Attaché Service (the Service labelled
 * `app.kubernetes.io/component: ambassador-service` in the configured namespace, or the one named).
 *
 * An Ingress is served when `spec.ingressClassName` names an IngressClass whose controller is
 * `getambassador.io/ingress-controller`, or it carries the annotation
 * `kubernetes.io/ingress.class: ambassador`. The sync runs every `intervalMs` on the leader only;
 * it writes only Ingresses whose load-balancer status differs from the Service's (Emissary's
 * reconcile-loop fix), with the resourceVersion just listed, retrying a 409 with a fresh GET.
 */
import { CoreV1Api, type KubeConfig, NetworkingV1Api, type V1Ingress } from '@kubernetes/client-node';
import { errorMessage } from '../../../shared/runtime/errors.ts';
import type { Logger } from '../../../shared/runtime/logger.ts';
import type { Runner } from '../../../shared/runtime/runner.ts';
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
  /** Default 5000 ms. */
  intervalMs?: number;
}

export class IngressStatusSync implements Runner {
  readonly name: string;
  private readonly core: CoreV1Api;
  private readonly net: NetworkingV1Api;
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private closed = false;
  /** Ingress status writes that changed something (tests read it). */
  written = 0;

  constructor(private readonly opts: IngressStatusSyncOptions) {
    this.name = `ingress-status/${opts.cluster}`;
    this.core = opts.kubeConfig.makeApiClient(CoreV1Api);
    this.net = opts.kubeConfig.makeApiClient(NetworkingV1Api);
  }

  async start(): Promise<void> {
    this.schedule(0);
  }

  ready(): boolean {
    return true;
  }

  /** Runs one sync now (tests, and after leadership is gained). */
  syncNow(): Promise<void> {
    this.running ??= this.sync().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running?.catch(() => {});
  }

  private schedule(ms: number): void {
    if (this.closed) return;
    this.timer = setTimeout(() => {
      void this.syncNow().finally(() => this.schedule(this.opts.intervalMs ?? 5000));
    }, ms);
  }

  private async sync(): Promise<void> {
    if (!(this.opts.isLeader?.() ?? true)) return;
    try {
      const lb = await this.serviceLoadBalancer();
      if (lb === undefined) return;
      const classes = await this.net.listIngressClass({});
      const ours = new Set(
        classes.items.filter((c) => c.spec?.controller === INGRESS_CONTROLLER).map((c) => c.metadata?.name),
      );
      const ingresses = await this.net.listIngressForAllNamespaces({});
      for (const ing of ingresses.items) {
        const served =
          (ing.spec?.ingressClassName !== undefined && ours.has(ing.spec.ingressClassName)) ||
          ing.metadata?.annotations?.['kubernetes.io/ingress.class'] === 'ambassador';
        if (served) await this.writeOne(ing, lb);
      }
    } catch (err) {
      this.opts.log.warn(
        { cluster: this.opts.cluster, err: errorMessage(err) },
        'ingress status sync failed',
      );
    }
  }

  /** The Attaché Service's load-balancer status (plain JSON), or undefined when there is no Service. */
  private async serviceLoadBalancer(): Promise<Record<string, unknown> | undefined> {
    const namespace = this.opts.serviceNamespace;
    const svc = this.opts.serviceName
      ? await this.core
          .readNamespacedService({ name: this.opts.serviceName, namespace })
          .catch((err: unknown) => {
            if (codeOf(err) === 404) return undefined;
            throw err;
          })
      : (
          await this.core.listNamespacedService({ namespace, labelSelector: AMBASSADOR_SERVICE_LABEL })
        ).items.sort((a, b) => ((a.metadata?.name ?? '') < (b.metadata?.name ?? '') ? -1 : 1))[0];
    if (!svc) return undefined;
    return plain(svc.status?.loadBalancer ?? {});
  }

  private async writeOne(listed: V1Ingress, lb: Record<string, unknown>): Promise<void> {
    const name = listed.metadata?.name ?? '';
    const namespace = listed.metadata?.namespace ?? 'default';
    let ing: V1Ingress | undefined = listed;
    for (let attempt = 0; attempt < 5 && ing; attempt++) {
      if (jsonEqual(plain(ing.status?.loadBalancer ?? {}), lb)) return;
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
        ing = await this.net.readNamespacedIngress({ name, namespace }).catch(() => undefined);
      }
    }
  }
}

/** A typed client object as plain JSON (drops undefined fields), for comparison and copying. */
function plain(v: unknown): Record<string, unknown> {
  return JSON.parse(JSON.stringify(v ?? {})) as Record<string, unknown>;
}
