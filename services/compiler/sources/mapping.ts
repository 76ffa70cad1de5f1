/**
 * Parses and validates one Mapping (getambassador.io v2 / v3alpha1, x.getambassador.io
 * AmbassadorMapping) field by field (emissary.md §1.2). A problem in a field Emissary validates
 * rejects the Mapping (error, skipped as a whole). Fields Emissary posts an error for but still
 * routes (outlier_detection, v4 error_response_overrides) keep the Mapping with an error
 * diagnostic. Fields Emissary ignores are ignored with a warning. Module defaults are applied later,
 * in the IR, so absent fields stay undefined here.
 */
import type { Diagnostic } from '../contracts.ts';
import { describeType, hasControlChars, isPlainObject, isSafeInteger, own } from './fields.ts';
import { checkHostGlob, parseExactMap, parseRegexMap, regexProblem } from './mapping-match.ts';
import {
  type ErrorSink,
  parseCircuitBreakers,
  parseCors,
  parseHeaderNames,
  parseHeadersToAdd,
  parseHealthChecks,
  parseKeepalive,
  parseLabels,
  parseLoadBalancer,
  parseRetryPolicy,
  readBool,
  readMillis,
  readText,
} from './mapping-policies.ts';
import { parseServiceRef } from './service-ref.ts';
import type { MappingHeader, MappingSpec, RedirectSpec, SourceRef } from './types.ts';

/** Emissary's default route timeout (Module `cluster_request_timeout_ms`). */
export const DEFAULT_TIMEOUT_MS = 3000;

export interface MappingInput {
  /** The object's `spec` (untrusted). */
  spec: unknown;
  /** apiVersion of the object: v2 allows `true` header values (presence) and `tls: true`. */
  apiVersion: string;
  source: SourceRef;
  /** `metadata.labels` of the object (untrusted). */
  labels?: unknown;
}

/** Keys read elsewhere or pure bookkeeping: never reported as unknown. */
const QUIET_KEYS = new Set([
  'ambassador_id',
  'ambassadorId',
  'docs',
  'v2ExplicitTLS',
  'v2BoolHeaders',
  'v2BoolQueryParameters',
  'status',
]);

/** Keys Emissary accepts but ignores (not in IRHTTPMapping.AllowedKeys, or Edge-Stack only). */
const IGNORED_KEYS: Readonly<Record<string, string>> = {
  envoy_override: 'Emissary does not apply envoy_override (not an allowed key)',
  modules: 'Emissary does not apply per-Mapping modules',
  bypass_error_response_overrides: 'error_response_overrides are not supported (removed in Emissary 4)',
  respect_dns_ttl: 'clusters use EDS, DNS TTLs do not apply',
  rate_limits: 'rate_limits is accepted only in getambassador.io/v0 Mappings',
};

const REDIRECT_CODES = [301, 302, 303, 307, 308] as const;

