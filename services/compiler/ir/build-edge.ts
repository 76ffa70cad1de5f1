/**
 * Pass 2b: edge sources → EdgeIR (listeners with their bound Hosts, TCP chains, ext_authz and
 * ratelimit, their clusters, SDS Secrets), after the HTTP IR is built. Emissary semantics
 * (emissary.md §1.1, §2.3; irlistener.py, irhost.py):
 *
 * - No Listener resources → the default `ambassador-listener-8080` (HTTP, XFP, all namespaces),
 *   plus `ambassador-listener-8443` (HTTPS, XFP) when some Host terminates TLS.
 * - No Host resources → a cleartext `default-host` for `*` whose insecure action is Route.
 * - A Host with `insecure.additionalPort` N gets an INSECURE listener `insecure-for-N` unless a
 *   Listener already uses port N.
 * - A Listener binds the Hosts its hostBinding allows (namespace SELF/ALL, matchLabels selector).
 * - TCPMappings bind to the Listener on their port, or to a synthesized `listener-<addr>-<port>`.
 *
 * Pure and order-independent: every list is sorted by source identity before use.
 */
import type { Diagnostic } from '../contracts.ts';
import { defaultStatsPrefix, PROTOCOL_STACKS } from '../sources/listener.ts';
import type { ParsedSources } from '../sources/parsed-sources.ts';
import type { SourceRef } from '../sources/types.ts';
import type { EdgeSources, ListenerSpec } from '../sources/types-edge.ts';
import { buildTcpChains } from './build-edge-tcp.ts';
import { downstreamTls, findContext, indexTls, resolveHostTls, type TlsIndex } from './build-edge-tls.ts';
import { ClusterPlanner, compareSource, resolverFor } from './edge-clusters.ts';
import { labelsMatch } from './host-match.ts';
import type { SecretAccess } from './secret-access.ts';
import type { EdgeLookups, IR } from './types.ts';
import type { EdgeIR, ExtAuthz, HostIR, RateLimit, SocketListener } from './types-edge.ts';

/** Emissary's defaults for headers exchanged with an AuthService (irauth.py). */
const AUTH_REQUEST_HEADERS = [
  'authorization',
  'cookie',
  'from',
  'proxy-authorization',
  'user-agent',
  'x-forwarded-for',
  'x-forwarded-host',
  'x-forwarded-proto',
];
const AUTH_RESPONSE_HEADERS = [
  'authorization',
  'location',
  'proxy-authenticate',
  'set-cookie',
  'www-authenticate',
];
const INTERNAL: SourceRef = { cluster: '', kind: 'Internal', namespace: '', name: '' };

// ---- build --------------------------------------------------------------------------------

export interface EdgeResult {
  /** The HTTP IR with the edge clusters' endpoint sets added (so endpoint policy covers them). */
  ir: IR;
  edge: EdgeIR;
  diagnostics: Diagnostic[];
}

