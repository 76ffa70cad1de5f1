/**
 * The parsed `ambassador` Module (sources/module.ts parses it): group-wide defaults and the
 * HTTP connection manager settings the translators apply. Plain data, private to the compiler.
 */
import type {
  CircuitBreaker,
  CorsSettings,
  HeaderToAdd,
  Keepalive,
  LoadBalancer,
  RateLimitAction,
  RetryPolicy,
  SourceRef,
} from './types.ts';

/** One `ip_allow` / `ip_deny` entry: a CIDR matched against the peer or the XFF-derived remote address. */
export interface IpRule {
  /** `peer`: the TCP peer (direct_remote_ip); `remote`: the client address after XFF processing. */
  from: 'peer' | 'remote';
  /** Address part of the CIDR. */
  address: string;
  /** Prefix length (32/128 for a bare address). */
  prefixLen: number;
}

/** HTTP connection manager, router and listener settings (consumed by translate/hcm-settings.ts). */
export interface HcmModuleSettings {
  useRemoteAddress: boolean;
  xffNumTrustedHops?: number;
  serverName?: string;
  listenerIdleTimeoutMs?: number;
  headersWithUnderscoresAction?: 'ALLOW' | 'REJECT_REQUEST' | 'DROP_HEADER';
  maxRequestHeadersKb?: number;
  enableHttp10?: boolean;
  allowChunkedLength?: boolean;
  preserveExternalRequestId?: boolean;
  forwardClientCertDetails?:
    | 'SANITIZE'
    | 'FORWARD_ONLY'
    | 'APPEND_FORWARD'
    | 'SANITIZE_SET'
    | 'ALWAYS_FORWARD_ONLY';
  setCurrentClientCertDetails?: {
    subject?: boolean;
    cert?: boolean;
    chain?: boolean;
    dns?: boolean;
    uri?: boolean;
  };
  stripMatchingHostPort?: boolean;
  mergeSlashes?: boolean;
  rejectRequestsWithEscapedSlashes?: boolean;
  suppressEnvoyHeaders?: boolean;
  properCase?: boolean;
  /** Listener and cluster per-connection buffer limit. */
  bufferLimitBytes?: number;
  enableGrpcWeb?: boolean;
  enableGrpcHttp11Bridge?: boolean;
  ipAllow?: IpRule[];
  ipDeny?: IpRule[];
}

/** The effective Module: every default the compiler applies, with its source when one was given. */
export interface AmbassadorModule {
  /** The Module object, or undefined for the built-in defaults. */
  source: SourceRef | undefined;
  /** Default route timeout (`cluster_request_timeout_ms`, 3000). */
  clusterRequestTimeoutMs: number;
  clusterIdleTimeoutMs?: number;
  clusterMaxConnectionLifetimeMs?: number;
  circuitBreakers?: CircuitBreaker[];
  loadBalancer?: LoadBalancer;
  keepalive?: Keepalive;
  retryPolicy?: RetryPolicy;
  cors?: CorsSettings;
  enableIpv4: boolean;
  enableIpv6: boolean;
  /** Default resolver name (`kubernetes-service`). */
  resolver: string;
  addLinkerdHeaders?: boolean;
  /** `defaults.httpmapping.*` (or `defaults.*`) for the header keys Emissary looks up. */
  mappingDefaults: {
    addRequestHeaders?: HeaderToAdd[];
    addResponseHeaders?: HeaderToAdd[];
    removeRequestHeaders?: string[];
    removeResponseHeaders?: string[];
  };
  /** RE2 max_program_size for every generated regex (`regex_max_size`, 200). */
  regexMaxSize: number;
  /**
   * Which Hosts take a Mapping that names no host (Attaché's `hostless_mappings`): `selector_only`
   * (default, Emissary 2.0+: only Hosts whose mappingSelector matches its labels) or `every_host`
   * (opt-in, Ambassador 1.x: routed on every Host).
   */
  hostlessMappings: 'selector_only' | 'every_host';
  /** `default_label_domain` ("ambassador"). */
  defaultLabelDomain: string;
  /** `default_labels`: domain → specifiers prepended to every label group of that domain. */
  defaultLabels: Record<string, RateLimitAction[]>;
  hcm: HcmModuleSettings;
}

export const DEFAULT_MODULE: AmbassadorModule = Object.freeze({
  source: undefined,
  clusterRequestTimeoutMs: 3000,
  enableIpv4: true,
  enableIpv6: false,
  resolver: 'kubernetes-service',
  mappingDefaults: {},
  regexMaxSize: 200,
  hostlessMappings: 'selector_only',
  defaultLabelDomain: 'ambassador',
  defaultLabels: {},
  hcm: { useRemoteAddress: true },
}) as AmbassadorModule;