export function parseMapping(input: MappingInput): { mapping?: MappingSpec; diagnostics: Diagnostic[] } {
  const diagnostics: Diagnostic[] = [];
  let fatal = false;
  const error: ErrorSink = (field, message) => {
    fatal = true;
    diagnostics.push({ severity: 'error', source: input.source, field, message });
  };
  const nonFatal = (field: string, message: string): void => {
    diagnostics.push({ severity: 'error', source: input.source, field, message });
  };
  const warn = (field: string, message: string): void => {
    diagnostics.push({ severity: 'warning', source: input.source, field, message });
  };
  const spec = input.spec;
  if (!isPlainObject(spec)) {
    error('spec', `spec must be a map, got ${describeType(spec)}`);
    return { diagnostics };
  }
  const v2 = input.apiVersion === 'getambassador.io/v2';
  const get = (key: string): unknown => {
    const v = own(spec, key);
    return v === null ? undefined : v;
  };
  const opt = <T>(
    key: string,
    read: (v: unknown, f: string, e: ErrorSink) => T | undefined,
  ): T | undefined => {
    const v = get(key);
    return v === undefined ? undefined : read(v, key, error);
  };

  const prefix = requiredText(spec, 'prefix', error);
  const service = requiredText(spec, 'service', error);
  const prefixRegex = opt('prefix_regex', readBool);
  const prefixExact = opt('prefix_exact', readBool);
  const pathMatch = prefixRegex ? 'regex' : prefixExact ? 'exact' : 'prefix';
  if (prefixRegex && prefixExact)
    warn('prefix_exact', 'prefix_regex and prefix_exact are both set: prefix_regex wins');
  const prefixProblem = prefix !== undefined && pathMatch === 'regex' ? regexProblem(prefix) : undefined;
  if (prefixProblem)
    error('prefix', `prefix ${shortQuote(prefix!)} is not a valid RE2 regular expression: ${prefixProblem}`);
  if (prefix !== undefined && pathMatch !== 'regex' && !prefix.startsWith('/'))
    error('prefix', `prefix "${prefix}" must start with "/"`);

  // Redirects and shadows first: a host_redirect's service is a host name, not an upstream.
  let hostRedirect = opt('host_redirect', readBool) ?? false;
  const shadow = opt('shadow', readBool) ?? false;
  if (shadow && hostRedirect) {
    nonFatal('host_redirect', 'At most one of host_redirect and shadow may be set; ignoring host_redirect');
    hostRedirect = false;
  }
  const redirect = hostRedirect ? parseRedirect(get, error, nonFatal) : undefined;
  if (!hostRedirect) {
    for (const k of ['path_redirect', 'prefix_redirect', 'regex_redirect', 'redirect_response_code']) {
      if (get(k) !== undefined) warn(k, `${k} has no effect without host_redirect: true (as in Emissary)`);
    }
  }

  let target: MappingSpec['target'];
  if (service !== undefined && !hostRedirect) {
    const parsed = parseServiceRef(service, input.source.namespace);
    if (parsed.ok) target = parsed.target;
    else error('service', `service "${service}": ${parsed.message}`);
  }

  let weight: number | undefined;
  const w = get('weight');
  if (w !== undefined) {
    if (!isSafeInteger(w) || w < 0 || w > 100) {
      error('weight', `weight must be an integer from 0 to 100, got ${JSON.stringify(w) ?? describeType(w)}`);
    } else weight = w;
  }

  // Header conditions in Emissary's order: headers, regex_headers, :authority, :method.
  const exact = parseExactMap(get('headers'), 'headers', { allowPresence: v2, lowercase: true }, error);
  const regexHeaders = parseRegexMap(get('regex_headers'), 'regex_headers', { lowercase: true }, error);
  const query = parseExactMap(
    get('query_parameters'),
    'query_parameters',
    { allowPresence: v2, lowercase: false },
    error,
  );
  const regexQuery = parseRegexMap(
    get('regex_query_parameters'),
    'regex_query_parameters',
    { lowercase: false },
    error,
  );

  const hostRegex = opt('host_regex', readBool) ?? false;
  const hostField =
    get('hostname') !== undefined ? 'hostname' : get('host') !== undefined ? 'host' : undefined;
  let hostname = '*';
  let hostless = hostField === undefined;
  if (hostField) {
    const h = get(hostField);
    if (hostRegex) {
      const why = typeof h === 'string' ? regexProblem(h) : 'it is not a string';
      if (typeof h === 'string' && !why) hostname = h;
      else error(hostField, `${hostField} must be an RE2 regular expression when host_regex is true: ${why}`);
    } else hostname = checkHostGlob(h, hostField, error) ?? '*';
  } else if (hostRegex) {
    warn('host_regex', 'host_regex has no effect without hostname or host');
  }
  let headers: MappingHeader[] = [...(exact ?? []), ...(regexHeaders ?? [])];
  // An exact `:authority` header is the host when no hostname is given (Emissary treats it as `host`).
  const authority = headers.find((h) => h.name === ':authority' && !h.regex);
  if (authority && !hostField && typeof authority.value === 'string') {
    hostname = checkHostGlob(authority.value, 'headers.:authority', error) ?? '*';
    headers = headers.filter((h) => h !== authority);
    hostless = false;
  }
  const method = get('method');
  const methodRegex = opt('method_regex', readBool) ?? false;
  if (method !== undefined) {
    if (typeof method !== 'string' || method === '' || hasControlChars(method))
      error('method', `method must be a non-empty string, got ${describeType(method)}`);
    else if (methodRegex && regexProblem(method))
      error('method', `method is not a valid RE2 regular expression: ${regexProblem(method)}`);
  } else if (methodRegex) warn('method_regex', 'method_regex has no effect without method');
  const methodHeader: MappingHeader | undefined =
    typeof method === 'string'
      ? { name: ':method', value: method, ...(methodRegex ? { regex: true } : {}) }
      : undefined;

  // Rewrites.
  let rewrite: string | undefined = '/';
  const r = get('rewrite');
  if (r !== undefined) {
    if (typeof r !== 'string') error('rewrite', `rewrite must be a string, got ${describeType(r)}`);
    else if (hasControlChars(r)) error('rewrite', 'rewrite must not contain control characters');
    else rewrite = r === '' ? undefined : r;
  }
  let regexRewrite: MappingSpec['regexRewrite'];
  const rr = get('regex_rewrite');
  if (rr !== undefined) {
    regexRewrite = parsePatternSubstitution(rr, 'regex_rewrite', error);
    if (regexRewrite) {
      if (typeof r === 'string' && r !== '/' && r !== '')
        warn(
          'rewrite',
          'Cannot specify both rewrite and regex_rewrite: using regex_rewrite and ignoring rewrite',
        );
      rewrite = undefined;
    }
  }
  const hostRewrite = opt('host_rewrite', readText);
  const autoHostRewrite = opt('auto_host_rewrite', readBool);

  let timeoutMs: number | undefined;
  const t = get('timeout_ms');
  if (t !== undefined) timeoutMs = readMillis(t, 'timeout_ms', error);

  let precedence = 0;
  const p = get('precedence');
  if (p !== undefined) {
    if (!isSafeInteger(p)) error('precedence', `precedence must be an integer, got ${describeType(p)}`);
    else precedence = p;
  }
  let priority: MappingSpec['priority'];
  const pr = get('priority');
  if (pr !== undefined) {
    const v = typeof pr === 'string' ? pr.toUpperCase() : '';
    if (v === 'HIGH' || v === 'DEFAULT') priority = v;
    else error('priority', `priority must be "default" or "high", got ${describeType(pr)}`);
  }

  let tls: MappingSpec['tls'];
  const tl = get('tls');
  if (tl !== undefined) {
    if (typeof tl === 'string' && tl !== '') tls = tl;
    else if (tl === true && v2) tls = true;
    else if (tl === false && v2) tls = undefined;
    else
      error(
        'tls',
        `tls must be the name of a TLSContext${v2 ? ' or a boolean' : ''}, got ${describeType(tl)}`,
      );
  }

  let allowUpgrade: string[] | undefined;
  const au = get('allow_upgrade');
  if (au !== undefined) {
    if (Array.isArray(au) && au.every((x) => typeof x === 'string' && x !== '' && !hasControlChars(x)))
      allowUpgrade = [...(au as string[])];
    else error('allow_upgrade', 'allow_upgrade must be a list of protocol names');
  }
  if (opt('use_websocket', readBool)) {
    allowUpgrade = allowUpgrade ?? [];
    if (!allowUpgrade.includes('websocket')) allowUpgrade.push('websocket');
  }

  let authContextExtensions: Record<string, string> | undefined;
  const ace = get('auth_context_extensions');
  if (ace !== undefined) {
    if (isPlainObject(ace) && Object.values(ace).every((v) => typeof v === 'string' && !hasControlChars(v)))
      authContextExtensions = { ...(ace as Record<string, string>) };
    else error('auth_context_extensions', 'auth_context_extensions must be a map of string to string');
  }

  let dnsType: MappingSpec['dnsType'];
  const dt = get('dns_type');
  if (dt !== undefined) {
    if (dt === 'strict_dns' || dt === 'logical_dns') dnsType = dt;
    else error('dns_type', `dns_type must be strict_dns or logical_dns, got ${describeType(dt)}`);
  }

  // Fields Emissary reports but still routes around.
  if (get('outlier_detection') !== undefined)
    nonFatal('outlier_detection', 'outlier_detection is not supported; ignored');
  if (get('error_response_overrides') !== undefined)
    nonFatal(
      'error_response_overrides',
      'error_response_overrides is not supported (removed in Emissary 4, which reports it and ignores it); ignored',
    );
  for (const key of Object.keys(spec)) {
    if (key in IGNORED_KEYS && get(key) !== undefined) warn(key, `${key} is ignored: ${IGNORED_KEYS[key]}`);
    else if (!KNOWN_KEYS.has(key) && !QUIET_KEYS.has(key)) warn(key, `unknown field ${key}; ignored`);
  }

  // One object, built once: `prefix` and `service` last, where a copy with them appended put them
  // (key order is visible to anything that stringifies a Mapping). Undefined only when fatal.
  const mapping: MappingSpec = {
    source: input.source,
    apiVersion: input.apiVersion,
    pathMatch,
    pathFlags: {
      ...(prefixRegex !== undefined ? { prefix_regex: prefixRegex } : {}),
      ...(prefixExact !== undefined ? { prefix_exact: prefixExact } : {}),
    },
    caseSensitive: opt('case_sensitive', readBool),
    target,
    weight,
    headers: [...headers, ...(methodHeader ? [methodHeader] : [])],
    queryParameters: [...(query ?? []), ...(regexQuery ?? [])],
    hostname,
    hostless,
    hostRegex: hostRegex && hostField !== undefined,
    rewrite,
    regexRewrite,
    hostRewrite,
    autoHostRewrite,
    hostRedirect: redirect,
    shadow,
    resolver: opt('resolver', readText),
    tls,
    grpc: opt('grpc', readBool) ?? false,
    loadBalancer: opt('load_balancer', parseLoadBalancer),
    timeoutMs,
    idleTimeoutMs: opt('idle_timeout_ms', readMillis),
    connectTimeoutMs: opt('connect_timeout_ms', readMillis),
    clusterIdleTimeoutMs: opt('cluster_idle_timeout_ms', readMillis),
    clusterMaxConnectionLifetimeMs: opt('cluster_max_connection_lifetime_ms', readMillis),
    retryPolicy: opt('retry_policy', parseRetryPolicy),
    circuitBreakers: opt('circuit_breakers', parseCircuitBreakers),
    cors: opt('cors', parseCors),
    addRequestHeaders: opt('add_request_headers', parseHeadersToAdd),
    addResponseHeaders: opt('add_response_headers', parseHeadersToAdd),
    removeRequestHeaders: opt('remove_request_headers', parseHeaderNames),
    removeResponseHeaders: opt('remove_response_headers', parseHeaderNames),
    addLinkerdHeaders: opt('add_linkerd_headers', readBool),
    allowUpgrade,
    precedence,
    priority,
    labels: opt('labels', parseLabels),
    bypassAuth: opt('bypass_auth', readBool),
    authContextExtensions,
    keepalive: opt('keepalive', parseKeepalive),
    clusterTag: opt('cluster_tag', readText),
    statsName: opt('stats_name', readText),
    healthChecks: opt('health_checks', parseHealthChecks),
    dnsType,
    enableIpv4: opt('enable_ipv4', readBool),
    enableIpv6: opt('enable_ipv6', readBool),
    metadataLabels: stringMap(input.labels),
    prefix: prefix as string,
    service: service as string,
  };
  if (fatal || prefix === undefined || service === undefined || (!target && !hostRedirect))
    return { diagnostics };
  return { diagnostics, mapping };
}

