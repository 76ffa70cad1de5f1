/**
 * The edge IR: Listeners with their Hosts and TLS resolved, TCP chains, the auth and rate-limit
 * filters, edge clusters and SDS Secrets, as ir/build-edge.ts resolves them from the parsed edge
 * objects (sources/types-edge.ts) for the translators. Plain data, private to the compiler.
 */

import type { SourceRef } from '../sources/types.ts';
import type { InsecureAction, ListenerSpec, StackElement } from '../sources/types-edge.ts';

/** A resolved downstream TLS context: SDS secret names plus settings. */
export interface DownstreamTls {
  /** Name of the SDS Secret holding certificate and key. */
  certSecret: string;
  /** Name of the SDS Secret holding the client-certificate validation context, if any. */
  validationSecret?: string;
  /** Require a client certificate. */
  requireClientCert?: boolean;
  alpnProtocols?: string[];
  minTlsVersion?: string;
  maxTlsVersion?: string;
  cipherSuites?: string[];
  ecdhCurves?: string[];
}

/** A Host with its TLS resolved. */
export interface HostIR {
  source: SourceRef;
  hostname: string;
  labels: Record<string, string>;
  mappingSelector?: Record<string, string>;
  insecureAction: InsecureAction;
  insecureAdditionalPort?: number;
  /** Set when the Host terminates TLS. */
  tls?: DownstreamTls;
  synthetic?: true;
}

/** One TCP filter chain: a tcp_proxy for connections matching the SNI names (or all, when none). */
export interface TcpChain {
  /** SNI names matched; empty matches every connection. */
  serverNames: string[];
  /** TLS termination, when the chain matches on SNI. */
  tls?: DownstreamTls;
  /** Upstream clusters with their share of connections (percent, > 0), sorted as grouped. */
  clusters: { name: string; weight: number }[];
  /** tcp_proxy idle timeout in milliseconds, when set. */
  idleTimeoutMs?: number;
  /** The TCPMappings that produced the chain. */
  sources: SourceRef[];
}

/** A socket listener for Envoys. */
export interface SocketListener {
  source: SourceRef;
  name: string;
  address: string;
  port: number;
  stack: StackElement[];
  securityModel: ListenerSpec['securityModel'];
  statsPrefix: string;
  l7Depth: number;
  /** Hosts bound to this listener (HTTP listeners), sorted by hostname. */
  hosts: HostIR[];
  /** TCP chains (listeners without HTTP). */
  tcpChains: TcpChain[];
}

/** The ext_authz filter configuration. */
export interface ExtAuthz {
  source: SourceRef;
  proto: 'http' | 'grpc';
  /** Cluster of the auth service. */
  cluster: string;
  /** `http://` or `https://` URI of the service (HTTP only). */
  uri: string;
  pathPrefix: string;
  timeoutMs: number;
  /** Request headers forwarded to the auth service (lowercase, sorted, defaults included). */
  allowedRequestHeaders: string[];
  /** Auth response headers copied upstream (lowercase, sorted, defaults included). */
  allowedAuthorizationHeaders: string[];
  failureModeAllow: boolean;
  includeBody?: { maxBytes: number; allowPartial: boolean };
  statusOnError: number;
}

/** The ratelimit filter configuration. */
export interface RateLimit {
  source: SourceRef;
  cluster: string;
  domain: string;
  timeoutMs: number;
  failureModeDeny: boolean;
  useResourceExhaustedCode: boolean;
}

/** An upstream cluster of an edge feature (TCPMapping, AuthService, RateLimitService). */
export interface EdgeCluster {
  name: string;
  /** EDS through the compiler's endpoint sets, or DNS resolution of the Service's name. */
  discovery: { kind: 'eds'; serviceName: string } | { kind: 'dns'; address: string; port: number };
  /** Speak HTTP/2 to the upstream (gRPC services). */
  http2: boolean;
  connectTimeoutMs: number;
}

/** A Secret served over SDS. */
export interface TlsSecret {
  /** SDS resource name. */
  name: string;
  /** Certificate and key, for a server certificate. */
  certificate?: { chain: Uint8Array; key: Uint8Array };
  /** CA bundle (and CRL), for a validation context. */
  validation?: { ca: Uint8Array; crl?: Uint8Array };
}

/** Everything the edge translators need. */
export interface EdgeIR {
  /** Socket listeners, sorted by name. */
  listeners: SocketListener[];
  /** SDS Secrets referenced by some listener, sorted by name. */
  secrets: TlsSecret[];
  /** Clusters of edge features not already among the HTTP clusters, sorted by name. */
  clusters: EdgeCluster[];
  extAuthz?: ExtAuthz;
  rateLimit?: RateLimit;
}
