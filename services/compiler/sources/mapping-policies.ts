/**
 * Readers for the structured policy fields a Mapping shares with the `ambassador` Module
 * (emissary.md §1.2, §3): load_balancer, circuit_breakers, retry_policy, cors, keepalive, header
 * additions/removals, health_checks and rate-limit labels. Each reader validates as Emissary does
 * and reports problems through `err(field, message)`; it returns undefined when the value is unusable.
 */
import {
  describeType,
  hasControlChars,
  isPlainObject,
  isSafeInteger,
  own,
  type PlainObject,
} from './fields.ts';
import type {
  CircuitBreaker,
  CorsSettings,
  HeaderToAdd,
  HealthCheck,
  Keepalive,
  LoadBalancer,
  RateLimitAction,
  RateLimitLabels,
  RetryPolicy,
} from './types.ts';

export type ErrorSink = (field: string, message: string) => void;

/** Largest millisecond value that still fits a protobuf Duration. */
export const MAX_DURATION_MS = 315_576_000_000_000;

/** A non-negative integer of milliseconds. */
export function readMillis(value: unknown, field: string, err: ErrorSink): number | undefined {
  if (!isSafeInteger(value) || value < 0 || value > MAX_DURATION_MS) {
    err(field, `${field} must be a non-negative integer (milliseconds), got ${describe(value)}`);
    return undefined;
  }
  return value;
}

/** Envoy JSON duration text as Emissary passes it through (`"1.5s"`, `"250ms"` is not Envoy syntax). */
export function readDurationText(value: unknown, field: string, err: ErrorSink): number | undefined {
  if (typeof value === 'string') {
    const m = /^([0-9]+)(?:\.([0-9]{1,9}))?s$/.exec(value.trim());
    if (m) {
      const ms = Number(m[1]) * 1000 + Math.round(Number(`0.${m[2] ?? '0'}`) * 1000);
      if (ms <= MAX_DURATION_MS) return ms;
    }
  }
  err(field, `${field} must be a duration such as "1s" or "0.25s", got ${describe(value)}`);
  return undefined;
}

export function readBool(value: unknown, field: string, err: ErrorSink): boolean | undefined {
  if (typeof value === 'boolean') return value;
  err(field, `${field} must be true or false, got ${describe(value)}`);
  return undefined;
}

export function readText(value: unknown, field: string, err: ErrorSink): string | undefined {
  if (typeof value === 'string' && value !== '' && !hasControlChars(value)) return value;
  err(field, `${field} must be a non-empty string without control characters, got ${describe(value)}`);
  return undefined;
}

/** `load_balancer` as `IRHTTPMapping.validate_load_balancer` accepts it. */
export function parseLoadBalancer(value: unknown, field: string, err: ErrorSink): LoadBalancer | undefined {
  const bad = (): undefined => {
    err(
      field,
      `invalid ${field}: policy round_robin or least_request with no other key, or ring_hash or maglev ` +
        'with exactly one of cookie{name}, header or source_ip',
    );
    return undefined;
  };
  if (!isPlainObject(value)) return bad();
  const policy = own(value, 'policy');
  const keys = Object.keys(value);
  if (policy === 'round_robin' || policy === 'least_request') {
    return keys.length === 1 ? { policy } : bad();
  }
  if ((policy !== 'ring_hash' && policy !== 'maglev') || keys.length !== 2) return bad();
  const cookie = own(value, 'cookie');
  if (cookie !== undefined) {
    const name = own(cookie, 'name');
    if (typeof name !== 'string' || name === '' || hasControlChars(name)) return bad();
    const path = own(cookie, 'path');
    const ttl = own(cookie, 'ttl');
    let ttlMs: number | undefined;
    if (ttl !== undefined) {
      ttlMs = readDurationText(ttl, `${field}.cookie.ttl`, err);
      if (ttlMs === undefined) return undefined;
    }
    if (path !== undefined && (typeof path !== 'string' || hasControlChars(path))) return bad();
    return {
      policy,
      hash: {
        kind: 'cookie',
        name,
        ...(typeof path === 'string' ? { path } : {}),
        ...(ttlMs !== undefined ? { ttlMs } : {}),
      },
    };
  }
  const header = own(value, 'header');
  if (header !== undefined) {
    if (typeof header !== 'string' || header === '' || hasControlChars(header)) return bad();
    return { policy, hash: { kind: 'header', name: header.toLowerCase() } };
  }
  const sourceIp = own(value, 'source_ip');
  if (sourceIp !== undefined) {
    if (typeof sourceIp !== 'boolean') return bad();
    return { policy, hash: { kind: 'source_ip', enabled: sourceIp } };
  }
  return bad();
}

