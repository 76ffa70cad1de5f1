/**
 * Resolver resources (emissary.md §1.1): KubernetesEndpointResolver (EDS from EndpointSlices),
 * KubernetesServiceResolver (the Service's DNS name) and ConsulResolver (accepted, not supported).
 */
import type { Diagnostic } from '../contracts.ts';
import { own } from './fields.ts';
import type { SourceRef } from './types.ts';
import type { ResolverKind, ResolverSpec } from './types-edge.ts';

export const RESOLVER_KINDS: Readonly<Record<string, ResolverKind>> = {
  KubernetesEndpointResolver: 'endpoint',
  KubernetesServiceResolver: 'service',
  ConsulResolver: 'consul',
};

export function parseResolver(
  spec: unknown,
  source: SourceRef,
  diagnostics: Diagnostic[],
): ResolverSpec | undefined {
  const kind = RESOLVER_KINDS[source.kind];
  if (!kind) return undefined;
  if (kind === 'consul') {
    diagnostics.push({
      severity: 'warning',
      source,
      message: `ConsulResolver is accepted but not supported: Mappings using resolver ${source.name} get no route`,
    });
    if (own(spec, 'address') === undefined) {
      diagnostics.push({ severity: 'error', source, field: 'address', message: 'address is required' });
    }
  }
  return { source, name: source.name, kind };
}