export function buildEdge(
  sources: ParsedSources,
  ir: IR,
  access: SecretAccess,
  lookups?: ReturnType<typeof edgeLookups>,
): EdgeResult {
  const diagnostics: Diagnostic[] = [];
  const edge = sources.edge;
  const tls = indexTls(edge.secrets, edge.tlsContexts, access);
  const clusters = new ClusterPlanner(sources, ir, diagnostics);

  const hosts = resolveHosts(edge, tls, diagnostics);
  const listeners = planListeners(edge, hosts, diagnostics);
  const sockets: SocketListener[] = [];
  for (const l of listeners) {
    const bound = l.stack.includes('HTTP') ? hosts.filter((h) => binds(l, h)) : [];
    sockets.push({
      source: l.source,
      name: l.name,
      address: l.address,
      port: l.port,
      stack: l.stack,
      securityModel: l.securityModel,
      statsPrefix: l.statsPrefix,
      l7Depth: l.l7Depth,
      hosts: bound,
      tcpChains: [],
    });
  }
  buildTcpChains(edge, hosts, tls, sockets, clusters, diagnostics);
  const live = sockets.filter((s) => {
    if (s.hosts.length > 0 || s.tcpChains.length > 0) return true;
    if (!s.source.kind.startsWith('Internal')) {
      diagnostics.push({
        severity: 'warning',
        source: s.source,
        message: s.stack.includes('HTTP')
          ? 'no Host binds to this Listener (check hostBinding); it is not generated'
          : 'no TCPMapping uses this Listener; it is not generated',
      });
    }
    return false;
  });
  for (const h of hosts) {
    if (h.synthetic || live.some((s) => s.hosts.includes(h))) continue;
    diagnostics.push({
      severity: 'warning',
      source: h.source,
      message: 'no Listener binds this Host; it serves nothing',
    });
  }

  // Cluster references hold planner ids until every cluster is known and named.
  const extAuthz = buildExtAuthz(sources, clusters, diagnostics);
  const rateLimit = buildRateLimit(sources, clusters, diagnostics);
  const planned = clusters.finish();
  if (extAuthz) extAuthz.cluster = clusters.name(extAuthz.cluster);
  if (rateLimit) rateLimit.cluster = clusters.name(rateLimit.cluster);
  for (const s of live) {
    for (const c of s.tcpChains) c.clusters = c.clusters.map((x) => ({ ...x, name: clusters.name(x.name) }));
  }

  const referenced = new Set<string>();
  for (const s of live) {
    const terminates = s.stack.includes('TLS');
    for (const h of s.hosts) {
      if (terminates && h.tls) addTls(referenced, h.tls);
    }
    for (const c of s.tcpChains) if (c.tls) addTls(referenced, c.tls);
  }
  // Client certificates of TLSContexts that Mappings originate TLS with (cluster transport sockets).
  for (const key of lookups?.originationSecrets ?? []) {
    const [namespace, name] = JSON.parse(key) as [string, string];
    const ctx = findContext(tls, name, namespace);
    if (!ctx?.secret) continue;
    const report = (field: string, message: string) =>
      diagnostics.push({ severity: 'error', source: ctx.source, field, message });
    const t = downstreamTls(ctx.secret, {}, tls, report, 'secret');
    if (t) referenced.add(t.certSecret);
  }
  const secrets = [...tls.served.values()]
    .filter((s) => referenced.has(s.name))
    .sort((a, b) => cmp(a.name, b.name));

  return {
    ir: { ...ir, endpointSets: planned.endpointSets },
    edge: {
      listeners: live.sort((a, b) => cmp(a.name, b.name)),
      secrets,
      clusters: planned.clusters,
      ...(extAuthz ? { extAuthz } : {}),
      ...(rateLimit ? { rateLimit } : {}),
    },
    diagnostics,
  };
}

function addTls(set: Set<string>, t: { certSecret: string; validationSecret?: string }): void {
  set.add(t.certSecret);
  if (t.validationSecret) set.add(t.validationSecret);
}

/**
 * Hosts with TLS resolved, one per hostname (the first by namespace/name wins), or default-host
 * when no Host is usable. Like Emissary (`HostFactory.finalize` counts only active Hosts), a Host
 * dropped for its own problem (a missing Secret) leaves the others, or the default Host, serving:
 * it never takes the listener with it.
 */
