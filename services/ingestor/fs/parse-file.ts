/**
 * Parses the bytes of one YAML file into source objects, one per non-empty document. Pure: no
 * I/O. A document that is not valid YAML, or not a well-formed object, becomes a
 * {@link LoadError} naming the file, the document index and the line; it never throws.
 *
 * A file is parsed one document range at a time (document-ranges.ts): a syntax error cannot run
 * past the next `---` into the documents after it, and a changed file re-parses only the ranges
 * whose bytes changed. Given the previous parse of the same file, {@link parseFileBytes} keeps
 * every range before the first changed byte and after the last one (shifting their lines and
 * document indexes), and between them every range whose exact bytes a previous range there had;
 * it parses only the rest. One edited document of a 10,000-document file costs one document's
 * parse plus a byte comparison; two edits far apart cost two parses.
 */
import { countNewlines, hasDirective, splitDocuments } from './document-ranges.ts';
import type { LoadError, LoadedDocument } from './loaded-document.ts';
import { type ParsedRange, parseRange } from './parse-range.ts';

/** A loaded document and the 1-based line where it starts. */
export interface ParsedDocument extends LoadedDocument {
  line: number;
}

export interface ParsedFile {
  documents: ParsedDocument[];
  errors: LoadError[];
}

interface Range {
  start: number;
  end: number;
  /** 0-based line of `start`. */
  line: number;
  /** Newlines in the range. */
  lines: number;
  parsed: ParsedRange;
  /** Offset (from `start`) of the first byte that is not valid UTF-8, if any. */
  invalidAt?: number;
  /**
   * The range's documents as the last assembly placed them: reused while the file, the range's
   * first document index and its line are the same, so an unchanged document keeps its object.
   */
  placed?: { file: string; index: number; line: number; documents: ParsedDocument[] };
}

/** One file's parse, kept to parse its next version incrementally. */
export interface FileParse {
  bytes: Buffer;
  /** Undefined when the file was parsed whole (it has directives). */
  ranges: Range[] | undefined;
  result: ParsedFile;
  /** Ranges parsed (not reused) to produce this parse: what an edit cost. */
  parsedRanges: number;
}

/** Parses `text`, the content of `file` (relative path, used only to label results). */
export function parseYamlFile(file: string, text: string): ParsedFile {
  return parseFileBytes(file, Buffer.from(text, 'utf8')).result;
}

/** Parses `bytes`, the content of `file`, reusing what it can of `previous` (the same file's last parse). */
export function parseFileBytes(file: string, bytes: Buffer, previous?: FileParse): FileParse {
  if (previous?.bytes.equals(bytes)) return { ...previous, bytes, parsedRanges: 0 };
  // The bytes before the first change and after the last one; when the previous version had no
  // directive, only a line that starts in between (or right at its edges) can be one.
  const same = previous?.ranges ? unchangedEnds(previous.bytes, bytes) : undefined;
  const directive = same
    ? hasDirective(bytes, Math.max(0, same.prefix - 1), bytes.length - same.suffix + 1)
    : hasDirective(bytes);
  if (directive) {
    const text = bytes.toString('utf8');
    const bad = invalidUtf8Offset(bytes, text);
    const result =
      bad !== undefined ? utf8Error(file, bytes, bad) : assemble(file, [wholeRange(bytes, text)]);
    return { bytes, ranges: undefined, result, parsedRanges: 1 };
  }
  const reuse = previous?.ranges && same ? reusable(previous.bytes, previous.ranges, same) : undefined;
  const head = reuse?.head ?? [];
  const tail = reuse?.tail ?? [];
  const last = head.at(-1);
  const from = last ? last.end : 0;
  const fromLine = last ? last.line + last.lines : 0;
  const delta = bytes.length - (previous?.bytes.length ?? 0);
  const to = tail[0] ? tail[0].start + delta : bytes.length;
  // Between the first and the last changed byte, a range whose bytes some previous range there
  // had (edits elsewhere in the window, moved documents) takes that range's parse.
  const pool = previous?.ranges
    ? textPool(previous.bytes, previous.ranges.slice(head.length, previous.ranges.length - tail.length))
    : undefined;
  let parsedRanges = 0;
  const middle = splitDocuments(bytes, from, to, fromLine).map((r) => {
    const same = pool?.get(bytes.toString('latin1', r.start, r.end))?.pop();
    if (same) return moved(same, r.start - same.start, r.line - same.line);
    parsedRanges++;
    return parseOne(bytes, r.start, r.end, r.line);
  });
  const toLine = fromLine + middle.reduce((n, r) => n + r.lines, 0);
  const shift = tail[0] ? toLine - tail[0].line : 0;
  const ranges = [
    ...head,
    ...middle,
    ...(delta === 0 && shift === 0 ? tail : tail.map((r) => moved(r, delta, shift))),
  ];
  const invalid = ranges.find((r) => r.invalidAt !== undefined);
  const result = invalid
    ? utf8Error(file, bytes, invalid.start + (invalid.invalidAt as number))
    : assemble(file, ranges);
  return { bytes, ranges, result, parsedRanges };
}

/** Lengths of the longest common prefix of `prev` and `next`, and of their longest common suffix after it. */
function unchangedEnds(prev: Buffer, next: Buffer): { prefix: number; suffix: number } {
  const prefix = commonPrefix(prev, next);
  return { prefix, suffix: commonSuffix(prev, next, Math.min(prev.length, next.length) - prefix) };
}

/**
 * The ranges of `prev` that the next version still holds at the same place relative to its start
 * (`head`) or to its end (`tail`): every byte of the range and of the markers around it lies in
 * the unchanged prefix or suffix. Ranges are in file order, so both are found by counting.
 */
