/**
 * Upstream clusters (v3cluster.py): EDS over ADS, with the Mapping's load-balancing policy,
 * circuit breakers, TLS origination (UpstreamTlsContext, SNI = host_rewrite or the service host),
 * HTTP/2 for `grpc`, connection timeouts, TCP keepalive, health checks and alt_stat_name.
 */
import type { Cluster } from '../../../proto/gen/envoy/config/cluster/v3/Cluster.ts';
import type { HealthCheck as EnvoyHealthCheck } from '../../../proto/gen/envoy/config/core/v3/HealthCheck.ts';
import type { UpstreamTlsContext } from '../../../proto/gen/envoy/extensions/transport_sockets/tls/v3/UpstreamTlsContext.ts';
import type { HttpProtocolOptions } from '../../../proto/gen/envoy/extensions/upstreams/http/v3/HttpProtocolOptions.ts';
import { packAny } from '../../../shared/xds/encoding.ts';
import { CLUSTER_TYPE } from '../../../shared/xds/type-urls.ts';
import type { HealthCheck, UpstreamCluster } from '../ir/types.ts';
import { adsConfigSource, duration, type EnvoyResource } from './common.ts';

export const UPSTREAM_TLS_TYPE = 'envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext';
export const HTTP_PROTOCOL_OPTIONS_TYPE = 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions';

const LB_POLICY = {
  round_robin: 'ROUND_ROBIN',
  least_request: 'LEAST_REQUEST',
  ring_hash: 'RING_HASH',
  maglev: 'MAGLEV',
} as const;

export function translateCluster(c: UpstreamCluster): EnvoyResource {
  // grpc-js accepts only EDS and LOGICAL_DNS, so IP-literal services use EDS too, with a
  // compiler-generated ClusterLoadAssignment.
  const policy = c.loadBalancer?.policy ?? 'round_robin';
  const message: Cluster = {
    name: c.name,
    type: 'EDS',
    eds_cluster_config: { eds_config: adsConfigSource(), service_name: c.edsServiceName },
    connect_timeout: duration(c.connectTimeoutMs),
    lb_policy: LB_POLICY[policy],
    // grpc-js requires XX_HASH for RING_HASH; it is also Envoy's default.
    ...(policy === 'ring_hash' ? { ring_hash_lb_config: { hash_function: 'XX_HASH' } } : {}),
    alt_stat_name: c.statsName,
  };
  if (c.circuitBreakers.length > 0) {
    message.circuit_breakers = {
      thresholds: c.circuitBreakers.map((b) => ({
        priority: b.priority,
        ...(b.maxConnections !== undefined ? { max_connections: { value: b.maxConnections } } : {}),
        ...(b.maxPendingRequests !== undefined
          ? { max_pending_requests: { value: b.maxPendingRequests } }
          : {}),
        ...(b.maxRequests !== undefined ? { max_requests: { value: b.maxRequests } } : {}),
        ...(b.maxRetries !== undefined ? { max_retries: { value: b.maxRetries } } : {}),
      })),
    };
  }
  if (c.originateTls) {
    const tls: UpstreamTlsContext = {
      ...(c.sni ? { sni: c.sni } : {}),
      ...(c.tlsContext ? { common_tls_context: c.tlsContext } : {}),
    };
    message.transport_socket = {
      name: 'envoy.transport_sockets.tls',
      typed_config: packAny(UPSTREAM_TLS_TYPE, tls),
    };
  }
  const protocol = httpProtocolOptions(c);
  if (protocol)
    message.typed_extension_protocol_options = {
      [HTTP_PROTOCOL_OPTIONS_TYPE]: packAny(HTTP_PROTOCOL_OPTIONS_TYPE, protocol),
    };
  if (c.keepalive) {
    const k = c.keepalive;
    message.upstream_connection_options = {
      tcp_keepalive: {
        ...(k.probes !== undefined ? { keepalive_probes: { value: k.probes } } : {}),
        ...(k.idleTime !== undefined ? { keepalive_time: { value: k.idleTime } } : {}),
        ...(k.interval !== undefined ? { keepalive_interval: { value: k.interval } } : {}),
      },
    };
  }
  if (c.healthChecks.length > 0) message.health_checks = c.healthChecks.map(healthCheck);
  if (c.bufferLimitBytes !== undefined)
    message.per_connection_buffer_limit_bytes = { value: c.bufferLimitBytes };
  return { typeUrl: CLUSTER_TYPE, name: c.name, message };
}

/** HTTP/2 for grpc; idle timeout and max connection lifetime (the non-deprecated home of both). */
function httpProtocolOptions(c: UpstreamCluster): HttpProtocolOptions | undefined {
  const common = {
    ...(c.idleTimeoutMs !== undefined ? { idle_timeout: duration(c.idleTimeoutMs) } : {}),
    ...(c.maxConnectionLifetimeMs !== undefined
      ? { max_connection_duration: duration(c.maxConnectionLifetimeMs) }
      : {}),
  };
  if (!c.http2 && Object.keys(common).length === 0) return undefined;
  return {
    ...(Object.keys(common).length > 0 ? { common_http_protocol_options: common } : {}),
    explicit_http_config: c.http2 ? { http2_protocol_options: {} } : { http_protocol_options: {} },
  };
}

function healthCheck(h: HealthCheck): EnvoyHealthCheck {
  const out: EnvoyHealthCheck = {
    timeout: duration(h.timeoutMs),
    interval: duration(h.intervalMs),
    healthy_threshold: { value: h.healthyThreshold },
    unhealthy_threshold: { value: h.unhealthyThreshold },
  };
  if (h.grpc) {
    out.grpc_health_check = {
      authority: h.grpc.authority,
      ...(h.grpc.serviceName ? { service_name: h.grpc.serviceName } : {}),
    };
  } else if (h.http) {
    out.http_health_check = {
      path: h.http.path,
      ...(h.http.host ? { host: h.http.host } : {}),
      ...(h.http.addHeaders.length > 0
        ? {
            request_headers_to_add: h.http.addHeaders.map((a) => ({
              header: { key: a.name, value: a.value },
              append_action: a.append ? 'APPEND_IF_EXISTS_OR_ADD' : 'OVERWRITE_IF_EXISTS_OR_ADD',
            })),
          }
        : {}),
      ...(h.http.removeHeaders.length > 0 ? { request_headers_to_remove: h.http.removeHeaders } : {}),
      ...(h.http.expectedStatuses.length > 0 ? { expected_statuses: h.http.expectedStatuses } : {}),
    };
  }
  return out;
}
