/**
 * Metrics shared by every ingestor. Labels are bounded: the source type (`fs`, `k8s`), the
 * configured cluster name and the operation, never object names. Metrics are registered once
 * per registry and shared by all ingestors in the process (e.g. `attache dev` with several sources).
 */
import { Counter, Gauge, type Registry } from 'prom-client';

type Labels = 'source' | 'cluster';

export interface IngestorMetrics {
  /** Events stored in the log, by op (`upsert`, `delete`, `resync`). */
  published: Counter<Labels | 'op'>;
  /** Failed publish attempts (each is retried). */
  publishFailures: Counter<Labels>;
  /** Objects whose observed state is not yet in the log. */
  pending: Gauge<Labels>;
  /** Source documents currently rejected (bad YAML, missing fields, duplicates). */
  loadErrors: Gauge<Labels>;
  /** Objects recorded as rejected because they could not be published (too large for the log). */
  rejected: Counter<Labels>;
  /** 1 while changes are pending and no publish has succeeded for the stall threshold, else 0. */
  stalled: Gauge<Labels>;
  /** Objects anti-entropy found the log to disagree about (lost or forged events), each republished. */
  antiEntropyRepairs: Counter<Labels>;
}

export function ingestorMetrics(registry: Registry): IngestorMetrics {
  return {
    published: counter(
      registry,
      'attache_ingestor_events_published_total',
      'Events published to the event log',
      ['source', 'cluster', 'op'],
    ),
    publishFailures: counter(
      registry,
      'attache_ingestor_publish_failures_total',
      'Failed attempts to publish an event (retried with backoff)',
      ['source', 'cluster'],
    ),
    pending: gauge(registry, 'attache_ingestor_pending_changes', 'Observed changes not yet published', [
      'source',
      'cluster',
    ]),
    loadErrors: gauge(registry, 'attache_ingestor_load_errors', 'Source documents currently rejected', [
      'source',
      'cluster',
    ]),
    rejected: counter(
      registry,
      'attache_ingestor_rejected_objects_total',
      'Objects recorded as rejected because they could not be published (too large for the log)',
      ['source', 'cluster'],
    ),
    stalled: gauge(
      registry,
      'attache_ingestor_stalled',
      '1 while changes are pending and none has been published for the stall threshold',
      ['source', 'cluster'],
    ),
    antiEntropyRepairs: counter(
      registry,
      'attache_ingestor_anti_entropy_repairs_total',
      'Objects whose newest event in the log disagreed with what this ingestor published (lost or forged events); the source state is republished',
      ['source', 'cluster'],
    ),
  };
}

function counter<L extends string>(
  registry: Registry,
  name: string,
  help: string,
  labelNames: L[],
): Counter<L> {
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Counter<L>;
  return new Counter({ name, help, labelNames, registers: [registry] });
}

function gauge<L extends string>(registry: Registry, name: string, help: string, labelNames: L[]): Gauge<L> {
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Gauge<L>;
  return new Gauge({ name, help, labelNames, registers: [registry] });
}