const BREAKER_LIMITS: readonly [keyof Omit<CircuitBreaker, 'priority' | 'name'>, string, string][] = [
  ['maxConnections', 'max_connections', 'c'],
  ['maxPendingRequests', 'max_pending_requests', 'p'],
  ['maxRequests', 'max_requests', 'r'],
  ['maxRetries', 'max_retries', 't'],
];

/** `circuit_breakers`: a list; each entry gets Emissary's name marker (`cbd…`, `cbh…`, `cbn…`). */
export function parseCircuitBreakers(
  value: unknown,
  field: string,
  err: ErrorSink,
): CircuitBreaker[] | undefined {
  if (!Array.isArray(value)) {
    err(field, `${field} must be a list of breakers, got ${describe(value)}`);
    return undefined;
  }
  const out: CircuitBreaker[] = [];
  for (const [i, b] of value.entries()) {
    const f = `${field}[${i}]`;
    if (!isPlainObject(b)) {
      err(f, `a circuit breaker must be a map, got ${describe(b)}`);
      return undefined;
    }
    const breaker: CircuitBreaker = { priority: 'DEFAULT', name: '' };
    let marker = 'cb';
    const prio = own(b, 'priority');
    if (prio !== undefined) {
      const p = typeof prio === 'string' ? prio.toLowerCase() : '';
      if (p !== 'default' && p !== 'high') {
        err(`${f}.priority`, `priority must be default or high, got ${describe(prio)}`);
        return undefined;
      }
      breaker.priority = p === 'high' ? 'HIGH' : 'DEFAULT';
      marker += p[0];
    } else marker += 'n';
    for (const [key, yamlKey, abbrev] of BREAKER_LIMITS) {
      const v = own(b, yamlKey);
      if (v === undefined) continue;
      if (!isSafeInteger(v) || v < 0 || v > 0xffffffff) {
        err(`${f}.${yamlKey}`, `${yamlKey} must be an integer from 0 to 4294967295, got ${describe(v)}`);
        return undefined;
      }
      breaker[key] = v;
      marker += `${abbrev}${v}`;
    }
    breaker.name = marker;
    out.push(breaker);
  }
  return out;
}

/** retry_on values Emissary accepts (`IRRetryPolicy`); gRPC tokens are an Attaché extension. */
const HTTP_RETRY_ON = [
  '5xx',
  'gateway-error',
  'connect-failure',
  'retriable-4xx',
  'refused-stream',
  'retriable-status-codes',
];
const GRPC_RETRY_ON = ['cancelled', 'deadline-exceeded', 'internal', 'resource-exhausted', 'unavailable'];

export function parseRetryPolicy(value: unknown, field: string, err: ErrorSink): RetryPolicy | undefined {
  if (!isPlainObject(value)) {
    err(field, `${field} must be a map, got ${describe(value)}`);
    return undefined;
  }
  const retryOn = own(value, 'retry_on');
  const tokens = typeof retryOn === 'string' ? retryOn.split(',').map((t) => t.trim()) : [];
  const known = [...HTTP_RETRY_ON, ...GRPC_RETRY_ON];
  if (tokens.length === 0 || tokens.some((t) => !known.includes(t))) {
    err(
      `${field}.retry_on`,
      `retry_on must be one of ${known.join(', ')} (comma-separated), got ${describe(retryOn)}`,
    );
    return undefined;
  }
  const policy: RetryPolicy = { retryOn: tokens.join(',') };
  const n = own(value, 'num_retries');
  if (n !== undefined) {
    if (!isSafeInteger(n) || n < 0 || n > 0xffffffff) {
      err(`${field}.num_retries`, `num_retries must be a non-negative integer, got ${describe(n)}`);
      return undefined;
    }
    policy.numRetries = n;
  }
  const perTry = own(value, 'per_try_timeout');
  if (perTry !== undefined) {
    const ms = readDurationText(perTry, `${field}.per_try_timeout`, err);
    if (ms === undefined) return undefined;
    policy.perTryTimeoutMs = ms;
  }
  return policy;
}

