/**
 * Pass 3: IR → Envoy resources, one translator per feature. Pure; the order of the returned list
 * does not matter (encoding sorts by type and name).
 */
import type { Cluster } from '../../../proto/gen/envoy/config/cluster/v3/Cluster.ts';
import { packAny } from '../../../shared/xds/encoding.ts';
import { CLUSTER_TYPE } from '../../../shared/xds/type-urls.ts';
import type { Diagnostic } from '../contracts.ts';
import type { IR } from '../ir/types.ts';
import type { EdgeCluster, EdgeIR } from '../ir/types-edge.ts';
import { translateApiListeners } from './api-listener.ts';
import { HTTP_PROTOCOL_OPTIONS_TYPE, translateCluster } from './cluster.ts';
import { adsConfigSource, duration, type EnvoyResource } from './common.ts';
import { translateEndpoints } from './endpoint.ts';
import { hcmSettings, usesCors } from './hcm-settings.ts';
import { type RouteLayout, translateSocketListeners } from './listener.ts';
import { translateSecret } from './secret.ts';
import { hostlessDiagnostics, routeEntries } from './virtual-hosts.ts';

/** `layout`, when given, is filled with where each route group's routes sit (listener.ts RouteLayout). */
export function translate(
  ir: IR,
  edge: EdgeIR,
  layout?: RouteLayout,
): { resources: EnvoyResource[]; diagnostics: Diagnostic[] } {
  const api = translateApiListeners(ir, layout);
  const diagnostics = [...api.diagnostics];
  // An Envoy listener name must not shadow an API listener (named after a Mapping hostname).
  const apiNames = new Set(api.resources.map((r) => r.name));
  const listeners = edge.listeners.filter((l) => {
    if (!apiNames.has(l.name)) return true;
    diagnostics.push({
      severity: 'error',
      source: l.source,
      field: 'metadata.name',
      message: `Listener name ${l.name} equals a Mapping hostname, whose proxyless gRPC listener has that name; Listener not generated`,
    });
    return false;
  });
  diagnostics.push(...hostlessDiagnostics(ir, listeners));
  const resources = [
    ...translateSocketListeners(
      { ...edge, listeners },
      routeEntries(ir),
      hcmSettings(ir.module, usesCors(ir)),
      layout,
    ),
    ...ir.clusters.map(translateCluster),
    ...edge.clusters.map(translateEdgeCluster),
    ...ir.endpointSets.map(translateEndpoints),
    ...edge.secrets.map(translateSecret),
    ...api.resources,
  ];
  return { resources, diagnostics };
}

/**
 * Clusters of TCPMappings, AuthService and RateLimitService. A KubernetesServiceResolver gives a
 * LOGICAL_DNS cluster on the Service's DNS name: the same Cluster goes to Envoys and proxyless
 * gRPC clients, grpc-js accepts only EDS and LOGICAL_DNS, and a ClusterIP Service name resolves to
 * a single virtual IP, where STRICT_DNS (Emissary's choice) would balance over that one address anyway.
 */
export function translateEdgeCluster(c: EdgeCluster): EnvoyResource {
  const message: Cluster =
    c.discovery.kind === 'eds'
      ? {
          name: c.name,
          type: 'EDS',
          eds_cluster_config: { eds_config: adsConfigSource(), service_name: c.discovery.serviceName },
        }
      : {
          name: c.name,
          type: 'LOGICAL_DNS',
          load_assignment: {
            cluster_name: c.name,
            endpoints: [
              {
                lb_endpoints: [
                  {
                    endpoint: {
                      address: {
                        socket_address: { address: c.discovery.address, port_value: c.discovery.port },
                      },
                    },
                  },
                ],
              },
            ],
          },
        };
  message.connect_timeout = duration(c.connectTimeoutMs);
  message.lb_policy = 'ROUND_ROBIN';
  if (c.http2) {
    message.typed_extension_protocol_options = {
      [HTTP_PROTOCOL_OPTIONS_TYPE]: packAny(HTTP_PROTOCOL_OPTIONS_TYPE, {
        explicit_http_config: { http2_protocol_options: {} },
      }),
    };
  }
  return { typeUrl: CLUSTER_TYPE, name: c.name, message };
}
