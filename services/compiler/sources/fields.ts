/**
 * Small readers for untrusted source objects. Nothing here throws: every reader returns either
 * the value or a problem description that the caller turns into a diagnostic naming the field.
 */

/** A plain JSON-like object (not an array, not null). */
export type PlainObject = Record<string, unknown>;

export function isPlainObject(v: unknown): v is PlainObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

/** Reads `obj[key]` only when `obj` is a plain object and owns the key (no prototype lookups). */
export function own(obj: unknown, key: string): unknown {
  if (!isPlainObject(obj) || !Object.hasOwn(obj, key)) return undefined;
  return obj[key];
}

/** A string that is safe to place in an HTTP header, path or name: no NUL, CR or LF. */
export function hasControlChars(s: string): boolean {
  return /[\0\r\n]/.test(s);
}

/** Short human description of a value's type for diagnostics ("a number", "a list", …). */
export function describeType(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (v instanceof Uint8Array) return 'binary data';
  switch (typeof v) {
    case 'string':
      return 'a string';
    case 'number':
      return 'a number';
    case 'boolean':
      return 'a boolean';
    case 'object':
      return 'a map';
    default:
      return typeof v;
  }
}

/** True for a finite integer within the safe-integer range. */
export function isSafeInteger(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v);
}
