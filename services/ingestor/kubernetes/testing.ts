/**
 * Test support for the Kubernetes ingestor: object builders for the fake API server and readers
 * of what the event log holds. Used by the ingestor's tests and the ingest benchmark.
 */
import { Registry } from 'prom-client';
import type { EventLog, LoggedEvent } from '../../../shared/events/event-log.ts';
import { silentLogger } from '../../../shared/runtime/logger.ts';
import type { FakeKube } from '../../../test/fake-kube/fake-kube.ts';
import { KubernetesIngestor, type KubernetesIngestorOptions } from './kubernetes-ingestor.ts';

export const V3 = 'getambassador.io/v3alpha1';

export function ambassador(
  kind: string,
  name: string,
  spec: Record<string, unknown> = {},
  namespace = 'default',
) {
  return { apiVersion: V3, kind, metadata: { name, namespace }, spec };
}

export function service(name: string, namespace = 'default') {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace },
    spec: { ports: [{ port: 80 }] },
  };
}

export function endpointSlice(name: string, serviceName: string, ips: string[], namespace = 'default') {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name, namespace, labels: { 'kubernetes.io/service-name': serviceName } },
    addressType: 'IPv4',
    endpoints: ips.map((ip) => ({ addresses: [ip], conditions: { ready: true } })),
    ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
  };
}

export function endpoints(name: string, ips: string[], namespace = 'default') {
  return {
    apiVersion: 'v1',
    kind: 'Endpoints',
    metadata: { name, namespace },
    subsets: [{ addresses: ips.map((ip) => ({ ip })), ports: [{ port: 8080 }] }],
  };
}

export function secret(name: string, namespace = 'default') {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace },
    type: 'kubernetes.io/tls',
    data: {
      'tls.crt': Buffer.from(`cert-${name}`).toString('base64'),
      'tls.key': Buffer.from('key').toString('base64'),
    },
  };
}

/** Every event in the log, in order. */
export async function readAll(events: EventLog, fromSeq = 1): Promise<LoggedEvent[]> {
  const out: LoggedEvent[] = [];
  for await (const e of events.read({ fromSeq })) out.push(e);
  return out;
}

/** `op kind namespace/name` lines of the given events (resync markers as `resync`). */
export function describeEvents(events: readonly LoggedEvent[]): string[] {
  return events.map(({ event: e }) =>
    e.op === 'resync' ? 'resync' : `${e.op} ${e.kind} ${e.namespace}/${e.name}`,
  );
}

/** The newest upsert/delete per `kind namespace/name`. */
export function finalStates(events: readonly LoggedEvent[]): Map<string, LoggedEvent> {
  const out = new Map<string, LoggedEvent>();
  for (const e of events)
    if (e.event.op !== 'resync') out.set(`${e.event.kind} ${e.event.namespace}/${e.event.name}`, e);
  return out;
}

/** An ingestor against a fake API server with short retry delays. */
export function testIngestor(
  fake: FakeKube,
  events: EventLog,
  overrides: Partial<KubernetesIngestorOptions> = {},
): KubernetesIngestor {
  return new KubernetesIngestor({
    cluster: 'kube',
    kubeConfig: fake.kubeconfig(),
    events,
    log: silentLogger(),
    registry: new Registry(),
    backoff: { initialMs: 20, maxMs: 200, factor: 2 },
    watchRetry: { initialMs: 50, maxMs: 300, factor: 2 },
    ...overrides,
  });
}

/** Current value of a metric sample matching `labels` (0 when absent). */
export async function metricValue(
  registry: Registry,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const m = await registry.getSingleMetric(name)?.get();
  const v = m?.values.find((s) => Object.entries(labels).every(([k, x]) => s.labels[k] === x));
  return v?.value ?? 0;
}
