/**
 * Socket listeners for Envoys (emissary.md §2.3; v3listener.py): one Envoy listener per
 * SocketListener. HTTP listeners get one cleartext filter chain whose RouteConfiguration
 * `<listener>-routes` has a virtual host per bound Host, plus, when the listener speaks TLS, one
 * filter chain per TLS Host matching its SNI name and terminating TLS with its SDS certificate
 * (RouteConfiguration `<listener>-routes-<hostname>`). On a TLS listener the cleartext chain
 * matches `raw_buffer` only, so a TLS client whose SNI no Host serves is refused rather than
 * parsed as HTTP (Emissary leaves that chain unconditioned). TCP listeners get tcp_proxy chains.
 */
import type { FilterChain } from '../../../proto/gen/envoy/config/listener/v3/FilterChain.ts';
import type { Listener } from '../../../proto/gen/envoy/config/listener/v3/Listener.ts';
import type { ListenerFilter } from '../../../proto/gen/envoy/config/listener/v3/ListenerFilter.ts';
import type { RouteConfiguration } from '../../../proto/gen/envoy/config/route/v3/RouteConfiguration.ts';
import type { VirtualHost } from '../../../proto/gen/envoy/config/route/v3/VirtualHost.ts';
import type { HttpConnectionManager } from '../../../proto/gen/envoy/extensions/filters/network/http_connection_manager/v3/HttpConnectionManager.ts';
import { packAny } from '../../../shared/xds/encoding.ts';
import { LISTENER_TYPE, ROUTE_TYPE } from '../../../shared/xds/type-urls.ts';
import type { EdgeIR, HostIR, SocketListener } from '../ir/types-edge.ts';
import { adsConfigSource, type EnvoyResource, HCM_FILTER_NAME, HCM_TYPE } from './common.ts';
import { extAuthzFilter } from './ext-authz.ts';
import type { HcmSettings } from './hcm-settings.ts';
import { rateLimitFilter } from './rate-limit.ts';
import { downstreamTlsSocket } from './secret.ts';
import { tcpFilterChain } from './tcp-proxy.ts';
import {
  type GroupSpans,
  type HostTakes,
  listenerServesHost,
  type RouteEntry,
  virtualHost,
} from './virtual-hosts.ts';

const TLS_INSPECTOR = {
  name: 'envoy.filters.listener.tls_inspector',
  type: 'envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector',
};
const PROXY_PROTOCOL = {
  name: 'envoy.filters.listener.proxy_protocol',
  type: 'envoy.extensions.filters.listener.proxy_protocol.v3.ProxyProtocol',
};

/**
 * Where every route group's routes sit in every virtual host of the output, by
 * {@link socketVirtualHostKey} or {@link apiVirtualHostKey}, with what built that virtual host
 * (translate records it when asked; the incremental compiler's mapping-fast-path.ts reads it).
 */
export type RouteLayout = Map<
  string,
  { listener: SocketListener; host: HostIR; spans: GroupSpans } | { apiHost: string; spans: GroupSpans }
>;

export function socketVirtualHostKey(virtualHost: string): string {
  return `socket\u0000${virtualHost}`;
}

export function apiVirtualHostKey(host: string): string {
  return `api\u0000${host}`;
}

/** RouteConfiguration name of a listener's cleartext chain (`ambassador-listener-8080-routes` by default). */
export function routeConfigName(listener: string, tlsHostname?: string): string {
  return tlsHostname === undefined ? `${listener}-routes` : `${listener}-routes-${tlsHostname}`;
}

export function translateSocketListeners(
  edge: EdgeIR,
  entries: readonly RouteEntry[],
  settings: HcmSettings,
  layout?: RouteLayout,
): EnvoyResource[] {
  const out: EnvoyResource[] = [];
  const takes: HostTakes = new WeakMap();
  for (const l of edge.listeners) {
    const chains: FilterChain[] = [];
    const terminatesTls = l.stack.includes('TLS');
    if (l.stack.includes('HTTP')) {
      const hosts = l.hosts.filter((h) => listenerServesHost(l, h));
      const vhosts = new Map(
        hosts.map((h) => {
          const spans: GroupSpans | undefined = layout ? new Map() : undefined;
          const vh = virtualHost(l, h, entries, edge, spans, takes);
          if (layout && spans)
            layout.set(socketVirtualHostKey(vh.name ?? ''), { listener: l, host: h, spans });
          return [h.hostname, vh];
        }),
      );
      if (hosts.length > 0) {
        const name = routeConfigName(l.name);
        out.push(routeConfiguration(name, [...vhosts.values()]));
        chains.push({
          ...(terminatesTls ? { filter_chain_match: { transport_protocol: 'raw_buffer' } } : {}),
          filters: [hcmFilter(l, name, edge, settings)],
        });
      }
      for (const h of terminatesTls ? hosts.filter((x) => x.tls) : []) {
        const name = routeConfigName(l.name, h.hostname);
        out.push(routeConfiguration(name, [vhosts.get(h.hostname)!]));
        chains.push({
          filter_chain_match: {
            ...(h.hostname !== '*' ? { server_names: [h.hostname] } : {}),
            transport_protocol: 'tls',
          },
          filters: [hcmFilter(l, name, edge, settings)],
          transport_socket: downstreamTlsSocket(h.tls!),
        });
      }
    }
    for (const c of l.tcpChains) chains.push(tcpFilterChain(c, l.statsPrefix));
    if (chains.length === 0) continue;

    const listenerFilters: ListenerFilter[] = [];
    if (l.stack.includes('PROXY'))
      listenerFilters.push({ name: PROXY_PROTOCOL.name, typed_config: packAny(PROXY_PROTOCOL.type, {}) });
    if (terminatesTls)
      listenerFilters.push({ name: TLS_INSPECTOR.name, typed_config: packAny(TLS_INSPECTOR.type, {}) });
    const message: Listener = {
      name: l.name,
      address: { socket_address: { address: l.address, port_value: l.port } },
      filter_chains: chains,
      ...(listenerFilters.length > 0 ? { listener_filters: listenerFilters } : {}),
      ...(settings.listenerBufferLimitBytes !== undefined && l.stack.includes('HTTP')
        ? { per_connection_buffer_limit_bytes: { value: settings.listenerBufferLimitBytes } }
        : {}),
    };
    out.push({ typeUrl: LISTENER_TYPE, name: l.name, message });
  }
  return out;
}

function hcmFilter(l: SocketListener, routeConfig: string, edge: EdgeIR, settings: HcmSettings) {
  const hcm: HttpConnectionManager = {
    stat_prefix: l.statsPrefix,
    rds: { route_config_name: routeConfig, config_source: adsConfigSource() },
    ...settings.hcm,
    // Listener l7Depth supersedes the Module's xff_num_trusted_hops (as in Emissary v2+).
    ...(l.l7Depth > 0 ? { xff_num_trusted_hops: l.l7Depth } : {}),
    http_filters: [
      ...settings.httpFilters,
      ...(edge.extAuthz ? [extAuthzFilter(edge.extAuthz)] : []),
      ...(edge.rateLimit ? [rateLimitFilter(edge.rateLimit)] : []),
      settings.router,
    ],
  };
  return { name: HCM_FILTER_NAME, typed_config: packAny(HCM_TYPE, hcm) };
}

function routeConfiguration(name: string, virtualHosts: VirtualHost[]): EnvoyResource {
  const message: RouteConfiguration = { name, virtual_hosts: virtualHosts };
  return { typeUrl: ROUTE_TYPE, name, message };
}
