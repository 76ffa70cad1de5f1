/**
 * Splits the bytes of a YAML file into document ranges without parsing it, so a change to one
 * document of a large file re-parses that document only.
 *
 * A range starts at a document marker — a line beginning with `---` followed by a space, a tab,
 * or the end of the line — or at the start of the file, and ends where the next one starts. YAML
 * 1.2 forbids such a line inside any node (`c-forbidden`, spec 9.1.4), so the split never cuts
 * through a document; kubectl splits multi-document files the same way. Files with directives
 * (a line starting with `%`, which applies to the document after it) are one range: the parse of
 * the whole file settles them. Pure: no I/O.
 */

const NL = 0x0a;

/** Byte offsets `[start, end)` of one range and its 0-based first line. */
export interface DocumentRange {
  start: number;
  end: number;
  line: number;
}

/**
 * The ranges of `bytes[from, to)`, where `from` is 0 or the start of a marker line and `to` is the
 * end of the buffer or the start of a marker line; `line` is the 0-based line of `from`. Ranges
 * are contiguous and cover `[from, to)`; an empty input is one empty range.
 */
export function splitDocuments(bytes: Uint8Array, from = 0, to = bytes.length, line = 0): DocumentRange[] {
  const buf = asBuffer(bytes);
  const starts = [from];
  for (let j = buf.indexOf('\n---', from); j >= 0 && j + 1 < to; j = buf.indexOf('\n---', j + 1)) {
    if (isMarkerEnd(buf, j + 4)) starts.push(j + 1);
  }
  const out: DocumentRange[] = [];
  let l = line;
  let at = from;
  starts.forEach((start, k) => {
    l += countNewlines(buf, at, start);
    at = start;
    out.push({ start, end: starts[k + 1] ?? to, line: l });
  });
  return out;
}

/** Whether a line of `bytes` starts with `%` (a directive), looking only at `bytes[from, to)`. */
export function hasDirective(bytes: Uint8Array, from = 0, to = bytes.length): boolean {
  const buf = asBuffer(bytes).subarray(from, to);
  return (from === 0 && buf[0] === 0x25) || buf.indexOf('\n%') >= 0;
}

/** Whether offset `k` ends a `---` marker: a space, tab, CR, LF, or the end of the buffer. */
function isMarkerEnd(buf: Buffer, k: number): boolean {
  if (k >= buf.length) return true;
  const c = buf[k];
  return c === 0x20 || c === 0x09 || c === 0x0d || c === NL;
}

function asBuffer(b: Uint8Array): Buffer {
  return Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

/** Newlines in `bytes[from, to)`. */
export function countNewlines(bytes: Uint8Array, from: number, to: number): number {
  const buf = asBuffer(bytes);
  let n = 0;
  let i = buf.indexOf(NL, from);
  while (i >= 0 && i < to) {
    n++;
    i = buf.indexOf(NL, i + 1);
  }
  return n;
}
