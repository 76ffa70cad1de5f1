/**
 * Prometheus metrics (prom-client). One registry per service process; labels are bounded
 * (type, group, kind, outcome) and never carry node, stream or object ids.
 */
import { collectDefaultMetrics, Registry } from 'prom-client';

export function createRegistry(service: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });
  return registry;
}