/** Every key this parser reads (others are reported as unknown). */
const KNOWN_KEYS = new Set([
  'prefix',
  'prefix_regex',
  'prefix_exact',
  'case_sensitive',
  'service',
  'weight',
  'headers',
  'regex_headers',
  'query_parameters',
  'regex_query_parameters',
  'hostname',
  'host',
  'host_regex',
  'method',
  'method_regex',
  'rewrite',
  'regex_rewrite',
  'host_rewrite',
  'auto_host_rewrite',
  'host_redirect',
  'path_redirect',
  'prefix_redirect',
  'regex_redirect',
  'redirect_response_code',
  'shadow',
  'resolver',
  'tls',
  'grpc',
  'load_balancer',
  'timeout_ms',
  'idle_timeout_ms',
  'connect_timeout_ms',
  'cluster_idle_timeout_ms',
  'cluster_max_connection_lifetime_ms',
  'retry_policy',
  'circuit_breakers',
  'cors',
  'add_request_headers',
  'add_response_headers',
  'remove_request_headers',
  'remove_response_headers',
  'add_linkerd_headers',
  'allow_upgrade',
  'use_websocket',
  'precedence',
  'priority',
  'labels',
  'bypass_auth',
  'auth_context_extensions',
  'keepalive',
  'cluster_tag',
  'stats_name',
  'health_checks',
  'dns_type',
  'enable_ipv4',
  'enable_ipv6',
  'outlier_detection',
  'error_response_overrides',
]);