function resolveHosts(edge: EdgeSources, tls: TlsIndex, diagnostics: Diagnostic[]): HostIR[] {
  const specs = [...edge.hosts].sort((a, b) => compareSource(a.source, b.source));
  const out: HostIR[] = [];
  const byHostname = new Map<string, HostIR>();
  for (const h of specs) {
    const held = byHostname.get(h.hostname);
    if (held) {
      diagnostics.push({
        severity: 'error',
        source: h.source,
        field: 'hostname',
        message: `Host ${held.source.namespace}/${held.source.name} already serves ${h.hostname}; this Host is ignored`,
      });
      continue;
    }
    const resolved = resolveHostTls(h, tls, diagnostics);
    if (resolved === false) continue;
    const host: HostIR = {
      source: h.source,
      hostname: h.hostname,
      labels: h.labels,
      ...(h.mappingSelector ? { mappingSelector: h.mappingSelector } : {}),
      insecureAction: h.insecureAction,
      ...(h.insecureAdditionalPort !== undefined ? { insecureAdditionalPort: h.insecureAdditionalPort } : {}),
      ...(resolved ? { tls: resolved } : {}),
    };
    byHostname.set(h.hostname, host);
    out.push(host);
  }
  if (out.length === 0) {
    for (const c of edge.tlsContexts.filter((c) => c.hosts.length > 0)) {
      diagnostics.push({
        severity: 'warning',
        source: c.source,
        message:
          'no Hosts are defined, so TLSContexts that terminate TLS are ignored (as in Emissary); add a Host',
      });
    }
    return [
      {
        source: { ...INTERNAL, kind: 'Internal', name: 'default-host' },
        hostname: '*',
        labels: {},
        insecureAction: 'Route',
        synthetic: true,
      },
    ];
  }
  return out.sort((a, b) => cmp(a.hostname, b.hostname));
}

/** Listener resources (one per address:port and per name), or Emissary's defaults, plus additional ports. */
function planListeners(edge: EdgeSources, hosts: HostIR[], diagnostics: Diagnostic[]): ListenerSpec[] {
  const out: ListenerSpec[] = [];
  const specs = [...edge.listeners].sort((a, b) => compareSource(a.source, b.source));
  for (const l of specs) {
    const clash = out.find((o) => (o.port === l.port && o.address === l.address) || o.name === l.name);
    if (clash) {
      diagnostics.push({
        severity: 'error',
        source: l.source,
        field: clash.name === l.name ? 'metadata.name' : 'port',
        message:
          clash.name === l.name
            ? `Listener ${clash.source.namespace}/${clash.name} has the same name (Envoy listener names are global); ignored`
            : `port ${l.port} is already used by Listener ${clash.source.namespace}/${clash.name}; ignored`,
      });
      continue;
    }
    out.push(l);
  }
  if (specs.length === 0) {
    out.push(defaultListener('ambassador-listener-8080', 8080, 'HTTP'));
    if (hosts.some((h) => h.tls)) out.push(defaultListener('ambassador-listener-8443', 8443, 'HTTPS'));
  }
  const extraPorts = [
    ...new Set(hosts.flatMap((h) => (h.insecureAdditionalPort ? [h.insecureAdditionalPort] : []))),
  ];
  for (const port of extraPorts.sort((a, b) => a - b)) {
    if (out.some((l) => l.port === port)) continue;
    out.push({
      ...defaultListener(`insecure-for-${port}`, port, 'HTTP'),
      securityModel: 'INSECURE',
      insecureOnly: true,
    });
  }
  return out;
}

function defaultListener(name: string, port: number, protocol: 'HTTP' | 'HTTPS'): ListenerSpec {
  const stack = [...PROTOCOL_STACKS[protocol]!];
  return {
    source: { ...INTERNAL, kind: 'Internal', name },
    name,
    port,
    address: '0.0.0.0',
    stack,
    securityModel: 'XFP',
    statsPrefix: defaultStatsPrefix(stack, port),
    l7Depth: 0,
    namespaceFrom: 'ALL',
    synthetic: true,
  };
}

/** Whether a Listener takes a Host (irlistener.py `matches_host`). */
function binds(l: ListenerSpec, h: HostIR): boolean {
  if (l.insecureOnly) return h.insecureAdditionalPort === l.port;
  if (h.synthetic) return true;
  if (l.namespaceFrom === 'SELF' && h.source.namespace !== l.source.namespace) return false;
  return labelsMatch(l.hostSelector, h.labels);
}

// ---- auth and rate limit ------------------------------------------------------------------