/** `cors`; lists or (v2) comma-separated strings, as `IRCORS` normalises them. */
export function parseCors(value: unknown, field: string, err: ErrorSink): CorsSettings | undefined {
  if (!isPlainObject(value)) {
    err(field, `${field} must be a map, got ${describe(value)}`);
    return undefined;
  }
  const list = (key: string): string[] | undefined | null => {
    const v = own(value, key);
    if (v === undefined || v === null) return undefined;
    if (typeof v === 'string')
      return v
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== '');
    if (Array.isArray(v) && v.every((s) => typeof s === 'string' && !hasControlChars(s)))
      return v as string[];
    err(
      `${field}.${key}`,
      `${key} must be a list of strings or a comma-separated string, got ${describe(v)}`,
    );
    return null;
  };
  const origins = list('origins');
  const methods = list('methods');
  const headers = list('headers');
  const exposed = list('exposed_headers');
  if (origins === null || methods === null || headers === null || exposed === null) return undefined;
  const cors: CorsSettings = {
    origins: origins ?? [],
    methods: methods ?? [],
    headers: headers ?? [],
    exposedHeaders: exposed ?? [],
  };
  const credentials = own(value, 'credentials');
  if (credentials !== undefined) {
    const b = readBool(credentials, `${field}.credentials`, err);
    if (b === undefined) return undefined;
    cors.credentials = b;
  }
  const maxAge = own(value, 'max_age');
  if (maxAge !== undefined) {
    if (!(typeof maxAge === 'string' && /^[0-9]+$/.test(maxAge)) && !isSafeInteger(maxAge)) {
      err(`${field}.max_age`, `max_age must be a number of seconds, got ${describe(maxAge)}`);
      return undefined;
    }
    cors.maxAge = String(maxAge);
  }
  return cors;
}

export function parseKeepalive(value: unknown, field: string, err: ErrorSink): Keepalive | undefined {
  if (!isPlainObject(value)) {
    err(field, `${field} must be a map, got ${describe(value)}`);
    return undefined;
  }
  const out: Keepalive = {};
  for (const [key, yamlKey] of [
    ['probes', 'probes'],
    ['idleTime', 'idle_time'],
    ['interval', 'interval'],
  ] as const) {
    const v = own(value, yamlKey);
    if (v === undefined) continue;
    if (!isSafeInteger(v) || v < 0 || v > 0xffffffff) {
      err(`${field}.${yamlKey}`, `${yamlKey} must be a non-negative integer, got ${describe(v)}`);
      return undefined;
    }
    out[key] = v;
  }
  return out;
}

/** `add_*_headers`: name → value, or name → {value, append}; append defaults to true. */
export function parseHeadersToAdd(value: unknown, field: string, err: ErrorSink): HeaderToAdd[] | undefined {
  if (!isPlainObject(value)) {
    err(field, `${field} must be a map of header name to value, got ${describe(value)}`);
    return undefined;
  }
  const out: HeaderToAdd[] = [];
  for (const [name, v] of Object.entries(value)) {
    const f = `${field}.${name}`;
    if (name === '' || hasControlChars(name) || /\s/.test(name)) {
      err(f, 'header names must be non-empty and contain no spaces or control characters');
      return undefined;
    }
    let text: unknown = v;
    let append = true;
    if (isPlainObject(v)) {
      text = own(v, 'value');
      const a = own(v, 'append');
      if (a !== undefined) {
        if (typeof a !== 'boolean') {
          err(`${f}.append`, `append must be true or false, got ${describe(a)}`);
          return undefined;
        }
        append = a;
      }
    }
    if (typeof text === 'number' || typeof text === 'boolean') text = String(text);
    if (typeof text !== 'string' || hasControlChars(text)) {
      err(f, `header value must be a string (or {value, append}), got ${describe(text)}`);
      return undefined;
    }
    out.push({ name, value: text, append });
  }
  return out;
}