function reusable(
  prev: Buffer,
  ranges: readonly Range[],
  { prefix, suffix }: { prefix: number; suffix: number },
): { head: Range[]; tail: Range[] } {
  let h = 0;
  // The marker that ends the range (`---` and the byte after it) must be unchanged too.
  while (
    h < ranges.length &&
    (ranges[h] as Range).end + 4 <= prefix &&
    (ranges[h] as Range).end < prev.length
  )
    h++;
  let t = ranges.length;
  // The newline before the range's marker must be unchanged too.
  while (
    t > h &&
    (ranges[t - 1] as Range).start >= 1 &&
    (ranges[t - 1] as Range).start - 1 >= prev.length - suffix
  )
    t--;
  return { head: ranges.slice(0, h), tail: ranges.slice(t) };
}

/**
 * Ranges by their exact bytes (as latin1, one character per byte), the earliest last so `pop`
 * hands them out in file order. An unchanged
 * text parses to the same result wherever it sits, since a range's parse depends on its text only.
 */
function textPool(bytes: Buffer, ranges: readonly Range[]): Map<string, Range[]> {
  const pool = new Map<string, Range[]>();
  for (let i = ranges.length - 1; i >= 0; i--) {
    const r = ranges[i] as Range;
    const key = bytes.toString('latin1', r.start, r.end);
    pool.set(key, [...(pool.get(key) ?? []), r]);
  }
  return pool;
}

/** `r` placed `delta` bytes and `shift` lines later (its parse and placed documents go with it). */
function moved(r: Range, delta: number, shift: number): Range {
  const out: Range = {
    start: r.start + delta,
    end: r.end + delta,
    line: r.line + shift,
    lines: r.lines,
    parsed: r.parsed,
  };
  if (r.invalidAt !== undefined) out.invalidAt = r.invalidAt;
  if (r.placed) out.placed = r.placed;
  return out;
}

/** Below this many bytes the common prefix and suffix are found byte by byte. */
const SMALL = 64;

/** Length of the longest common prefix: halving memcmp over what is left, then bytes. */
function commonPrefix(a: Buffer, b: Buffer): number {
  let lo = 0; // a[0, lo) equals b[0, lo)
  let hi = Math.min(a.length, b.length);
  while (hi - lo > SMALL) {
    const mid = (lo + hi) >>> 1;
    if (a.compare(b, lo, mid, lo, mid) === 0) lo = mid;
    else hi = mid;
  }
  while (lo < hi && a[lo] === b[lo]) lo++;
  return lo;
}

/** Length of the longest common suffix, at most `max`. */
function commonSuffix(a: Buffer, b: Buffer, max: number): number {
  let lo = 0; // the last lo bytes are equal
  let hi = max;
  while (hi - lo > SMALL) {
    const mid = (lo + hi) >>> 1;
    if (a.compare(b, b.length - mid, b.length - lo, a.length - mid, a.length - lo) === 0) lo = mid;
    else hi = mid;
  }
  while (lo < hi && a[a.length - 1 - lo] === b[b.length - 1 - lo]) lo++;
  return lo;
}

function parseOne(bytes: Buffer, start: number, end: number, line: number): Range {
  const text = bytes.toString('utf8', start, end);
  const bad = invalidUtf8Offset(bytes.subarray(start, end), text);
  const range: Range = {
    start,
    end,
    line,
    lines: countNewlines(bytes, start, end),
    parsed: bad === undefined ? parseRange(text) : { count: 0, documents: [], errors: [] },
  };
  if (bad !== undefined) range.invalidAt = bad;
  return range;
}

function wholeRange(bytes: Buffer, text: string): Range {
  return { start: 0, end: bytes.length, line: 0, lines: 0, parsed: parseRange(text, true) };
}

/** Absolute document indexes and 1-based lines, in file order. */
function assemble(file: string, ranges: readonly Range[]): ParsedFile {
  const documents: ParsedDocument[] = [];
  const errors: LoadError[] = [];
  let index = 0;
  for (const r of ranges) {
    const placed = r.placed;
    if (placed && placed.file === file && placed.index === index && placed.line === r.line)
      documents.push(...placed.documents);
    else {
      const mine = r.parsed.documents.map((d) => ({
        file,
        document: index + d.index,
        line: r.line + d.line + 1,
        object: d.object,
      }));
      r.placed = { file, index, line: r.line, documents: mine };
      documents.push(...mine);
    }
    for (const e of r.parsed.errors) {
      const { index: i, line, ...rest } = e;
      errors.push({ file, document: index + i, line: r.line + line + 1, ...rest });
    }
    index += r.parsed.count;
  }
  return { documents, errors };
}

/** Never guess: U+FFFD in a prefix or a header value would be served as written. */
function utf8Error(file: string, bytes: Buffer, offset: number): ParsedFile {
  return {
    documents: [],
    errors: [
      {
        file,
        message: `not valid UTF-8: invalid byte 0x${(bytes[offset] as number).toString(16).padStart(2, '0')} at byte offset ${offset}`,
      },
    ],
  };
}

/** Byte offset of the first byte that is not valid UTF-8, or undefined when all of it is. */
export function invalidUtf8Offset(bytes: Uint8Array, decoded: string): number | undefined {
  if (!decoded.includes('\uFFFD')) return undefined;
  const again = Buffer.from(decoded, 'utf8');
  for (let i = 0; i < bytes.length; i++) if (again[i] !== bytes[i]) return i;
  return undefined; // every U+FFFD was written as such
}
