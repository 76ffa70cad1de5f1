/**
 * Canonical form of JSON-like data: object keys sorted (UTF-16 code unit order), `undefined`
 * members dropped. Two objects with the same content have the same canonical JSON and the same
 * hash whatever order their keys were written in, so ingestors can publish only real changes.
 */
import { createHash } from 'node:crypto';

/** Returns a deep copy of `value` with every object's keys in sorted order. */
export function canonicalize<T>(value: T): T {
  return sortDeep(value) as T;
}

/** The canonical JSON text of `value`. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortDeep(value));
}

/** Hex SHA-256 of the canonical JSON of `value`: the content version of a source object. */
export function contentHash(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex');
}

function sortDeep(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortDeep);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort()) {
    const v = (value as Record<string, unknown>)[key];
    if (v !== undefined) out[key] = sortDeep(v);
  }
  return out;
}
