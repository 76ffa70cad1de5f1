/**
 * Route grouping key and ordering (emissary.md §2.1, §2.3). The ordering tuple is Emissary's
 * `_route_weight`: [precedence, len(prefix), Σ header lengths, Σ query lengths, prefix, method,
 * header keys…]; a header's length is len(name) + len(value or "*") and the hostname counts as an
 * `:authority` header (`:method` too) — `hostname: "*"` included, as in Emissary, so a `*` Mapping
 * with a header can outrank a host-specific one with the same prefix. Only a Mapping that names no
 * host at all has no `:authority`. Groups are emitted in descending tuple order.
 */
import type { MappingHeader, MappingSpec } from '../sources/types.ts';

export type OrderTuple = readonly (string | number)[];

/**
 * Mappings with equal keys form one group and split its traffic (irhttpmapping.py `_group_id`).
 * A host-less Mapping and a `hostname: "*"` one never share a group (the latter has an
 * `:authority` condition). `hostSelectorLabels` is Emissary's extra group-id input for a Mapping
 * without an exact host: the matchLabels of every Host whose mappingSelector selects it
 * (ir/host-selection.ts `hostSelectorLabels`).
 */
export function groupKey(m: MappingSpec, hostSelectorLabels = ''): string {
  const conds = (list: readonly MappingHeader[]) => list.map((h) => [h.name, h.value, h.regex === true]);
  return JSON.stringify([
    m.prefix,
    conds(m.headers),
    m.hostless ? null : m.hostname,
    m.hostRegex,
    conds(m.queryParameters),
    m.precedence,
    hostSelectorLabels,
  ]);
}

/**
 * The Mapping's header conditions in Emissary's order (headers, regex_headers, `:authority`,
 * `:method`), with `regex` flags. `:authority` is present whenever the Mapping names a host, `*`
 * included (the route match drops `*` again: build-ir.ts `headerMatches`).
 */
export function orderedHeaders(m: MappingSpec): MappingHeader[] {
  const method = m.headers.filter((h) => h.name === ':method');
  const rest = m.headers.filter((h) => h.name !== ':method');
  const authority: MappingHeader[] = m.hostless
    ? []
    : [{ name: ':authority', value: m.hostname, ...(m.hostRegex ? { regex: true } : {}) }];
  return [...rest, ...authority, ...method];
}

export function orderTuple(m: MappingSpec): OrderTuple {
  const headers = orderedHeaders(m);
  return [
    m.precedence,
    codePoints(m.prefix),
    totalLength(headers),
    totalLength(m.queryParameters),
    m.prefix,
    'GET',
    ...headers.map(conditionKey),
    ...m.queryParameters.map(conditionKey),
  ];
}

/** Emissary's `length()`: len(name) + len(value or "*") + 1 for a regex. */
function totalLength(list: readonly MappingHeader[]): number {
  return list.reduce((n, h) => n + codePoints(h.name) + codePoints(valueText(h)) + (h.regex ? 1 : 0), 0);
}

function conditionKey(h: MappingHeader): string {
  return `${h.name}-${valueText(h)}`;
}

function valueText(h: MappingHeader): string {
  return h.value === true || h.value === '' ? '*' : h.value;
}

/** Lexicographic comparison with Python list semantics (a proper prefix sorts first). */
export function compareTuples(a: OrderTuple, b: OrderTuple): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x === y) continue;
    if (typeof x === 'number' && typeof y === 'number') return x < y ? -1 : 1;
    return String(x) < String(y) ? -1 : 1;
  }
  return a.length - b.length;
}

/** Python's len(): code points, as the string iterator counts them (a lone surrogate is one). */
function codePoints(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length - 1; i++) {
    const c = s.charCodeAt(i);
    if (c < 0xd800 || c > 0xdbff) continue;
    const d = s.charCodeAt(i + 1);
    if (d >= 0xdc00 && d <= 0xdfff) {
      n--;
      i++;
    }
  }
  return n;
}
