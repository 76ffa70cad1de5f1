/**
 * The `ambassador` Module (emissary.md §3): kind Module, name `ambassador`, any namespace, settings
 * under `spec.config`. Keys that map to Envoy configuration are parsed here; keys that only drive
 * Emissary's own processes (diagnostics, probes, logging, statsd…) are ignored with a warning. A bad
 * key is reported and falls back to its default; the rest of the Module still applies.
 */
import { isIP } from 'node:net';
import type { Diagnostic } from '../contracts.ts';
import { describeType, isPlainObject, isSafeInteger, own } from './fields.ts';
import {
  type ErrorSink,
  parseCircuitBreakers,
  parseCors,
  parseHeaderNames,
  parseHeadersToAdd,
  parseKeepalive,
  parseLabels as parseLabelsFn,
  parseLoadBalancer,
  parseRetryPolicy,
  readBool,
  readMillis,
} from './mapping-policies.ts';
import type { ParsedSources } from './parsed-sources.ts';
import type { HeaderToAdd, RateLimitAction, SourceRef } from './types.ts';
import type { AmbassadorModule, HcmModuleSettings, IpRule } from './types-module.ts';
import { DEFAULT_MODULE } from './types-module.ts';

/**
 * Collects a Module record: only the one named `ambassador` configures anything; the legacy `tls`
 * and `authentication` Modules are superseded by TLSContext and AuthService.
 */
export function addModuleRecord(spec: unknown, source: SourceRef, out: ParsedSources): void {
  if (source.name !== 'ambassador') {
    out.diagnostics.push({
      severity: 'warning',
      source,
      message: `Module ${source.name || '(unnamed)'} is ignored: only the Module named "ambassador" is read (use TLSContext/AuthService for the legacy tls/authentication Modules)`,
    });
    return;
  }
  out.modules.push(parseAmbassadorModule(spec, source, out.diagnostics));
}

/** Keys Emissary uses only for its own processes or features Attaché does not provide. */
const IGNORED_KEYS: Readonly<Record<string, string>> = {
  admin_port: 'Envoy admin is configured by the bootstrap',
  diag_port: 'Attaché has no diagd',
  diagnostics: 'Attaché has no diagnostics UI (use `attache status`)',
  liveness_probe: 'Attaché has no diagd probe Mappings',
  readiness_probe: 'Attaché has no diagd probe Mappings',
  debug_mode: 'Envoy log level is set by the bootstrap',
  envoy_log_type: 'access logging is not generated yet',
  envoy_log_format: 'access logging is not generated yet',
  envoy_log_path: 'access logging is not generated yet',
  envoy_validation_timeout: 'Attaché validates configuration in the compiler',
  statsd: 'stats sinks are configured by the bootstrap',
  service_port: 'listeners come from Listener resources',
  use_proxy_proto: 'removed in Emissary 2.0; use a Listener with protocolStack PROXY',
  x_forwarded_proto_redirect: 'removed in Emissary 2.0; use Host requestPolicy.insecure.action',
  regex_type: 'a no-op since Emissary 3.x (RE2 is always used)',
  prune_unreachable_routes: 'automatic, as in Emissary 2.0+',
  use_ambassador_namespace_for_service_resolution:
    'services resolve through EndpointSlices in the Mapping namespace',
  auth_enabled: 'the ext_authz filter follows the AuthService',
  lua_scripts: 'not supported',
  gzip: 'not supported',
  buffer: 'not supported',
  grpc_stats: 'not supported',
  header_case_overrides: 'removed in Emissary 4',
  runtime_flags: 'runtime layers come from the bootstrap',
  error_response_overrides: 'removed in Emissary 4 (Emissary posts an error and ignores it)',
  envoy_log_type_json: 'access logging is not generated yet',
};

const FCC = ['SANITIZE', 'FORWARD_ONLY', 'APPEND_FORWARD', 'SANITIZE_SET', 'ALWAYS_FORWARD_ONLY'] as const;
const UNDERSCORES = ['ALLOW', 'REJECT_REQUEST', 'DROP_HEADER'] as const;

