/**
 * Reading encoded protobuf by tags and lengths only, allocating nothing: what walks over
 * thousands of routes per change use (route-chunks.ts finding cut points, encode.ts finding the
 * routes a splice replaces). The functions return -1 for bytes they cannot read and leave their
 * second result in {@link scan}, so a walk keeps no tuple per field.
 */

/** Where the last {@link varintAt} ended, and where the last {@link fieldEnd}'s field body began. */
export const scan = { next: 0, body: 0 };

/** The varint at `o` (then `scan.next` is past it), or -1 if truncated or longer than 10 bytes. */
export function varintAt(bytes: Uint8Array, o: number): number {
  let value = 0;
  let scale = 1;
  for (let i = o; i < bytes.length && i < o + 10; i++) {
    const b = bytes[i] as number;
    value += (b & 0x7f) * scale;
    if (b < 0x80) {
      scan.next = i + 1;
      return value;
    }
    scale *= 128;
  }
  return -1;
}

/**
 * The end of a field of wire type `wire` whose body starts at `o` (then `scan.body` is where its
 * payload starts: after the length of a length-delimited field), or -1. The end may lie past the
 * bytes: the caller checks it against its bounds.
 */
export function fieldEnd(bytes: Uint8Array, o: number, wire: number): number {
  scan.body = o;
  if (wire === 0) return varintAt(bytes, o) < 0 ? -1 : scan.next;
  if (wire === 1) return o + 8;
  if (wire === 5) return o + 4;
  if (wire !== 2) return -1;
  const len = varintAt(bytes, o);
  if (len < 0) return -1;
  scan.body = scan.next;
  return scan.next + len;
}