/** `remove_*_headers`: a list of names, or a single name (Emissary wraps it in a list). */
export function parseHeaderNames(value: unknown, field: string, err: ErrorSink): string[] | undefined {
  const list = typeof value === 'string' ? [value] : value;
  if (!Array.isArray(list) || !list.every((n) => typeof n === 'string' && n !== '' && !hasControlChars(n))) {
    err(field, `${field} must be a header name or a list of header names, got ${describe(value)}`);
    return undefined;
  }
  return list as string[];
}

/**
 * `health_checks` in the v3alpha1 CRD shape: timeout/interval durations, thresholds and
 * `health_check: {http: {...}} | {grpc: {...}}`. Invalid entries are skipped with an error, the rest
 * kept, as `IRHealthChecks` does.
 */
export function parseHealthChecks(value: unknown, field: string, err: ErrorSink): HealthCheck[] | undefined {
  if (!Array.isArray(value)) {
    err(field, `${field} must be a list, got ${describe(value)}`);
    return undefined;
  }
  const out: HealthCheck[] = [];
  value.forEach((hc, i) => {
    const f = `${field}[${i}]`;
    const check = parseHealthCheck(hc, f, err);
    if (check) out.push(check);
  });
  return out;
}

function parseHealthCheck(hc: unknown, f: string, err: ErrorSink): HealthCheck | undefined {
  if (!isPlainObject(hc)) {
    err(f, 'a health check must be a map; ignored');
    return undefined;
  }
  const timeoutMs = optionalDuration(hc, 'timeout', f, err, 3000);
  const intervalMs = optionalDuration(hc, 'interval', f, err, 5000);
  const healthy = optionalCount(hc, 'healthy_threshold', f, err, 1);
  const unhealthy = optionalCount(hc, 'unhealthy_threshold', f, err, 2);
  if (timeoutMs === undefined || intervalMs === undefined || healthy === undefined || unhealthy === undefined)
    return undefined;
  const spec = own(hc, 'health_check');
  const http = own(spec, 'http');
  const grpc = own(spec, 'grpc');
  if ((http === undefined) === (grpc === undefined)) {
    err(`${f}.health_check`, 'exactly one of health_check.http or health_check.grpc is required; ignored');
    return undefined;
  }
  const base = { timeoutMs, intervalMs, healthyThreshold: healthy, unhealthyThreshold: unhealthy };
  if (grpc !== undefined) {
    const authority = own(grpc, 'authority');
    const upstream = own(grpc, 'upstream_name');
    if (typeof authority !== 'string' || authority === '') {
      err(`${f}.health_check.grpc.authority`, 'authority is required; health check ignored');
      return undefined;
    }
    return {
      ...base,
      grpc: {
        authority,
        ...(typeof upstream === 'string' && upstream !== '' ? { serviceName: upstream } : {}),
      },
    };
  }
  const path = own(http, 'path');
  if (typeof path !== 'string' || path === '' || hasControlChars(path)) {
    err(`${f}.health_check.http.path`, 'path is required; health check ignored');
    return undefined;
  }
  const hostname = own(http, 'hostname');
  const add = own(http, 'add_request_headers');
  const remove = own(http, 'remove_request_headers');
  const addHeaders =
    add === undefined ? [] : parseHeadersToAdd(add, `${f}.health_check.http.add_request_headers`, err);
  const removeHeaders =
    remove === undefined
      ? []
      : parseHeaderNames(remove, `${f}.health_check.http.remove_request_headers`, err);
  const statuses = own(http, 'expected_statuses');
  const ranges: { start: number; end: number }[] = [];
  if (statuses !== undefined) {
    if (!Array.isArray(statuses)) {
      err(
        `${f}.health_check.http.expected_statuses`,
        'expected_statuses must be a list; health check ignored',
      );
      return undefined;
    }
    for (const s of statuses) {
      const min = own(s, 'min');
      const max = own(s, 'max');
      if (!isSafeInteger(min) || !isSafeInteger(max) || min < 100 || max >= 600 || max < min) {
        err(
          `${f}.health_check.http.expected_statuses`,
          'each status range needs integers 100 <= min <= max < 600; health check ignored',
        );
        return undefined;
      }
      // Envoy ranges are half-open [start, end).
      ranges.push({ start: min, end: max + 1 });
    }
  }
  if (!addHeaders || !removeHeaders) return undefined;
  return {
    ...base,
    http: {
      path,
      ...(typeof hostname === 'string' && hostname !== '' ? { host: hostname } : {}),
      addHeaders,
      removeHeaders,
      expectedStatuses: ranges,
    },
  };
}