/** Parses one Module's `spec.config`; problems become diagnostics on the Module, never errors for others. */
export function parseAmbassadorModule(
  spec: unknown,
  source: SourceRef,
  diagnostics: Diagnostic[],
): AmbassadorModule {
  const err: ErrorSink = (field, message) =>
    diagnostics.push({
      severity: 'error',
      source,
      field: `config.${field}`,
      message: `${message}; default used`,
    });
  const warn = (field: string, message: string): void => {
    diagnostics.push({ severity: 'warning', source, field: `config.${field}`, message });
  };
  const config = own(spec, 'config');
  const m: AmbassadorModule = {
    ...DEFAULT_MODULE,
    source,
    mappingDefaults: {},
    defaultLabels: {},
    hcm: { useRemoteAddress: true },
  };
  if (config === undefined || config === null) return m;
  if (!isPlainObject(config)) {
    diagnostics.push({
      severity: 'error',
      source,
      field: 'config',
      message: `config must be a map, got ${describeType(config)}`,
    });
    return m;
  }
  const hcm = m.hcm;
  for (const [key, value] of Object.entries(config)) {
    if (value === null || value === undefined) continue;
    switch (key) {
      case 'cluster_request_timeout_ms':
        m.clusterRequestTimeoutMs = readMillis(value, key, err) ?? m.clusterRequestTimeoutMs;
        break;
      case 'cluster_idle_timeout_ms':
        m.clusterIdleTimeoutMs = readMillis(value, key, err);
        break;
      case 'cluster_max_connection_lifetime_ms':
        m.clusterMaxConnectionLifetimeMs = readMillis(value, key, err);
        break;
      case 'circuit_breakers':
        m.circuitBreakers = parseCircuitBreakers(value, key, err);
        break;
      case 'load_balancer':
        m.loadBalancer = parseLoadBalancer(value, key, err);
        break;
      case 'keepalive':
        m.keepalive = parseKeepalive(value, key, err);
        break;
      case 'retry_policy':
        m.retryPolicy = parseRetryPolicy(value, key, err);
        break;
      case 'cors':
        m.cors = parseCors(value, key, err);
        break;
      case 'enable_ipv4':
        m.enableIpv4 = readBool(value, key, err) ?? m.enableIpv4;
        break;
      case 'enable_ipv6':
        m.enableIpv6 = readBool(value, key, err) ?? m.enableIpv6;
        break;
      case 'resolver':
        if (typeof value === 'string' && value !== '') m.resolver = value;
        else err(key, `resolver must be a resolver name, got ${describeType(value)}`);
        break;
      case 'add_linkerd_headers':
        m.addLinkerdHeaders = readBool(value, key, err);
        break;
      case 'defaults':
        parseDefaults(value, m, err, warn);
        break;
      case 'hostless_mappings':
        if (value === 'selector_only' || value === 'every_host') m.hostlessMappings = value;
        else
          err(
            key,
            `hostless_mappings must be "selector_only" (Emissary 2.0+) or "every_host" (Ambassador 1.x), got ${JSON.stringify(value)}`,
          );
        break;
      case 'regex_max_size':
        if (isSafeInteger(value) && value > 0) m.regexMaxSize = value;
        else err(key, `regex_max_size must be a positive integer, got ${describeType(value)}`);
        break;
      case 'default_label_domain':
        if (typeof value === 'string' && value !== '') m.defaultLabelDomain = value;
        else err(key, 'default_label_domain must be a non-empty string');
        break;
      case 'default_labels':
        parseDefaultLabels(value, m, err);
        break;
      case 'use_remote_address':
        hcm.useRemoteAddress = readBool(value, key, err) ?? true;
        break;
      case 'xff_num_trusted_hops':
        if (isSafeInteger(value) && value >= 0 && value <= 0xffffffff) hcm.xffNumTrustedHops = value;
        else err(key, 'xff_num_trusted_hops must be a non-negative integer');
        break;
      case 'server_name':
        if (typeof value === 'string' && value !== '') hcm.serverName = value;
        else err(key, 'server_name must be a non-empty string');
        break;
      case 'listener_idle_timeout_ms':
        hcm.listenerIdleTimeoutMs = readMillis(value, key, err);
        break;
      case 'headers_with_underscores_action':
        if ((UNDERSCORES as readonly unknown[]).includes(value))
          hcm.headersWithUnderscoresAction = value as (typeof UNDERSCORES)[number];
        else err(key, `headers_with_underscores_action must be one of ${UNDERSCORES.join(', ')}`);
        break;
      case 'max_request_headers_kb':
        if (isSafeInteger(value) && value >= 1 && value <= 8192) hcm.maxRequestHeadersKb = value;
        else err(key, 'max_request_headers_kb must be an integer from 1 to 8192');
        break;
      case 'forward_client_cert_details':
        if ((FCC as readonly unknown[]).includes(value))
          hcm.forwardClientCertDetails = value as (typeof FCC)[number];
        else err(key, `forward_client_cert_details must be one of ${FCC.join(', ')}`);
        break;
      case 'set_current_client_cert_details': {
        const out: NonNullable<HcmModuleSettings['setCurrentClientCertDetails']> = {};
        if (!isPlainObject(value)) err(key, 'set_current_client_cert_details must be a map');
        else {
          for (const k of ['subject', 'cert', 'chain', 'dns', 'uri'] as const) {
            const v = own(value, k);
            if (v !== undefined) out[k] = readBool(v, `${key}.${k}`, err) ?? false;
          }
          hcm.setCurrentClientCertDetails = out;
        }
        break;
      }
      case 'buffer_limit_bytes':
        if (isSafeInteger(value) && value > 0 && value <= 0xffffffff) hcm.bufferLimitBytes = value;
        else err(key, 'buffer_limit_bytes must be a positive integer');
        break;
      case 'enable_http10':
      case 'allow_chunked_length':
      case 'preserve_external_request_id':
      case 'strip_matching_host_port':
      case 'merge_slashes':
      case 'reject_requests_with_escaped_slashes':
      case 'suppress_envoy_headers':
      case 'proper_case':
      case 'enable_grpc_web':
      case 'enable_grpc_http11_bridge': {
        const b = readBool(value, key, err);
        if (b !== undefined) hcm[BOOL_KEYS[key]] = b;
        break;
      }
      case 'ip_allow':
      case 'ip_deny': {
        const rules = parseIpRules(value, key, err);
        if (rules) hcm[key === 'ip_allow' ? 'ipAllow' : 'ipDeny'] = rules;
        break;
      }
      default:
        if (key in IGNORED_KEYS) warn(key, `${key} is ignored: ${IGNORED_KEYS[key]}`);
        else warn(key, `unknown Module key ${key}; ignored`);
    }
  }
  if (hcm.ipAllow && hcm.ipDeny) {
    err('ip_deny', 'ip_allow and ip_deny are mutually exclusive (Emissary rejects both); neither is applied');
    delete hcm.ipAllow;
    delete hcm.ipDeny;
  }
  return m;
}

