/**
 * Metrics of the Kubernetes ingestor, beside the shared ingestor metrics (published events,
 * publish failures, pending changes = the outbox gauge). Labels are the cluster name, the watched
 * kind (`<plural>.<group>`, a fixed list) and a failure reason; never object names or namespaces.
 */
import { Counter, Gauge, type Registry } from 'prom-client';

export interface KubernetesMetrics {
  /** 1 while a kind cannot be watched (reason NotFound = CRD not installed, Forbidden = RBAC, Error). */
  kindUnavailable: Gauge<'cluster' | 'kind' | 'reason'>;
  /** Watches stopped by an error and restarted (with a full relist). */
  watchRestarts: Counter<'cluster' | 'kind' | 'reason'>;
  /** Completed lists (initial, after a 410 or after a restart). */
  lists: Counter<'cluster' | 'kind'>;
  /** Changes not buffered because the outbox was full (the kind is re-swept from its cache later). */
  bufferOverflows: Counter<'cluster'>;
  /** Times this replica took over publishing (`--leader-elect`). */
  takeovers: Counter<'cluster'>;
  /** Objects a takeover found the log behind on and published (0 when the old leader was current). */
  takeoverPublished: Counter<'cluster'>;
}

function metric<T>(registry: Registry, name: string, make: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? make();
}

export function kubernetesMetrics(registry: Registry): KubernetesMetrics {
  const registers = [registry];
  return {
    kindUnavailable: metric(
      registry,
      'attache_ingestor_kube_kind_unavailable',
      () =>
        new Gauge({
          name: 'attache_ingestor_kube_kind_unavailable',
          help: 'Kinds that cannot currently be watched, by reason (NotFound, Forbidden, Error)',
          labelNames: ['cluster', 'kind', 'reason'],
          registers,
        }),
    ),
    watchRestarts: metric(
      registry,
      'attache_ingestor_kube_watch_restarts_total',
      () =>
        new Counter({
          name: 'attache_ingestor_kube_watch_restarts_total',
          help: 'Watches stopped by an error and restarted with a relist',
          labelNames: ['cluster', 'kind', 'reason'],
          registers,
        }),
    ),
    lists: metric(
      registry,
      'attache_ingestor_kube_lists_total',
      () =>
        new Counter({
          name: 'attache_ingestor_kube_lists_total',
          help: 'Completed full lists (start, relist after 410, restart)',
          labelNames: ['cluster', 'kind'],
          registers,
        }),
    ),
    bufferOverflows: metric(
      registry,
      'attache_ingestor_kube_buffer_overflows_total',
      () =>
        new Counter({
          name: 'attache_ingestor_kube_buffer_overflows_total',
          help: 'Changes not buffered because the outbox was full (re-swept from the informer cache later)',
          labelNames: ['cluster'],
          registers,
        }),
    ),
    takeovers: metric(
      registry,
      'attache_ingestor_kube_takeovers_total',
      () =>
        new Counter({
          name: 'attache_ingestor_kube_takeovers_total',
          help: 'Times this replica took over publishing from another one (--leader-elect)',
          labelNames: ['cluster'],
          registers,
        }),
    ),
    takeoverPublished: metric(
      registry,
      'attache_ingestor_kube_takeover_published_total',
      () =>
        new Counter({
          name: 'attache_ingestor_kube_takeover_published_total',
          help: 'Objects a takeover found the event log behind on (changes the old leader had not published) and published',
          labelNames: ['cluster'],
          registers,
        }),
    ),
  };
}