function optionalDuration(
  obj: PlainObject,
  key: string,
  f: string,
  err: ErrorSink,
  dflt: number,
): number | undefined {
  const v = own(obj, key);
  if (v === undefined) return dflt;
  return readDurationText(v, `${f}.${key}`, err);
}

function optionalCount(
  obj: PlainObject,
  key: string,
  f: string,
  err: ErrorSink,
  dflt: number,
): number | undefined {
  const v = own(obj, key);
  if (v === undefined) return dflt;
  if (!isSafeInteger(v) || v < 0 || v > 0xffffffff) {
    err(`${f}.${key}`, `${key} must be a non-negative integer; health check ignored`);
    return undefined;
  }
  return v;
}

/**
 * `labels`: domain → list of {group name: [specifier…]}. Specifiers: the strings
 * `source_cluster`, `destination_cluster`, `remote_address`, or maps `{generic_key: {value, key?}}`,
 * `{request_headers: {header_name, key, omit_if_not_present?}}`, and the legacy shorthand
 * `{<key>: {header, omit_if_not_present?}}` / `{generic_key: "value"}`.
 */
export function parseLabels(value: unknown, field: string, err: ErrorSink): RateLimitLabels | undefined {
  if (!isPlainObject(value)) {
    err(field, `${field} must be a map of domain to label groups, got ${describe(value)}`);
    return undefined;
  }
  const out: RateLimitLabels = {};
  for (const [domain, groups] of Object.entries(value)) {
    if (!Array.isArray(groups)) {
      err(`${field}.${domain}`, `labels for domain ${domain} must be a list, got ${describe(groups)}`);
      return undefined;
    }
    const parsed: { name: string; actions: RateLimitAction[] }[] = [];
    for (const [i, g] of groups.entries()) {
      const f = `${field}.${domain}[${i}]`;
      if (!isPlainObject(g) || Object.keys(g).length !== 1) {
        err(f, 'each label group must be a map with exactly one entry (group name → specifiers)');
        return undefined;
      }
      const [name, specs] = Object.entries(g)[0]!;
      if (!Array.isArray(specs)) {
        err(`${f}.${name}`, `label group ${name} must be a list of specifiers`);
        return undefined;
      }
      const actions: RateLimitAction[] = [];
      for (const [j, s] of specs.entries()) {
        const action = parseLabelSpecifier(s);
        if (!action) {
          err(`${f}.${name}[${j}]`, `unknown rate-limit label specifier ${JSON.stringify(s) ?? describe(s)}`);
          return undefined;
        }
        actions.push(action);
      }
      parsed.push({ name, actions });
    }
    out[domain] = parsed;
  }
  return out;
}

function parseLabelSpecifier(s: unknown): RateLimitAction | undefined {
  if (s === 'source_cluster' || s === 'destination_cluster' || s === 'remote_address') return { kind: s };
  if (!isPlainObject(s) || Object.keys(s).length !== 1) return undefined;
  const [key, v] = Object.entries(s)[0]!;
  if (key === 'generic_key') {
    if (typeof v === 'string') return { kind: 'generic_key', value: v };
    const value = own(v, 'value');
    const k = own(v, 'key');
    if (typeof value !== 'string') return undefined;
    return { kind: 'generic_key', value, ...(typeof k === 'string' && k !== '' ? { key: k } : {}) };
  }
  if (key === 'request_headers') {
    const header = own(v, 'header_name');
    const k = own(v, 'key');
    const omit = own(v, 'omit_if_not_present');
    if (typeof header !== 'string' || typeof k !== 'string') return undefined;
    return { kind: 'request_headers', header, key: k, omitIfNotPresent: omit === true };
  }
  // Legacy shorthand: {<descriptor key>: {header: <name>, omit_if_not_present}}.
  const header = own(v, 'header');
  if (typeof header === 'string') {
    return { kind: 'request_headers', header, key, omitIfNotPresent: own(v, 'omit_if_not_present') === true };
  }
  return undefined;
}

function describe(v: unknown): string {
  return typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean'
    ? JSON.stringify(v)
    : describeType(v);
}