const BOOL_KEYS = {
  enable_http10: 'enableHttp10',
  allow_chunked_length: 'allowChunkedLength',
  preserve_external_request_id: 'preserveExternalRequestId',
  strip_matching_host_port: 'stripMatchingHostPort',
  merge_slashes: 'mergeSlashes',
  reject_requests_with_escaped_slashes: 'rejectRequestsWithEscapedSlashes',
  suppress_envoy_headers: 'suppressEnvoyHeaders',
  proper_case: 'properCase',
  enable_grpc_web: 'enableGrpcWeb',
  enable_grpc_http11_bridge: 'enableGrpcHttp11Bridge',
} as const satisfies Record<string, keyof HcmModuleSettings>;

/** `defaults`: Emissary looks keys up in `defaults.httpmapping` first, then in `defaults` itself. */
function parseDefaults(
  value: unknown,
  m: AmbassadorModule,
  err: ErrorSink,
  warn: (f: string, msg: string) => void,
): void {
  if (!isPlainObject(value)) {
    err('defaults', 'defaults must be a map');
    return;
  }
  const pick = (key: string): [unknown, string] | undefined => {
    const scoped = own(own(value, 'httpmapping'), key);
    if (scoped !== undefined) return [scoped, `defaults.httpmapping.${key}`];
    const flat = own(value, key);
    return flat !== undefined ? [flat, `defaults.${key}`] : undefined;
  };
  const d = m.mappingDefaults;
  const add = (key: string): HeaderToAdd[] | undefined => {
    const p = pick(key);
    return p ? parseHeadersToAdd(p[0], p[1], err) : undefined;
  };
  const remove = (key: string): string[] | undefined => {
    const p = pick(key);
    return p ? parseHeaderNames(p[0], p[1], err) : undefined;
  };
  d.addRequestHeaders = add('add_request_headers');
  d.addResponseHeaders = add('add_response_headers');
  d.removeRequestHeaders = remove('remove_request_headers');
  d.removeResponseHeaders = remove('remove_response_headers');
  for (const k of Object.keys(own(value, 'httpmapping') ?? {})) {
    if (
      ![
        'add_request_headers',
        'add_response_headers',
        'remove_request_headers',
        'remove_response_headers',
      ].includes(k)
    )
      warn(
        `defaults.httpmapping.${k}`,
        `defaults for ${k} are not applied (Emissary looks up only header defaults)`,
      );
  }
}

