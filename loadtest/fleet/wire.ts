/**
 * Just enough protobuf wire-format reading for the simulator to handle tens of thousands of
 * responses per second: the top-level fields of Discovery responses are read in place, and the
 * bytes of resources are only located (never copied or decoded) unless a version is new.
 */

/** A length-delimited field's payload, as a range of the parent buffer. */
export interface LenField {
  no: number;
  start: number;
  end: number;
}

const WT_VARINT = 0;
const WT_I64 = 1;
const WT_LEN = 2;
const WT_I32 = 5;

/** Reads a varint at `pos`; returns [value, next position]. Values above 2^53 lose precision. */
export function readVarint(buf: Uint8Array, pos: number): [number, number] {
  let value = 0;
  let mul = 1;
  for (;;) {
    if (pos >= buf.length) throw new Error('truncated varint');
    const b = buf[pos++] as number;
    value += (b & 0x7f) * mul;
    if (b < 0x80) return [value, pos];
    mul *= 128;
    if (mul > 2 ** 63) throw new Error('varint too long');
  }
}

/**
 * Every length-delimited field of the message in `buf[start, end)`, in wire order. Other wire
 * types are skipped: none of the fields the simulator reads use them.
 */
export function lenFields(buf: Uint8Array, start = 0, end = buf.length): LenField[] {
  const out: LenField[] = [];
  let pos = start;
  while (pos < end) {
    const [tag, p1] = readVarint(buf, pos);
    const no = Math.floor(tag / 8);
    const wt = tag & 7;
    pos = p1;
    if (wt === WT_LEN) {
      const [len, p2] = readVarint(buf, pos);
      if (p2 + len > end) throw new Error(`field ${no} overruns its message`);
      out.push({ no, start: p2, end: p2 + len });
      pos = p2 + len;
    } else if (wt === WT_VARINT) {
      pos = readVarint(buf, pos)[1];
    } else if (wt === WT_I64) {
      pos += 8;
    } else if (wt === WT_I32) {
      pos += 4;
    } else {
      throw new Error(`unsupported wire type ${wt} for field ${no}`);
    }
  }
  return out;
}

export function utf8(buf: Uint8Array, f: LenField): string {
  return Buffer.from(buf.buffer, buf.byteOffset + f.start, f.end - f.start).toString('utf8');
}

/** The field-tag-free encoding of a string field's payload: its length varint, then the bytes. */
export function lengthPrefixed(s: string): Buffer {
  const body = Buffer.from(s, 'utf8');
  const len: number[] = [];
  let n = body.length;
  while (n >= 0x80) {
    len.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  len.push(n);
  return Buffer.concat([Buffer.from(len), body]);
}
