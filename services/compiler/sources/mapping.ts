/**
 * Parses and validates one Mapping (getambassador.io v2 / v3alpha1, x.getambassador.io
 * AmbassadorMapping) for the fields this compiler supports (emissary.md §1.2). Every problem is
 * reported with the field it concerns; a Mapping with any error is skipped as a whole. Fields not
 * supported yet are ignored.
 */
import type { Diagnostic } from '../compile.ts';
import { describeType, hasControlChars, isPlainObject, isSafeInteger, own } from './fields.ts';
import { parseServiceRef } from './service-ref.ts';
import type { MappingHeader, MappingSpec, SourceRef } from './types.ts';

/** Emissary's default route timeout (Module `cluster_request_timeout_ms`). */
export const DEFAULT_TIMEOUT_MS = 3000;

/** Duration fields are bounded so every value fits a protobuf Duration. */
const MAX_TIMEOUT_MS = 315_576_000_000_000;

export interface MappingInput {
  /** The object's `spec` (untrusted). */
  spec: unknown;
  /** apiVersion of the object: v2 allows `true` header values (presence). */
  apiVersion: string;
  source: SourceRef;
  sourceHash: string;
}

export function parseMapping(input: MappingInput): { mapping?: MappingSpec; diagnostics: Diagnostic[] } {
  const diagnostics: Diagnostic[] = [];
  const error = (field: string, message: string): void => {
    diagnostics.push({ severity: 'error', source: input.source, field, message });
  };
  const spec = input.spec;
  if (!isPlainObject(spec)) {
    error('spec', `spec must be a map, got ${describeType(spec)}`);
    return { diagnostics };
  }
  const present = (key: string): boolean => own(spec, key) !== undefined && own(spec, key) !== null;

  const prefix = requiredText(spec, 'prefix', error);
  const service = requiredText(spec, 'service', error);
  let target: MappingSpec['target'] | undefined;
  if (service !== undefined) {
    const parsed = parseServiceRef(service, input.source.namespace);
    if (parsed.ok) target = parsed.target;
    else error('service', `service "${service}": ${parsed.message}`);
  }

  let weight: number | undefined;
  if (present('weight')) {
    const w = own(spec, 'weight');
    if (!isSafeInteger(w) || w < 0 || w > 100) {
      error('weight', `weight must be an integer from 0 to 100, got ${JSON.stringify(w) ?? describeType(w)}`);
    } else weight = w;
  }

  const headers = parseHeaders(own(spec, 'headers'), input.apiVersion === 'getambassador.io/v2', error);

  let hostname = '*';
  const hostField = present('hostname') ? 'hostname' : present('host') ? 'host' : undefined;
  const hostRegex = own(spec, 'host_regex') === true;
  if (hostField && !hostRegex) {
    const h = own(spec, hostField);
    if (typeof h !== 'string') error(hostField, `${hostField} must be a string, got ${describeType(h)}`);
    else if (h === '' || hasControlChars(h) || /\s/.test(h))
      error(hostField, `${hostField} must be a host name or glob`);
    else if (h !== '*' && (h.slice(1, -1).includes('*') || (h.startsWith('*') && h.endsWith('*')))) {
      error(hostField, `${hostField} "${h}" may contain a single "*" only at its start or end`);
    } else hostname = h;
  }
  if (hostRegex) {
    error(
      'host_regex',
      'host_regex is not supported yet; the Mapping is skipped rather than matched literally',
    );
  }

  let rewrite: string | undefined = '/';
  if (present('rewrite')) {
    const r = own(spec, 'rewrite');
    if (typeof r !== 'string') error('rewrite', `rewrite must be a string, got ${describeType(r)}`);
    else if (hasControlChars(r)) error('rewrite', 'rewrite must not contain control characters');
    else rewrite = r === '' ? undefined : r;
  }

  let timeoutMs = DEFAULT_TIMEOUT_MS;
  if (present('timeout_ms')) {
    const t = own(spec, 'timeout_ms');
    if (!isSafeInteger(t) || t < 0 || t > MAX_TIMEOUT_MS) {
      error('timeout_ms', `timeout_ms must be a non-negative integer (milliseconds), got ${describeType(t)}`);
    } else timeoutMs = t;
  }

  let precedence = 0;
  if (present('precedence')) {
    const p = own(spec, 'precedence');
    if (!isSafeInteger(p)) error('precedence', `precedence must be an integer, got ${describeType(p)}`);
    else precedence = p;
  }

  if (diagnostics.length > 0 || prefix === undefined || service === undefined || !target || !headers) {
    return { diagnostics };
  }
  return {
    diagnostics,
    mapping: {
      source: input.source,
      sourceHash: input.sourceHash,
      prefix,
      service,
      target,
      weight,
      headers,
      hostname,
      rewrite,
      timeoutMs,
      precedence,
    },
  };
}

function requiredText(
  spec: Record<string, unknown>,
  key: string,
  error: (field: string, message: string) => void,
): string | undefined {
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

function parseHeaders(
  value: unknown,
  allowPresence: boolean,
  error: (field: string, message: string) => void,
): MappingHeader[] | undefined {
  if (value === undefined || value === null) return [];
  if (!isPlainObject(value)) {
    error('headers', `headers must be a map of header name to value, got ${describeType(value)}`);
    return undefined;
  }
  const out = new Map<string, MappingHeader>();
  let ok = true;
  for (const [rawName, v] of Object.entries(value)) {
    const name = rawName.toLowerCase();
    const field = `headers.${rawName}`;
    if (name === '' || hasControlChars(name) || /\s/.test(name)) {
      error(field, 'header names must be non-empty and contain no spaces or control characters');
      ok = false;
    } else if (out.has(name)) {
      error(field, `header ${name} is listed twice (header names are case-insensitive)`);
      ok = false;
    } else if (v === true && allowPresence) {
      out.set(name, { name, value: true });
    } else if (typeof v === 'string' && !hasControlChars(v)) {
      out.set(name, { name, value: v });
    } else {
      const expected = allowPresence ? 'a string or true' : 'a string';
      error(field, `header value must be ${expected}, got ${describeType(v)}`);
      ok = false;
    }
  }
  if (!ok) return undefined;
  return [...out.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
