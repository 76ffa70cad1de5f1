/**
 * The value-level rule families of protoc-gen-validate: numbers, bool, enum, string, bytes,
 * Duration/Timestamp and Any type URLs. Each check takes one family's rules and one decoded value
 * and returns the violations as short phrases ("must be > 0"); the walker adds the path. Rules this
 * module cannot evaluate faithfully (an untranslatable RE2 pattern, `lt_now`, …) are reported to
 * `skipped` and not enforced.
 */
import { isIP } from 'node:net';
import type protobuf from 'protobufjs';
import { re2ToRegExp } from './pgv-regex.ts';

type Rules = Record<string, unknown>;

/** Receives the name of every rule that was present but could not be evaluated. */
export type SkipSink = (rule: string) => void;

const INT64 = new Set(['int64', 'uint64', 'sint64', 'fixed64', 'sfixed64']);
export const NUMERIC_FAMILIES = new Set([
  'int32',
  'uint32',
  'sint32',
  'fixed32',
  'sfixed32',
  'float',
  'double',
  ...INT64,
]);

/** PGV's header regexes: strict per RFC 7230, and the loose form (`strict: false`) Envoy uses. */
const HEADER_NAME_STRICT = /^:?[0-9a-zA-Z!#$%&'*+\-.^_|~`]+$/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: the rule is defined by control characters
const HEADER_VALUE_STRICT = /^[^\u0000-\u0008\u000A-\u001F\u007F]*$/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: the rule is defined by control characters
const HEADER_LOOSE = /^[^\u0000\u000A\u000D]*$/;
const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

/** Code points of a string (a lone surrogate counts as one, as string iteration counts it). */
function codePoints(value: string): number {
  let n = value.length;
  for (let i = 0; i < value.length - 1; i++) {
    const c = value.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = value.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n--;
        i++;
      }
    }
  }
  return n;
}

function list(v: unknown): unknown[] {
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}

function show(v: unknown): string {
  return typeof v === 'bigint' ? v.toString() : JSON.stringify(v);
}

/** Proto integers (numbers, strings, protobufjs Longs) as bigint. */
export function toBig(v: unknown): bigint {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number') return BigInt(Math.trunc(v));
  if (typeof v === 'string') return BigInt(v);
  if (v && typeof v === 'object' && 'low' in v) return BigInt(String(v));
  return 0n;
}

type Num = number | bigint;

/**
 * const / lt / lte / gt / gte / in / not_in over any ordered value (shared by numbers and durations).
 * Runs for every checked number of every resource, nearly always finding nothing: the texts are
 * built only for a violation, and absent rules cost nothing.
 */
function ordered(rules: Rules, value: Num, conv: (v: unknown) => Num, fmt: (v: Num) => string): string[] {
  const out: string[] = [];
  if (rules.const !== undefined && value !== conv(rules.const))
    out.push(`must equal ${fmt(conv(rules.const))}`);
  const lowRule = rules.gt !== undefined ? 'gt' : rules.gte !== undefined ? 'gte' : undefined;
  const highRule = rules.lt !== undefined ? 'lt' : rules.lte !== undefined ? 'lte' : undefined;
  if (lowRule !== undefined || highRule !== undefined) {
    const low = lowRule ? conv(rules[lowRule]) : undefined;
    const high = highRule ? conv(rules[highRule]) : undefined;
    const lowOk = low === undefined || (lowRule === 'gt' ? value > low : value >= low);
    const highOk = high === undefined || (highRule === 'lt' ? value < high : value <= high);
    if (!lowOk || !highOk) {
      const lowText = low === undefined ? '' : `${lowRule === 'gt' ? '>' : '>='} ${fmt(low)}`;
      const highText = high === undefined ? '' : `${highRule === 'lt' ? '<' : '<='} ${fmt(high)}`;
      if (low !== undefined && high !== undefined && low > high) {
        // PGV: a lower bound above the upper bound means "outside the range".
        if (!lowOk && !highOk) out.push(`must be ${lowText} or ${highText}`);
      } else {
        out.push(`must be ${[lowText, highText].filter(Boolean).join(' and ')}`);
      }
    }
  }
  if (rules.in !== undefined) {
    const allowed = list(rules.in).map(conv);
    if (allowed.length > 0 && !allowed.includes(value))
      out.push(`must be one of [${allowed.map(fmt).join(', ')}]`);
  }
  if (rules.not_in !== undefined) {
    const banned = list(rules.not_in).map(conv);
    if (banned.includes(value)) out.push(`must not be one of [${banned.map(fmt).join(', ')}]`);
  }
  return out;
}

