/**
 * Cluster planning for one Mapping (`IRCluster.__init__`, emissary.md §2.2): TLS origination, the
 * name-determining parts, and the settings Emissary compares when two Mappings produce the same
 * cluster name (`IRCluster.merge`). Module defaults fill what the Mapping leaves unset.
 */
import type { Diagnostic } from '../contracts.ts';
import type { ServiceTarget } from '../sources/service-ref.ts';
import type { LoadBalancer, MappingSpec } from '../sources/types.ts';
import type { AmbassadorModule } from '../sources/types-module.ts';
import { baseClusterName, type ClusterNameParts } from './cluster-name.ts';
import { edsServiceName } from './endpoints.ts';
import type { EdgeLookups, UpstreamCluster } from './types.ts';

/** Emissary's default cluster connect timeout. */
export const CONNECT_TIMEOUT_MS = 3000;

/** Emissary's name for the context used by v2 `tls: true` (TLS without a client certificate). */
const NULL_CONTEXT = 'no-cert-upstream';

export interface ClusterPlan {
  /** Stable identity: every name-determining part, before sanitising. */
  id: string;
  /** Unshortened Emissary name. */
  base: string;
  /** Settings `IRCluster.merge` requires to agree between Mappings sharing the cluster. */
  mergeKeys: Record<string, unknown>;
  /** The cluster (name filled in once all names are known). */
  cluster: Omit<UpstreamCluster, 'name'>;
}

export function planCluster(
  m: MappingSpec,
  marker: string | undefined,
  module: AmbassadorModule,
  edge: EdgeLookups,
  diagnostics: Diagnostic[],
): ClusterPlan {
  const target = m.target as ServiceTarget;
  const error = (field: string, message: string): void => {
    diagnostics.push({ severity: 'error', source: m.source, field, message });
  };
  const scheme = /^([a-z]+):\/\//i.exec(m.service)?.[1]?.toLowerCase();
  let originateTls = target.tls;
  let contextName: string | undefined;
  let tlsContext: object | undefined;
  if (m.tls !== undefined) {
    const ctx = m.tls === true ? { commonTlsContext: {} } : edge.originationTls(m.tls, m.source.namespace);
    const ctxName = m.tls === true ? NULL_CONTEXT : m.tls;
    if (!ctx) error('tls', `Originate-TLS context ${m.tls} is not defined`);
    else {
      tlsContext = ctx.commonTlsContext;
      if (scheme === 'http') {
        error(
          'tls',
          `Originate-TLS context ${ctxName} being used even though service ${m.service} lists HTTP`,
        );
        originateTls = true;
      } else if (scheme !== 'https') {
        originateTls = true;
        contextName = ctxName;
      }
    }
  }
  const lb = m.loadBalancer ?? module.loadBalancer;
  const breakers = m.circuitBreakers ?? module.circuitBreakers ?? [];
  const parts: ClusterNameParts = {
    ...(marker ? { marker } : {}),
    service: m.service,
    originateTls,
    ...(contextName ? { contextName } : {}),
    ...(m.hostRewrite ? { hostRewrite: m.hostRewrite } : {}),
    namespace: m.source.namespace,
    breakers: breakers.map((b) => b.name),
    ...(lb ? { lbMarker: lbMarker(lb) } : {}),
  };
  const connectTimeoutMs = m.connectTimeoutMs ?? CONNECT_TIMEOUT_MS;
  const idleTimeoutMs = m.clusterIdleTimeoutMs ?? module.clusterIdleTimeoutMs;
  const maxConnectionLifetimeMs = m.clusterMaxConnectionLifetimeMs ?? module.clusterMaxConnectionLifetimeMs;
  const keepalive = m.keepalive ?? module.keepalive;
  const host = target.kind === 'ip' ? target.address : `${target.name}.${target.namespace}`;
  const cluster: Omit<UpstreamCluster, 'name'> = {
    edsServiceName: edsServiceName(target),
    target,
    originateTls,
    ...(originateTls ? { sni: m.hostRewrite ?? host } : {}),
    ...(originateTls && tlsContext && Object.keys(tlsContext).length > 0 ? { tlsContext } : {}),
    connectTimeoutMs,
    ...(idleTimeoutMs !== undefined ? { idleTimeoutMs } : {}),
    ...(maxConnectionLifetimeMs !== undefined ? { maxConnectionLifetimeMs } : {}),
    ...(lb ? { loadBalancer: lb } : {}),
    circuitBreakers: breakers,
    http2: m.grpc,
    ...(keepalive ? { keepalive } : {}),
    healthChecks: m.healthChecks ?? [],
    statsName: m.statsName ?? m.service.replace(/[^0-9A-Za-z_]/g, '_'),
    ...(module.hcm.bufferLimitBytes !== undefined ? { bufferLimitBytes: module.hcm.bufferLimitBytes } : {}),
    resolver: m.resolver ?? module.resolver,
    dns: {
      ...(m.dnsType ? { type: m.dnsType } : {}),
      ipv4: m.enableIpv4 ?? module.enableIpv4,
      ipv6: m.enableIpv6 ?? module.enableIpv6,
    },
    sources: [m.source],
  };
  return {
    id: JSON.stringify(parts),
    base: baseClusterName(parts),
    mergeKeys: {
      host_rewrite: m.hostRewrite,
      tls_context: tlsContext,
      originate_tls: originateTls,
      grpc: m.grpc,
      connect_timeout_ms: connectTimeoutMs,
      cluster_idle_timeout_ms: idleTimeoutMs,
      cluster_max_connection_lifetime_ms: maxConnectionLifetimeMs,
      keepalive,
      health_checks: m.healthChecks,
      stats_name: cluster.statsName,
    },
    cluster,
  };
}

/**
 * Every Mapping field {@link planCluster} reads except `source` (of which only the namespace
 * counts), as text: Mappings with equal text get the same cluster id and plan, so the plan can be
 * reused. Undefined for a Mapping that originates TLS (its context lookup may report a
 * diagnostic naming the Mapping): those are planned one by one. Each value is JSON (which escapes
 * control characters, so the NUL separators are unambiguous), an optional field only when set,
 * after its position.
 */
export function clusterInputsKey(m: MappingSpec, marker: string | undefined): string | undefined {
  if (m.tls !== undefined) return undefined;
  let key = `${JSON.stringify(m.service)}\u0000${JSON.stringify(m.source.namespace)}\u0000${JSON.stringify(m.target)}\u0000${m.grpc}`;
  const optional = [
    marker,
    m.hostRewrite,
    m.loadBalancer,
    m.circuitBreakers,
    m.connectTimeoutMs,
    m.clusterIdleTimeoutMs,
    m.clusterMaxConnectionLifetimeMs,
    m.keepalive,
    m.healthChecks,
    m.statsName,
    m.resolver,
    m.dnsType,
    m.enableIpv4,
    m.enableIpv6,
  ];
  for (let i = 0; i < optional.length; i++) {
    const v = optional[i];
    if (v !== undefined) key += `\u0000${i}:${JSON.stringify(v)}`;
  }
  return key;
}

/** `er-<policy>[-hdr-<h>|-cookie-<name>|-srcip]`: Emissary names endpoint-routed load balancers. */
function lbMarker(lb: LoadBalancer): string {
  const fields = ['er', lb.policy];
  if (lb.hash?.kind === 'header') fields.push('hdr', lb.hash.name);
  if (lb.hash?.kind === 'cookie') fields.push('cookie', lb.hash.name);
  if (lb.hash?.kind === 'source_ip') fields.push('srcip');
  return fields.join('-');
}
