/**
 * Parsed edge objects: what clients connect to (Listener, Host, TLSContext, TCPMapping), the
 * services the proxy calls on every request (AuthService, RateLimitService), resolvers and TLS
 * Secrets, as sources/ validates them from the records. ir/build-edge.ts resolves them into the
 * edge IR (ir/types-edge.ts). Plain data, private to the compiler.
 */
import type { ServiceTarget } from './service-ref.ts';
import type { SourceRef } from './types.ts';

/** A Kubernetes Secret named by a Host or TLSContext, after Emissary's namespace rules. */
export interface SecretRef {
  /** Namespace the Secret is looked up in. */
  namespace: string;
  /** Secret name. */
  name: string;
  /** Namespace of the object whose field names the Secret (the group-access rule reads it). */
  referrerNamespace: string;
}

/** Downstream TLS knobs shared by TLSContext, Host `spec.tls` and generated contexts. */
export interface TlsSettings {
  /** ALPN protocols offered, in order (`alpn_protocols`, comma-separated in Emissary). */
  alpnProtocols?: string[];
  /** Require a client certificate (`cert_required`). */
  certRequired?: boolean;
  /** Lowest TLS version accepted (`v1.0` … `v1.3`). */
  minTlsVersion?: string;
  /** Highest TLS version accepted. */
  maxTlsVersion?: string;
  /** OpenSSL cipher suite names. */
  cipherSuites?: string[];
  /** ECDH curve names. */
  ecdhCurves?: string[];
  /** CA bundle used to validate client certificates (`ca_secret`). */
  caSecret?: SecretRef;
  /** Certificate revocation list checked with the CA (`crl_secret`). */
  crlSecret?: SecretRef;
}

/** A parsed `TLSContext`. */
export interface TlsContextSpec {
  source: SourceRef;
  /** Hostnames the context terminates TLS for (`hosts`); empty for origination-only contexts. */
  hosts: string[];
  /** The server certificate Secret (`secret`), if any. */
  secret?: SecretRef;
  /** The remaining TLS settings. */
  settings: TlsSettings;
}

/** What a Host does with a request, by transport security. */
export type InsecureAction = 'Route' | 'Redirect' | 'Reject';

/** A parsed `Host` (or one generated from an Ingress or by the default-host rule). */
export interface HostSpec {
  source: SourceRef;
  /** DNS name or glob the Host serves (`*` when absent). */
  hostname: string;
  /** `metadata.labels` (matched by Listener `hostBinding.selector`). */
  labels: Record<string, string>;
  /** `mappingSelector.matchLabels` (or the deprecated `selector`); undefined when absent. */
  mappingSelector?: Record<string, string>;
  /** `tlsSecret`: the certificate served for this Host. */
  tlsSecret?: SecretRef;
  /** `tlsContext.name`: an existing TLSContext to take settings from. */
  tlsContextName?: string;
  /** `tls`: inline TLS settings (Emissary generates a `<host>-context` TLSContext from them). */
  tls?: TlsSettings;
  /** `requestPolicy.insecure.action` (default Redirect). */
  insecureAction: InsecureAction;
  /** `requestPolicy.insecure.additionalPort`: an extra cleartext port for this Host. */
  insecureAdditionalPort?: number;
  /** True for Hosts the compiler made up (default-host); they bind to every Listener. */
  synthetic?: true;
}

/** Layer-7/4 protocols a Listener stacks, outermost first (Emissary `protocolStack`). */
export type StackElement = 'HTTP' | 'TLS' | 'PROXY' | 'TCP';

/** A parsed `Listener` (or a default / synthesized one). */
export interface ListenerSpec {
  source: SourceRef;
  /** Envoy listener name (the Listener's metadata.name, as Emissary does). */
  name: string;
  /** TCP port. */
  port: number;
  /** Bind address. */
  address: string;
  /** Protocol stack (HTTP, TLS, PROXY, TCP). */
  stack: StackElement[];
  /** How request security is decided: the X-Forwarded-Proto header, or always secure / insecure. */
  securityModel: 'XFP' | 'SECURE' | 'INSECURE';
  /** HCM / tcp_proxy stat prefix. */
  statsPrefix: string;
  /** Trusted proxies in front of Envoy (`l7Depth` → `xff_num_trusted_hops`). */
  l7Depth: number;
  /** Hosts of which namespaces bind: the Listener's own (SELF) or all (ALL). */
  namespaceFrom: 'SELF' | 'ALL';
  /** `hostBinding.selector.matchLabels`; undefined binds every Host the namespace rule allows. */
  hostSelector?: Record<string, string>;
  /** Set for listeners made for a Host `insecure.additionalPort`: they serve only those Hosts. */
  insecureOnly?: true;
  /** True for listeners the compiler made up (defaults, additional ports, TCPMapping ports). */
  synthetic?: true;
}