export function checkNumber(family: string, rules: Rules, raw: unknown): string[] {
  if (INT64.has(family)) {
    const value = toBig(raw);
    if (rules.ignore_empty === true && value === 0n) return [];
    return ordered(rules, value, toBig, String);
  }
  const value = Number(raw);
  if (rules.ignore_empty === true && value === 0) return [];
  return ordered(rules, value, Number, String);
}

export function checkBool(rules: Rules, value: unknown): string[] {
  return rules.const !== undefined && Boolean(value) !== rules.const
    ? [`must equal ${show(rules.const)}`]
    : [];
}

export function checkEnum(rules: Rules, raw: unknown, type: protobuf.Enum | undefined): string[] {
  const value = Number(raw);
  // Envoy's enum rules are nearly all `defined_only` alone: no comparison to set up then.
  const out =
    rules.const === undefined && rules.in === undefined && rules.not_in === undefined
      ? []
      : ordered(
          { const: rules.const, in: rules.in, not_in: rules.not_in },
          value,
          enumNumber(type),
          (v: Num) => `${type?.valuesById[Number(v)] ?? v}`,
        );
  if (rules.defined_only === true && type && type.valuesById[value] === undefined)
    out.push(`must be a defined ${type.name} value (got ${value})`);
  return out;
}

function enumNumber(type: protobuf.Enum | undefined): (v: unknown) => number {
  return (v) => (typeof v === 'string' && type && type.values[v] !== undefined ? type.values[v]! : Number(v));
}

export function checkString(rules: Rules, raw: unknown, skipped: SkipSink): string[] {
  const value = typeof raw === 'string' ? raw : '';
  if (rules.ignore_empty === true && value === '') return [];
  const out: string[] = [];
  // Counted only for the rules that need them (every generated name is checked): code points as
  // `[...value].length` counts them, UTF-8 bytes as TextEncoder writes them.
  const chars =
    rules.len !== undefined || rules.min_len !== undefined || rules.max_len !== undefined
      ? codePoints(value)
      : 0;
  const bytes =
    rules.len_bytes !== undefined || rules.min_bytes !== undefined || rules.max_bytes !== undefined
      ? Buffer.byteLength(value, 'utf8')
      : 0;
  if (rules.const !== undefined && value !== rules.const) out.push(`must equal ${show(rules.const)}`);
  if (rules.len !== undefined && chars !== Number(rules.len))
    out.push(`must be ${rules.len} character(s) long`);
  if (rules.min_len !== undefined && chars < Number(rules.min_len))
    out.push(`must be at least ${rules.min_len} character(s) long`);
  if (rules.max_len !== undefined && chars > Number(rules.max_len))
    out.push(`must be at most ${rules.max_len} character(s) long`);
  if (rules.len_bytes !== undefined && bytes !== Number(rules.len_bytes))
    out.push(`must be ${rules.len_bytes} bytes long`);
  if (rules.min_bytes !== undefined && bytes < Number(rules.min_bytes))
    out.push(`must be at least ${rules.min_bytes} bytes long`);
  if (rules.max_bytes !== undefined && bytes > Number(rules.max_bytes))
    out.push(`must be at most ${rules.max_bytes} bytes long`);
  if (typeof rules.prefix === 'string' && !value.startsWith(rules.prefix))
    out.push(`must start with ${show(rules.prefix)}`);
  if (typeof rules.suffix === 'string' && !value.endsWith(rules.suffix))
    out.push(`must end with ${show(rules.suffix)}`);
  if (typeof rules.contains === 'string' && !value.includes(rules.contains))
    out.push(`must contain ${show(rules.contains)}`);
  if (typeof rules.not_contains === 'string' && value.includes(rules.not_contains))
    out.push(`must not contain ${show(rules.not_contains)}`);
  if (rules.in !== undefined) {
    const allowed = list(rules.in);
    if (allowed.length > 0 && !allowed.includes(value)) out.push(`must be one of ${show(allowed)}`);
  }
  if (rules.not_in !== undefined && list(rules.not_in).includes(value))
    out.push(`must not be one of ${show(list(rules.not_in))}`);
  if (typeof rules.pattern === 'string') {
    const re = re2ToRegExp(rules.pattern);
    if (!re) skipped(`string.pattern ${rules.pattern}`);
    else if (!re.test(value)) out.push(`must match the pattern ${show(rules.pattern)}`);
  }
  const wellKnown = wellKnownString(rules, value, skipped);
  if (wellKnown.length > 0) out.push(...wellKnown);
  return out;
}

