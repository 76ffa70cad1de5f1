/**
 * Request-matching fields of a Mapping (emissary.md §1.2 "Header/host/method/query match"):
 * headers, regex_headers, query_parameters, regex_query_parameters, hostname/host/host_regex and
 * method/method_regex, collected into header conditions in Emissary's order.
 */
import { describeType, hasControlChars, isPlainObject } from './fields.ts';
import type { ErrorSink } from './mapping-policies.ts';
import { re2Problem } from './re2.ts';
import type { MappingHeader } from './types.ts';

/**
 * True when `re` is a pattern both RE2 (Envoy, grpc-js-xds: sources/re2.ts) and this checker
 * accept. Envoy NACKs a whole RouteConfiguration over one bad regex and a proxyless client drops
 * the whole route table, so a Mapping with an unusable regex is rejected here.
 */
export function isRe2Compatible(re: string): boolean {
  return regexProblem(re) === undefined;
}

/** Why `re` cannot be used as a Mapping regex, or undefined when it can. */
export function regexProblem(re: string): string | undefined {
  if (re === '') return 'the pattern is empty';
  if (hasControlChars(re)) return 'the pattern contains control characters';
  const rejected = re2Problem(re);
  if (rejected) return `RE2 rejects it: ${rejected}`;
  // Lookaround and back-references compile in JavaScript but not in RE2 (caught above); this
  // checker's own JavaScript use of the pattern must compile too.
  try {
    new RegExp(re, 'u');
    return undefined;
  } catch (err) {
    return `it is not a portable regular expression: ${err instanceof Error ? err.message : String(err)}`;
  }
}

/**
 * `headers` (exact; `true` = presence in v2) or `query_parameters`. A v2 `true` becomes the regex
 * `.*`, exactly as Emissary's v2 → v3alpha1 conversion rewrites it (`v2BoolHeaders`).
 */
export function parseExactMap(
  value: unknown,
  field: string,
  opts: { allowPresence: boolean; lowercase: boolean },
  err: ErrorSink,
): MappingHeader[] | undefined {
  return parseMap(value, field, opts, false, err);
}

/** `regex_headers` / `regex_query_parameters`: name → RE2 pattern. */
export function parseRegexMap(
  value: unknown,
  field: string,
  opts: { lowercase: boolean },
  err: ErrorSink,
): MappingHeader[] | undefined {
  return parseMap(value, field, { allowPresence: false, ...opts }, true, err);
}

function parseMap(
  value: unknown,
  field: string,
  opts: { allowPresence: boolean; lowercase: boolean },
  regex: boolean,
  err: ErrorSink,
): MappingHeader[] | undefined {
  if (value === undefined || value === null) return [];
  if (!isPlainObject(value)) {
    err(field, `${field} must be a map of name to value, got ${describeType(value)}`);
    return undefined;
  }
  const out = new Map<string, MappingHeader>();
  let ok = true;
  for (const [rawName, v] of Object.entries(value)) {
    const name = opts.lowercase ? rawName.toLowerCase() : rawName;
    const f = `${field}.${rawName}`;
    if (name === '' || hasControlChars(name) || /\s/.test(name)) {
      err(f, 'names must be non-empty and contain no spaces or control characters');
      ok = false;
    } else if (out.has(name)) {
      err(f, `${name} is listed twice${opts.lowercase ? ' (header names are case-insensitive)' : ''}`);
      ok = false;
    } else if (v === true && opts.allowPresence) {
      out.set(name, { name, value: '.*', regex: true });
    } else if (typeof v === 'string' && !hasControlChars(v) && (!regex || isRe2Compatible(v))) {
      out.set(name, regex ? { name, value: v, regex: true } : { name, value: v });
    } else {
      const why = regex && typeof v === 'string' ? regexProblem(v) : undefined;
      const expected = regex
        ? `an RE2 regular expression${why ? ` (${why})` : ''}`
        : opts.allowPresence
          ? 'a string or true'
          : 'a string';
      err(f, `value must be ${expected}, got ${typeof v === 'string' ? JSON.stringify(v) : describeType(v)}`);
      ok = false;
    }
  }
  if (!ok) return undefined;
  return [...out.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Validates a `hostname` / `host` glob: `*`, or one `*` only at the start or the end. */
export function checkHostGlob(h: unknown, field: string, err: ErrorSink): string | undefined {
  if (typeof h !== 'string') {
    err(field, `${field} must be a string, got ${describeType(h)}`);
    return undefined;
  }
  if (h === '' || hasControlChars(h) || /\s/.test(h)) {
    err(field, `${field} must be a host name or glob`);
    return undefined;
  }
  if (h !== '*' && (h.slice(1, -1).includes('*') || (h.startsWith('*') && h.endsWith('*')))) {
    err(field, `${field} "${h}" may contain a single "*" only at its start or end`);
    return undefined;
  }
  return h;
}