/** host_redirect companions; path_redirect > prefix_redirect > regex_redirect (Emissary's preference). */
function parseRedirect(
  get: (key: string) => unknown,
  error: ErrorSink,
  nonFatal: (field: string, message: string) => void,
): RedirectSpec {
  const out: RedirectSpec = {};
  const path = get('path_redirect');
  const prefix = get('prefix_redirect');
  const regex = get('regex_redirect');
  if (path !== undefined) out.path = readText(path, 'path_redirect', error);
  if (prefix !== undefined) {
    if (path !== undefined)
      nonFatal(
        'prefix_redirect',
        'Cannot specify both path_redirect and prefix_redirect. Using path_redirect and ignoring prefix_redirect.',
      );
    else out.prefix = readText(prefix, 'prefix_redirect', error);
  }
  if (regex !== undefined) {
    if (path !== undefined || prefix !== undefined)
      nonFatal(
        'regex_redirect',
        `Cannot specify both ${path !== undefined ? 'path_redirect' : 'prefix_redirect'} and regex_redirect. ` +
          `Using ${path !== undefined ? 'path_redirect' : 'prefix_redirect'} and ignoring regex_redirect.`,
      );
    else out.regex = parsePatternSubstitution(regex, 'regex_redirect', error);
  }
  const code = get('redirect_response_code');
  if (code !== undefined) {
    if ((REDIRECT_CODES as readonly unknown[]).includes(code))
      out.responseCode = code as RedirectSpec['responseCode'];
    else
      nonFatal(
        'redirect_response_code',
        `Unknown redirect_response_code=${JSON.stringify(code)}, must be one of [301, 302, 303, 307, 308]. Using default redirect_response_code=301`,
      );
  }
  return out;
}

