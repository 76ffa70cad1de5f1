/** Upstream clusters: EDS over ADS, round robin (the only policy both Envoy and grpc-js share by default). */
import type { Cluster } from '../../../proto/gen/envoy/config/cluster/v3/Cluster.ts';
import { CLUSTER_TYPE } from '../../../shared/xds/type-urls.ts';
import type { UpstreamCluster } from '../ir/types.ts';
import { adsConfigSource, duration, type EnvoyResource } from './common.ts';

export function translateCluster(c: UpstreamCluster): EnvoyResource {
  // grpc-js accepts only EDS and LOGICAL_DNS, so IP-literal services use EDS too, with a
  // compiler-generated ClusterLoadAssignment. TLS origination is recorded in the IR but not emitted yet.
  const message: Cluster = {
    name: c.name,
    type: 'EDS',
    eds_cluster_config: { eds_config: adsConfigSource(), service_name: c.edsServiceName },
    connect_timeout: duration(c.connectTimeoutMs),
    lb_policy: 'ROUND_ROBIN',
  };
  return { typeUrl: CLUSTER_TYPE, name: c.name, message };
}