/** A parsed `TCPMapping`. */
export interface TcpMappingSpec {
  source: SourceRef;
  /** Listener port. */
  port: number;
  /** SNI hostname: the connection must be TLS and is terminated with the matching Host's certificate. */
  host?: string;
  /** Bind address (`address`, default 0.0.0.0). */
  address: string;
  /** `service` as written. */
  service: string;
  /** Parsed upstream. */
  target: ServiceTarget;
  /** `weight` (0–100) when given. */
  weight?: number;
  /** `resolver` name when given. */
  resolver?: string;
  /** `idle_timeout_ms`. */
  idleTimeoutMs?: number;
}

/** A parsed `AuthService`. */
export interface AuthServiceSpec {
  source: SourceRef;
  /** `auth_service` as written. */
  service: string;
  target: ServiceTarget;
  /** `proto`: HTTP check requests or the gRPC Authorization API. */
  proto: 'http' | 'grpc';
  /** `path_prefix` prepended to the checked path (HTTP only). */
  pathPrefix: string;
  /** `timeout_ms` (default 5000). */
  timeoutMs: number;
  /** Request headers sent to the auth service, lowercase, in addition to Emissary's defaults. */
  allowedRequestHeaders: string[];
  /** Auth-service response headers copied to the upstream request, in addition to the defaults. */
  allowedAuthorizationHeaders: string[];
  /** `failure_mode_allow`. */
  failureModeAllow: boolean;
  /** `include_body` (or `allow_request_body`): buffer the body for the check. */
  includeBody?: { maxBytes: number; allowPartial: boolean };
  /** `status_on_error.code` (default 403). */
  statusOnError: number;
  /** `resolver` when given. */
  resolver?: string;
}

/** A parsed `RateLimitService`. */
export interface RateLimitServiceSpec {
  source: SourceRef;
  /** `service` as written. */
  service: string;
  target: ServiceTarget;
  /** Descriptor domain (`domain`, default `ambassador`). */
  domain: string;
  /** `timeout_ms` (default 20). */
  timeoutMs: number;
  /** `failure_mode_deny`: reject requests when the service fails. */
  failureModeDeny: boolean;
  /** `grpc.use_resource_exhausted_code`. */
  useResourceExhaustedCode: boolean;
  /** `resolver` when given. */
  resolver?: string;
}

/** How a resolver finds a service's backends. */
export type ResolverKind = 'endpoint' | 'service' | 'consul';

/** A parsed resolver resource. */
export interface ResolverSpec {
  source: SourceRef;
  /** Resolver name (metadata.name). */
  name: string;
  kind: ResolverKind;
}

/** The usable content of one Kubernetes Secret (never logged; only byte counts appear in dumps). */
export interface SecretData {
  source: SourceRef;
  /** PEM certificate chain (`tls.crt`), if present. */
  cert?: Uint8Array;
  /** PEM private key (`tls.key`), if present. */
  key?: Uint8Array;
  /** PEM CA bundle (`ca.crt`), if present. */
  ca?: Uint8Array;
  /** PEM CRL (`crl.pem`), if present. */
  crl?: Uint8Array;
  /** The `cert_required` key of a CA Secret (Emissary reads it as a client-cert requirement). */
  certRequired?: boolean;
  /** Why the certificate and key cannot be served, when they cannot (safe to show: no key material). */
  problem?: string;
  /**
   * Groups named by the Secret's `attache.io/groups` annotation, when it has one: then exactly
   * these groups may use it (ir/secret-access.ts).
   */
  groups?: string[];
}

/** Everything edge-related parsed from the records of one group. */
export interface EdgeSources {
  listeners: ListenerSpec[];
  hosts: HostSpec[];
  tlsContexts: TlsContextSpec[];
  tcpMappings: TcpMappingSpec[];
  authServices: AuthServiceSpec[];
  rateLimitServices: RateLimitServiceSpec[];
  resolvers: ResolverSpec[];
  /** Every Secret, any namespace, any source cluster (only referenced ones are ever served). */
  secrets: SecretData[];
  /** `metadata.labels` of every Mapping, keyed by `mappingKey(source)`. */
  mappingLabels: Map<string, Record<string, string>>;
}

/** Key of a Mapping in `EdgeSources.mappingLabels`. */
export function mappingKey(source: SourceRef): string {
  return `${source.cluster}/${source.namespace}/${source.name}`;
}

export function emptyEdgeSources(): EdgeSources {
  return {
    listeners: [],
    hosts: [],
    tlsContexts: [],
    tcpMappings: [],
    authServices: [],
    rateLimitServices: [],
    resolvers: [],
    secrets: [],
    mappingLabels: new Map(),
  };
}
