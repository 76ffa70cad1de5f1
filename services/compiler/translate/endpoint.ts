/**
 * ClusterLoadAssignments. Every locality carries a load_balancing_weight (its endpoint count)
 * because grpc-js silently drops unweighted localities; all endpoints are priority 0 for now.
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
  }));
  const message: ClusterLoadAssignment = { cluster_name: set.serviceName, endpoints };
  return { typeUrl: ENDPOINT_TYPE, name: set.serviceName, message };
}
