/**
 * TCPMappings → TCP filter chains (irtcpmappinggroup.py, v3listener.py `add_tcp_group`).
 * TCPMappings sharing address, port and host form a group that splits connections by weight.
 * Unlike Emissary, which writes its cumulative thresholds as tcp_proxy weights (emissary.md §2.2:
 * 30 + unweighted becomes 30:100), each cluster's weight here is its own share (30:70).
 * A group with a `host` matches that SNI name and terminates TLS with the certificate of the
 * Host (or TLSContext) serving that name.
 */
import type { Diagnostic } from '../contracts.ts';
import type { EdgeSources, TcpMappingSpec } from '../sources/types-edge.ts';
import { downstreamTls, type TlsIndex } from './build-edge-tls.ts';
import { type ClusterPlanner, compareSource } from './edge-clusters.ts';
import { hostGlobsOverlap } from './host-match.ts';
import type { DownstreamTls, HostIR, SocketListener, TcpChain } from './types-edge.ts';
import { normalizeWeights } from './weights.ts';

export function buildTcpChains(
  edge: EdgeSources,
  hosts: readonly HostIR[],
  tls: TlsIndex,
  sockets: SocketListener[],
  clusters: ClusterPlanner,
  diagnostics: Diagnostic[],
): void {
  const groups = new Map<string, TcpMappingSpec[]>();
  for (const m of [...edge.tcpMappings].sort((a, b) => compareSource(a.source, b.source))) {
    const key = JSON.stringify([m.address, m.port, m.host ?? '']);
    groups.set(key, [...(groups.get(key) ?? []), m]);
  }
  const error = (m: TcpMappingSpec, field: string, message: string) =>
    diagnostics.push({ severity: 'error', source: m.source, field, message });

  const sniPorts = new Set([...edge.tcpMappings].filter((m) => m.host).map((m) => `${m.address}|${m.port}`));
  for (const members of [...groups.values()].sort((a, b) => compareSource(a[0]!.source, b[0]!.source))) {
    const first = members[0]!;
    let socket = sockets.find((s) => s.port === first.port && s.address === first.address);
    if (socket?.stack.includes('HTTP')) {
      for (const m of members) {
        error(
          m,
          'port',
          `port ${m.port} belongs to HTTP Listener ${socket.name}; TCPMappings need a TCP or TLS Listener; ignored`,
        );
      }
      continue;
    }
    if (!socket) {
      const stack: SocketListener['stack'] = sniPorts.has(`${first.address}|${first.port}`)
        ? ['TLS', 'TCP']
        : ['TCP'];
      socket = {
        source: {
          cluster: '',
          kind: 'Internal',
          namespace: '',
          name: `listener-${first.address}-${first.port}`,
        },
        name: `listener-${first.address}-${first.port}`,
        address: first.address,
        port: first.port,
        stack,
        securityModel: 'SECURE',
        statsPrefix: stack.includes('TLS') ? `ingress_tls_${first.port}` : `ingress_tcp_${first.port}`,
        l7Depth: 0,
        hosts: [],
        tcpChains: [],
      };
      sockets.push(socket);
    }
    if (first.host && !socket.stack.includes('TLS')) {
      for (const m of members)
        error(
          m,
          'host',
          `Listener ${socket.name} has no TLS in its protocolStack, so it cannot match SNI; ignored`,
        );
      continue;
    }

    let chainTls: DownstreamTls | undefined;
    if (first.host) {
      const found = tlsForSni(first.host, hosts, tls, (f, msg) => error(first, f, msg));
      if (!found) {
        for (const m of members) {
          error(
            m,
            'host',
            `no Host or TLSContext with a usable certificate serves ${first.host}; TLS cannot be terminated; ignored`,
          );
        }
        continue;
      }
      chainTls = found;
    }

    const usable = members.flatMap((m) => {
      const id = clusters.add('tcp', m.service, m.target, m.resolver, false, m.source);
      return id ? [{ m, id }] : [];
    });
    if (usable.length === 0) continue;
    const weights = normalizeWeights(usable.map((u) => u.m.weight));
    if (!weights.ok) {
      for (const { m } of usable)
        error(m, 'weight', `${weights.message}; no chain is generated for port ${m.port}`);
      continue;
    }
    let previous = 0;
    const split = weights.order.flatMap((index, i) => {
      const share = weights.cumulative[i]! - previous;
      previous = weights.cumulative[i]!;
      return share > 0 ? [{ name: usable[index]!.id, weight: share }] : [];
    });
    if (usable.length > 1) {
      diagnostics.push({
        severity: 'warning',
        source: first.source,
        field: 'weight',
        message: `connections on port ${first.port}${first.host ? ` for ${first.host}` : ''} are split ${split.map((s) => s.weight).join(':')} by each TCPMapping's own share (Emissary would use cumulative weights)`,
      });
    }
    const idle = members.find((m) => m.idleTimeoutMs !== undefined)?.idleTimeoutMs;
    const chain: TcpChain = {
      serverNames: first.host ? [first.host] : [],
      ...(chainTls ? { tls: chainTls } : {}),
      clusters: split,
      ...(idle !== undefined ? { idleTimeoutMs: idle } : {}),
      sources: members.map((m) => m.source),
    };
    socket.tcpChains.push(chain);
    socket.tcpChains.sort(
      (a, b) => chainOrder(a) - chainOrder(b) || (a.serverNames[0]! < b.serverNames[0]! ? -1 : 1),
    );
  }
}

/** SNI chains first, the catch-all last. */
function chainOrder(c: TcpChain): number {
  return c.serverNames.length > 0 ? 0 : 1;
}

/** TLS for an SNI name: the Host serving exactly that name, else an overlapping Host, else a TLSContext listing it. */
function tlsForSni(
  sni: string,
  hosts: readonly HostIR[],
  index: TlsIndex,
  report: (field: string, message: string) => void,
): DownstreamTls | undefined {
  const withTls = hosts.filter((h) => h.tls);
  const host =
    withTls.find((h) => h.hostname === sni) ?? withTls.find((h) => hostGlobsOverlap(h.hostname, sni));
  if (host?.tls) return host.tls;
  const ctx = index.contexts.find((c) => c.hosts.includes(sni) && c.secret);
  if (!ctx?.secret) return undefined;
  const t = downstreamTls(ctx.secret, ctx.settings, index, report, 'host');
  return t === false ? undefined : t;
}
