/**
 * ClusterLoadAssignments. Every locality carries a load_balancing_weight (its endpoint count)
 * because grpc-js silently drops unweighted localities. The locality is (region = source cluster,
 * zone = Kubernetes zone); `priority` is set only when non-zero (proto3 default), so single-cluster
 * output is unchanged. Priorities are contiguous from 0 (ir/endpoint-policy.ts guarantees it).
 */
import type { ClusterLoadAssignment } from '../../../proto/gen/envoy/config/endpoint/v3/ClusterLoadAssignment.ts';
import type { LocalityLbEndpoints } from '../../../proto/gen/envoy/config/endpoint/v3/LocalityLbEndpoints.ts';
import { ENDPOINT_TYPE } from '../../../shared/xds/type-urls.ts';
import type { EndpointSet } from '../ir/types.ts';
import type { EnvoyResource } from './common.ts';

export function translateEndpoints(set: EndpointSet): EnvoyResource {
  const endpoints: LocalityLbEndpoints[] = set.localities.map((loc) => ({
    locality: { ...(loc.region ? { region: loc.region } : {}), ...(loc.zone ? { zone: loc.zone } : {}) },
    lb_endpoints: loc.addresses.map((a) => ({
      endpoint: { address: { socket_address: { address: a.ip, port_value: a.port } } },
    })),
    load_balancing_weight: { value: loc.addresses.length },
    ...(loc.priority > 0 ? { priority: loc.priority } : {}),
  }));
  const message: ClusterLoadAssignment = { cluster_name: set.serviceName, endpoints };
  return { typeUrl: ENDPOINT_TYPE, name: set.serviceName, message };
}