function wellKnownString(rules: Rules, value: string, skipped: SkipSink): string[] {
  const out: string[] = [];
  if (rules.ip === true && isIP(value) === 0) out.push('must be an IP address');
  if (rules.ipv4 === true && isIP(value) !== 4) out.push('must be an IPv4 address');
  if (rules.ipv6 === true && isIP(value) !== 6) out.push('must be an IPv6 address');
  if (rules.hostname === true && !isHostname(value)) out.push('must be a valid hostname');
  if (rules.address === true && isIP(value) === 0 && !isHostname(value))
    out.push('must be a valid hostname or IP address');
  if (rules.uuid === true && !UUID.test(value)) out.push('must be a UUID');
  if (rules.uri === true && !isAbsoluteUri(value)) out.push('must be an absolute URI');
  if (rules.email === true) skipped('string.email');
  if (rules.uri_ref === true) skipped('string.uri_ref');
  const wkr = rules.well_known_regex;
  if (wkr !== undefined) {
    const strict = rules.strict !== false;
    const name = typeof wkr === 'number' ? ['UNKNOWN', 'HTTP_HEADER_NAME', 'HTTP_HEADER_VALUE'][wkr] : wkr;
    const re =
      name === 'HTTP_HEADER_NAME'
        ? strict
          ? HEADER_NAME_STRICT
          : HEADER_LOOSE
        : name === 'HTTP_HEADER_VALUE'
          ? strict
            ? HEADER_VALUE_STRICT
            : HEADER_LOOSE
          : undefined;
    if (!re) skipped(`string.well_known_regex ${String(wkr)}`);
    else if (!re.test(value))
      out.push(`must be a valid ${name === 'HTTP_HEADER_NAME' ? 'HTTP header name' : 'HTTP header value'}`);
  }
  return out;
}

function isHostname(value: string): boolean {
  const host = value.endsWith('.') ? value.slice(0, -1) : value;
  if (host.length === 0 || host.length > 253) return false;
  return host
    .split('.')
    .every((l) => l.length > 0 && l.length <= 63 && /^[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?$/.test(l));
}

function isAbsoluteUri(value: string): boolean {
  try {
    return new URL(value).protocol.length > 1;
  } catch {
    return false;
  }
}

export function checkBytes(rules: Rules, raw: unknown, skipped: SkipSink): string[] {
  const value = raw instanceof Uint8Array ? raw : new Uint8Array();
  if (rules.ignore_empty === true && value.length === 0) return [];
  const out: string[] = [];
  if (rules.len !== undefined && value.length !== Number(rules.len))
    out.push(`must be ${rules.len} bytes long`);
  if (rules.min_len !== undefined && value.length < Number(rules.min_len))
    out.push(`must be at least ${rules.min_len} bytes long`);
  if (rules.max_len !== undefined && value.length > Number(rules.max_len))
    out.push(`must be at most ${rules.max_len} bytes long`);
  if (rules.ip === true && value.length !== 4 && value.length !== 16)
    out.push('must be an IP address (4 or 16 bytes)');
  if (rules.ipv4 === true && value.length !== 4) out.push('must be an IPv4 address (4 bytes)');
  if (rules.ipv6 === true && value.length !== 16) out.push('must be an IPv6 address (16 bytes)');
  for (const r of ['const', 'pattern', 'prefix', 'suffix', 'contains', 'in', 'not_in'])
    if (rules[r] !== undefined) skipped(`bytes.${r}`);
  return out;
}

/** A Duration or Timestamp (decoded message or rule value) as total nanoseconds. */
export function toNanos(v: unknown): bigint {
  const o = (v ?? {}) as { seconds?: unknown; nanos?: unknown };
  return toBig(o.seconds ?? 0) * 1_000_000_000n + toBig(o.nanos ?? 0);
}

function showDuration(v: Num): string {
  const n = BigInt(v);
  if (n % 1_000_000_000n === 0n) return `${n / 1_000_000_000n}s`;
  if (n % 1_000_000n === 0n) return `${n / 1_000_000n}ms`;
  return `${n}ns`;
}

export function checkDuration(rules: Rules, value: unknown, skipped: SkipSink): string[] {
  for (const r of ['lt_now', 'gt_now', 'within']) if (rules[r] !== undefined) skipped(`timestamp.${r}`);
  return ordered(rules, toNanos(value), toNanos, showDuration);
}

export function checkAnyType(rules: Rules, typeUrl: string): string[] {
  const out: string[] = [];
  const allowed = list(rules.in);
  if (allowed.length > 0 && !allowed.includes(typeUrl))
    out.push(`type ${typeUrl} must be one of ${show(allowed)}`);
  if (list(rules.not_in).includes(typeUrl)) out.push(`type ${typeUrl} is not allowed here`);
  return out;
}