/** `default_labels: {<domain>: {defaults: [specifier…]}}`. */
function parseDefaultLabels(value: unknown, m: AmbassadorModule, err: ErrorSink): void {
  if (!isPlainObject(value)) {
    err('default_labels', 'default_labels must be a map of domain to {defaults: [...]}');
    return;
  }
  for (const [domain, entry] of Object.entries(value)) {
    const defaults = own(entry, 'defaults');
    if (defaults === undefined) continue;
    const parsed = parseLabelsShim(defaults, `default_labels.${domain}.defaults`, err);
    if (parsed) m.defaultLabels[domain] = parsed;
  }
}

function parseLabelsShim(value: unknown, field: string, err: ErrorSink): RateLimitAction[] | undefined {
  // Reuse the label-group reader by wrapping the list as one group.
  const groups = parseLabelsFn({ d: [{ defaults: value }] }, field, err);
  return groups?.d?.[0]?.actions;
}

function parseIpRules(value: unknown, field: string, err: ErrorSink): IpRule[] | undefined {
  if (!Array.isArray(value)) {
    err(field, `${field} must be a list of {peer: CIDR} or {remote: CIDR}`);
    return undefined;
  }
  const out: IpRule[] = [];
  for (const [i, entry] of value.entries()) {
    const peer = own(entry, 'peer');
    const remote = own(entry, 'remote');
    const from = peer !== undefined ? 'peer' : remote !== undefined ? 'remote' : undefined;
    const cidr = peer ?? remote;
    const parsed = typeof cidr === 'string' ? parseCidr(cidr) : undefined;
    if (!from || !parsed) {
      err(`${field}[${i}]`, 'each entry must be {peer: <CIDR>} or {remote: <CIDR>}');
      return undefined;
    }
    out.push({ from, ...parsed });
  }
  return out;
}

function parseCidr(text: string): { address: string; prefixLen: number } | undefined {
  const [address, len] = text.trim().split('/');
  const family = isIP(address ?? '');
  if (!address || family === 0) return undefined;
  const max = family === 4 ? 32 : 128;
  if (len === undefined) return { address, prefixLen: max };
  if (!/^[0-9]{1,3}$/.test(len) || Number(len) > max) return undefined;
  return { address, prefixLen: Number(len) };
}
