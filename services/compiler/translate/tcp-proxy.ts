/** tcp_proxy filter chains for TCPMappings: one cluster, or weighted clusters by each Mapping's share. */
import type { FilterChain } from '../../../proto/gen/envoy/config/listener/v3/FilterChain.ts';
import type { TcpProxy } from '../../../proto/gen/envoy/extensions/filters/network/tcp_proxy/v3/TcpProxy.ts';
import { packAny } from '../../../shared/xds/encoding.ts';
import type { TcpChain } from '../ir/types-edge.ts';
import { duration } from './common.ts';
import { downstreamTlsSocket } from './secret.ts';

export const TCP_PROXY_FILTER_NAME = 'envoy.filters.network.tcp_proxy';
export const TCP_PROXY_TYPE = 'envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy';

export function tcpFilterChain(chain: TcpChain, statPrefix: string): FilterChain {
  const [only] = chain.clusters;
  const proxy: TcpProxy = {
    stat_prefix: statPrefix,
    ...(chain.clusters.length === 1 && only
      ? { cluster: only.name }
      : { weighted_clusters: { clusters: chain.clusters.map((c) => ({ name: c.name, weight: c.weight })) } }),
    ...(chain.idleTimeoutMs !== undefined ? { idle_timeout: duration(chain.idleTimeoutMs) } : {}),
  };
  return {
    ...(chain.serverNames.length > 0
      ? { filter_chain_match: { server_names: chain.serverNames, transport_protocol: 'tls' } }
      : {}),
    filters: [{ name: TCP_PROXY_FILTER_NAME, typed_config: packAny(TCP_PROXY_TYPE, proxy) }],
    ...(chain.tls ? { transport_socket: downstreamTlsSocket(chain.tls) } : {}),
  };
}