function parsePatternSubstitution(
  value: unknown,
  field: string,
  error: ErrorSink,
): { pattern: string; substitution: string } | undefined {
  const pattern = own(value, 'pattern');
  const substitution = own(value, 'substitution') ?? '';
  const why = typeof pattern === 'string' ? regexProblem(pattern) : 'it is not a string';
  if (typeof pattern !== 'string' || why) {
    error(`${field}.pattern`, `${field}.pattern must be an RE2 regular expression: ${why}`);
    return undefined;
  }
  if (typeof substitution !== 'string' || hasControlChars(substitution)) {
    error(`${field}.substitution`, `${field}.substitution must be a string`);
    return undefined;
  }
  return { pattern, substitution };
}

/** A value quoted for a diagnostic, cut so that a huge hostile value cannot bloat the status. */
function shortQuote(v: string): string {
  return v.length > 120 ? `${JSON.stringify(v.slice(0, 120))}… (${v.length} characters)` : JSON.stringify(v);
}

function requiredText(spec: Record<string, unknown>, key: string, error: ErrorSink): string | undefined {
  const v = own(spec, key);
  if (v === undefined || v === null) {
    error(key, `${key} is required`);
    return undefined;
  }
  if (typeof v !== 'string') {
    error(key, `${key} must be a string, got ${describeType(v)}`);
    return undefined;
  }
  if (v === '' || hasControlChars(v)) {
    error(key, `${key} must be a non-empty string without control characters`);
    return undefined;
  }
  return v;
}

function stringMap(v: unknown): Record<string, string> {
  if (!isPlainObject(v)) return {};
  return Object.fromEntries(Object.entries(v).filter((e): e is [string, string] => typeof e[1] === 'string'));
}
