/**
 * Route grouping key and ordering (emissary.md §2.1, §2.3). The ordering tuple is Emissary's
 * `_route_weight`: [precedence, len(prefix), Σ header lengths, Σ query lengths, prefix, method,
 * header keys…]; a header's length is len(name) + len(value or "*") and the hostname counts as an
 * `:authority` header. Groups are emitted in descending tuple order.
 */
import type { MappingSpec } from '../sources/types.ts';

export type OrderTuple = readonly (string | number)[];

/** Mappings with equal keys form one group and split its traffic. */
export function groupKey(m: MappingSpec): string {
  return JSON.stringify([m.prefix, m.headers.map((h) => [h.name, h.value]), m.hostname, m.precedence]);
}

export function orderTuple(m: MappingSpec): OrderTuple {
  const headers: [string, string][] = m.headers.map((h) => [h.name, h.value === true ? '*' : h.value]);
  if (m.hostname !== '*') headers.push([':authority', m.hostname]);
  const headerLength = headers.reduce((n, [name, value]) => n + codePoints(name) + codePoints(value), 0);
  return [
    m.precedence,
    codePoints(m.prefix),
    headerLength,
    0,
    m.prefix,
    'GET',
    ...headers.map(([n, v]) => `${n}-${v}`),
  ];
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

function codePoints(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}
