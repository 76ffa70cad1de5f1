/**
 * Pass 3: IR → Envoy resources, one translator per feature. Pure; the order of the returned list
 * does not matter (encoding sorts by type and name).
 */
import type { Diagnostic } from '../compile.ts';
import type { IR } from '../ir/types.ts';
import { translateApiListeners } from './api-listener.ts';
import { translateCluster } from './cluster.ts';
import type { EnvoyResource } from './common.ts';
import { translateEndpoints } from './endpoint.ts';
import { translateSocketListener } from './listener.ts';
import { translateSocketRoutes } from './route.ts';

export function translate(ir: IR): { resources: EnvoyResource[]; diagnostics: Diagnostic[] } {
  const api = translateApiListeners(ir);
  const resources = [
    translateSocketListener(),
    translateSocketRoutes(ir),
    ...ir.clusters.map(translateCluster),
    ...ir.endpointSets.map(translateEndpoints),
    ...api.resources,
  ];
  return { resources, diagnostics: api.diagnostics };
}
