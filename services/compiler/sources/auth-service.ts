/**
 * `AuthService` (irauth.py): the external authorization service every request is checked with,
 * over HTTP or the gRPC Authorization API (v3 only: `protocol_version` v2 is reported).
 */
import type { Diagnostic } from '../contracts.ts';
import { diagnosticSink } from './diagnostic-sink.ts';
import { describeType, hasControlChars, isPlainObject, isSafeInteger, own } from './fields.ts';
import { parseServiceRef } from './service-ref.ts';
import type { ErrorSink } from './tls-context.ts';
import type { SourceRef } from './types.ts';
import type { AuthServiceSpec } from './types-edge.ts';

const NOT_GENERATED = ['tls', 'add_linkerd_headers', 'circuit_breakers', 'stats_name', 'add_auth_headers'];

export function parseAuthService(
  spec: unknown,
  source: SourceRef,
  diagnostics: Diagnostic[],
): AuthServiceSpec | undefined {
  const sink = diagnosticSink(source, diagnostics);
  const { err, warn } = sink;
  if (!isPlainObject(spec)) {
    err('spec', `spec must be a map, got ${describeType(spec)}`);
    return undefined;
  }
  const service = own(spec, 'auth_service');
  let target: AuthServiceSpec['target'] | undefined;
  if (typeof service !== 'string' || service === '' || hasControlChars(service))
    err('auth_service', 'auth_service is required');
  else {
    const parsed = parseServiceRef(service, source.namespace);
    if (parsed.ok) target = parsed.target;
    else err('auth_service', `auth_service "${service}": ${parsed.message}`);
  }
  const protoValue = own(spec, 'proto') ?? 'http';
  if (protoValue !== 'http' && protoValue !== 'grpc') err('proto', 'proto must be http or grpc');
  const proto = protoValue === 'grpc' ? 'grpc' : 'http';
  const pv = own(spec, 'protocol_version');
  if (pv !== undefined && pv !== null && pv !== 'v3') {
    err(
      'protocol_version',
      `protocol_version ${JSON.stringify(pv)} is not supported; only v3 (Envoy v3 API)`,
    );
  }

  let pathPrefix = '';
  const pp = own(spec, 'path_prefix');
  if (typeof pp === 'string' && !hasControlChars(pp)) pathPrefix = pp;
  else if (pp !== undefined && pp !== null) err('path_prefix', 'path_prefix must be a string');
  if (pathPrefix !== '' && !pathPrefix.startsWith('/')) pathPrefix = `/${pathPrefix}`;

  const timeoutMs = millis(own(spec, 'timeout_ms'), 5000, 'timeout_ms', err);
  const allowedRequestHeaders = headerList(
    own(spec, 'allowed_request_headers'),
    'allowed_request_headers',
    err,
  );
  const allowedAuthorizationHeaders = headerList(
    own(spec, 'allowed_authorization_headers'),
    'allowed_authorization_headers',
    err,
  );

  let failureModeAllow = false;
  const fma = own(spec, 'failure_mode_allow');
  if (typeof fma === 'boolean') failureModeAllow = fma;
  else if (fma !== undefined && fma !== null)
    err('failure_mode_allow', 'failure_mode_allow must be a boolean');

  let includeBody: AuthServiceSpec['includeBody'];
  const ib = own(spec, 'include_body');
  if (isPlainObject(ib)) {
    const max = own(ib, 'max_bytes');
    const partial = own(ib, 'allow_partial');
    if (!isSafeInteger(max) || max < 1 || max > 0xffffffff)
      err('include_body.max_bytes', 'max_bytes must be a positive integer');
    else if (partial !== undefined && typeof partial !== 'boolean')
      err('include_body.allow_partial', 'allow_partial must be a boolean');
    else includeBody = { maxBytes: max, allowPartial: partial === true };
  } else if (ib !== undefined && ib !== null) {
    err('include_body', 'include_body must be a map with max_bytes and allow_partial');
  } else if (own(spec, 'allow_request_body') === true) {
    // Emissary's legacy switch: buffer up to 4 KiB, partial bodies allowed.
    includeBody = { maxBytes: 4096, allowPartial: true };
  }

  let statusOnError = 403;
  const soe = own(own(spec, 'status_on_error'), 'code');
  if (isSafeInteger(soe) && soe >= 100 && soe <= 599) statusOnError = soe;
  else if (soe !== undefined && soe !== null)
    err('status_on_error.code', 'status_on_error.code must be an HTTP status code');

  let resolver: string | undefined;
  const r = own(spec, 'resolver');
  if (typeof r === 'string' && r !== '') resolver = r;

  for (const key of NOT_GENERATED) {
    if (own(spec, key) !== undefined && own(spec, key) !== null)
      warn(key, `${key} is not generated yet; ignored`);
  }
  if (sink.failed || !target || typeof service !== 'string') return undefined;
  return {
    source,
    service,
    target,
    proto,
    pathPrefix,
    timeoutMs,
    allowedRequestHeaders,
    allowedAuthorizationHeaders,
    failureModeAllow,
    ...(includeBody ? { includeBody } : {}),
    statusOnError,
    ...(resolver ? { resolver } : {}),
  };
}

export function millis(value: unknown, fallback: number, field: string, err: ErrorSink): number {
  if (value === undefined || value === null) return fallback;
  if (isSafeInteger(value) && value >= 0 && value <= 315_576_000_000_000) return value;
  err(field, `${field} must be a non-negative integer (milliseconds), got ${describeType(value)}`);
  return fallback;
}

function headerList(value: unknown, field: string, err: ErrorSink): string[] {
  if (value === undefined || value === null) return [];
  if (
    !Array.isArray(value) ||
    !value.every((h) => typeof h === 'string' && /^[!#$%&'*+.^_`|~0-9A-Za-z:-]+$/.test(h))
  ) {
    err(field, `${field} must be a list of header names`);
    return [];
  }
  return (value as string[]).map((h) => h.toLowerCase());
}