function buildExtAuthz(
  sources: ParsedSources,
  clusters: ClusterPlanner,
  diagnostics: Diagnostic[],
): ExtAuthz | undefined {
  const [auth, ...rest] = [...sources.edge.authServices].sort((a, b) => compareSource(a.source, b.source));
  if (!auth) return undefined;
  for (const other of rest) {
    diagnostics.push({
      severity: 'error',
      source: other.source,
      message: `only one AuthService is used; ${auth.source.namespace}/${auth.source.name} is, this one is ignored`,
    });
  }
  const id = clusters.add(
    'extauth',
    auth.service,
    auth.target,
    auth.resolver,
    auth.proto === 'grpc',
    auth.source,
  );
  if (!id) return undefined;
  const host = auth.service.replace(/^[a-z]+:\/\//i, '');
  const result: ExtAuthz = {
    source: auth.source,
    proto: auth.proto,
    cluster: id,
    uri: `${auth.target.tls ? 'https' : 'http'}://${host}`,
    pathPrefix: auth.pathPrefix,
    timeoutMs: auth.timeoutMs,
    allowedRequestHeaders: [...new Set([...AUTH_REQUEST_HEADERS, ...auth.allowedRequestHeaders])].sort(),
    allowedAuthorizationHeaders: [
      ...new Set([...AUTH_RESPONSE_HEADERS, ...auth.allowedAuthorizationHeaders]),
    ].sort(),
    failureModeAllow: auth.failureModeAllow,
    ...(auth.includeBody ? { includeBody: auth.includeBody } : {}),
    statusOnError: auth.statusOnError,
  };
  return result;
}

function buildRateLimit(
  sources: ParsedSources,
  clusters: ClusterPlanner,
  diagnostics: Diagnostic[],
): RateLimit | undefined {
  const [rls, ...rest] = [...sources.edge.rateLimitServices].sort((a, b) =>
    compareSource(a.source, b.source),
  );
  if (!rls) return undefined;
  for (const other of rest) {
    diagnostics.push({
      severity: 'error',
      source: other.source,
      message: `only one RateLimitService is used; ${rls.source.namespace}/${rls.source.name} is, this one is ignored`,
    });
  }
  const id = clusters.add('ratelimit', rls.service, rls.target, rls.resolver, true, rls.source);
  if (!id) return undefined;
  return {
    source: rls.source,
    cluster: id,
    domain: rls.domain,
    timeoutMs: rls.timeoutMs,
    failureModeDeny: rls.failureModeDeny,
    useResourceExhaustedCode: rls.useResourceExhaustedCode,
  };
}

/**
 * The lookups buildIR needs from edge resources (ir/types.ts `EdgeLookups`). The object records
 * which TLSContexts Mappings originate TLS with, so buildEdge serves their Secrets; create one per
 * compile.
 */
export function edgeLookups(
  sources: ParsedSources,
  access: SecretAccess,
): EdgeLookups & { originationSecrets: Set<string> } {
  const tls = indexTls(sources.edge.secrets, sources.edge.tlsContexts, access);
  const originationSecrets = new Set<string>();
  const [rls] = [...sources.edge.rateLimitServices].sort((a, b) => compareSource(a.source, b.source));
  return {
    originationSecrets,
    resolverExists: (name) => resolverFor(sources, name).ok,
    rateLimitDomain: rls?.domain,
    originationTls(name, namespace) {
      const ctx = findContext(tls, name, namespace);
      if (!ctx) return undefined;
      const common: Record<string, unknown> = {};
      if (ctx.secret) {
        originationSecrets.add(JSON.stringify([ctx.source.namespace, ctx.source.name]));
        // An unusable client certificate (missing, broken, or another group's: buildEdge reports
        // it on the TLSContext) is left out, so the cluster never names an SDS secret nobody serves.
        const usable = downstreamTls(ctx.secret, {}, tls, () => {}, 'secret');
        if (usable) {
          common.tls_certificate_sds_secret_configs = [
            { name: usable.certSecret, sds_config: { ads: {}, resource_api_version: 'V3' } },
          ];
        }
      }
      if (ctx.settings.alpnProtocols) common.alpn_protocols = ctx.settings.alpnProtocols;
      return { commonTlsContext: common };
    },
  };
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
