/**
 * A line-by-line reader for the plain shape most manifests have, tried before js-yaml by the fast
 * loader (fast-yaml.ts), which has already ruled out anchors, aliases, tags, merge keys, `?` keys,
 * null keys, `...`, tabs and carriage returns. It reads:
 *
 * - block mappings whose keys are plain scalars that resolve as strings, block sequences (a
 *   sequence item may open a compact mapping, `- key: value`), at any consistent indentation;
 * - on one line: plain scalars, single-quoted scalars, double-quoted scalars without escapes,
 *   flow mappings and flow sequences of those (nested), each followed only by a comment;
 * - comment lines, blank lines and a leading `---` marker line.
 *
 * Plain scalars resolve by the same core-schema rules as fast-yaml.ts gives js-yaml
 * ({@link resolvePlain}). Anything else — block scalars (`|`, `>`), a plain scalar continued on the
 * next line, escapes, duplicate keys, a key that is not a plain string, a flow collection over
 * several lines, a root that is not a block mapping, indentation it does not expect, a `:` or `#`
 * inside a flow scalar — makes it return undefined, and js-yaml (or `yaml`) reads the range as
 * before: the reader never decides an error, a diagnostic or a line number. It gives exactly the
 * value js-yaml gives for what it accepts (parse-file.property.test.ts compares the whole fast
 * path with the `yaml` library on random files; simple-yaml.test.ts this reader with `yaml` and
 * js-yaml on random and mutated documents). In a one-shot process, where all of this runs cold,
 * it reads the 14,000 documents of the 10,000-Mapping benchmark in ~0.17 s of CPU against
 * js-yaml's ~0.20 s, and the whole `attache translate` takes ~0.13 s less CPU (the fast loader's
 * line scan for js-yaml, and its garbage, go too). Scans use indexOf and a sticky regular
 * expression where they can: a loop over characters runs in V8's interpreter at first.
 */

/** Why a range is not read here: caught in {@link loadSimple}, never escapes. */
class NotSimple extends Error {}
const NOT_SIMPLE = new NotSimple('not a simple document');

const NULL = /^(?:~|[Nn]ull|NULL)?$/;
const BOOL = /^(?:[Tt]rue|TRUE|[Ff]alse|FALSE)$/;
const INT = /^[-+]?[0-9]+$/;
const OCT = /^0o[0-7]+$/;
const HEX = /^0x[0-9a-fA-F]+$/;
const INF_NAN = /^(?:[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN)$/;
const FLOAT = /^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$/;

/** Core-schema scalar types as the fast loader defines them for js-yaml, in js-yaml's order. */
export const CORE_SCALARS: readonly {
  tag: string;
  resolve: (s: string) => boolean;
  construct: (s: string) => unknown;
}[] = [
  { tag: 'null', resolve: (s) => NULL.test(s), construct: () => null },
  { tag: 'bool', resolve: (s) => BOOL.test(s), construct: (s) => s[0] === 't' || s[0] === 'T' },
  {
    tag: 'int',
    resolve: (s) => INT.test(s) || OCT.test(s) || HEX.test(s),
    construct: (s) =>
      OCT.test(s) ? parseInt(s.slice(2), 8) : HEX.test(s) ? parseInt(s.slice(2), 16) : parseInt(s, 10),
  },
  {
    tag: 'float',
    resolve: (s) => INF_NAN.test(s) || FLOAT.test(s),
    construct: (s) =>
      INF_NAN.test(s)
        ? s.slice(-3).toLowerCase() === 'nan'
          ? Number.NaN
          : s[0] === '-'
            ? Number.NEGATIVE_INFINITY
            : Number.POSITIVE_INFINITY
        : parseFloat(s),
  },
];

/** Characters after which a scalar may resolve to something other than a string. */
function mayResolve(c: number): boolean {
  // digits, + - . ~ and the letters that start null / true / false
  return (
    (c >= 48 && c <= 57) ||
    c === 43 ||
    c === 45 ||
    c === 46 ||
    c === 126 ||
    c === 110 ||
    c === 78 ||
    c === 116 ||
    c === 84 ||
    c === 102 ||
    c === 70
  );
}

/** A plain scalar's value under the core schema (js-yaml's implicit resolution with CORE_SCALARS). */
function resolvePlain(s: string): unknown {
  if (s !== '' && !mayResolve(s.charCodeAt(0))) return s;
  for (const t of CORE_SCALARS) if (t.resolve(s)) return t.construct(s);
  return s;
}

/** A plain scalar may not start with these (YAML indicators); `-` and `?`/`:` only before a space. */
function badPlainStart(c: number, next: number): boolean {
  switch (c) {
    case 44: // ,
    case 91: // [
    case 93: // ]
    case 123: // {
    case 125: // }
    case 35: // #
    case 38: // &
    case 42: // *
    case 33: // !
    case 124: // |
    case 62: // >
    case 39: // '
    case 34: // "
    case 37: // %
    case 64: // @
    case 96: // `
    case 63: // ?
    case 58: // :
      return true;
    case 45: // -, a plain scalar only before a character that is not a space or flow indicator
      return (
        next === 32 ||
        Number.isNaN(next) ||
        next === 44 ||
        next === 91 ||
        next === 93 ||
        next === 123 ||
        next === 125
      );
    default:
      return false;
  }
}

interface Line {
  indent: number;
  /** Offsets in the text: content start (after the indent) and line end (before `\n`). */
  start: number;
  end: number;
}

/**
 * Characters js-yaml rejects (its PATTERN_NON_PRINTABLE), a byte order mark (which it strips only
 * at the start of its input), tabs and carriage returns: left to the other readers.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it finds
const UNUSUAL = /[\x00-\x09\x0B-\x1F\x7F-\x84\x86-\x9F\uFEFF\uFFFE\uFFFF\uD800-\uDFFF]/;

/** The range's value when it is a simple block mapping, else undefined. */
export function loadSimple(text: string): { value: Record<string, unknown> } | undefined {
  if (UNUSUAL.test(text)) return undefined;
  try {
    const lines = contentLines(text);
    if (lines.length === 0) return undefined;
    const r = new Reader(text, lines);
    const first = lines[0] as Line;
    if (isItem(text, first)) return undefined;
    const value = r.mapping(first.indent);
    if (r.at !== lines.length) return undefined;
    return { value };
  } catch (err) {
    // A flow collection nested deeper than the stack allows (hostile input) is not simple either:
    // the readers after it turn it into a diagnostic with its line, as they did before this one.
    if (err instanceof NotSimple || err instanceof RangeError) return undefined;
    throw err;
  }
}

/** Lines with content: not blank, not a comment, not the leading `---` marker line. */
function contentLines(text: string): Line[] {
  const lines: Line[] = [];
  let at = 0;
  let first = true;
  while (at <= text.length) {
    let end = text.indexOf('\n', at);
    if (end < 0) end = text.length;
    let i = at;
    while (i < end && text.charCodeAt(i) === 32) i++;
    if (first && i === at && text.startsWith('---', at)) {
      // The marker: nothing but spaces and a comment may follow it on its line.
      let j = at + 3;
      if (j < end && text.charCodeAt(j) !== 32) throw NOT_SIMPLE;
      while (j < end && text.charCodeAt(j) === 32) j++;
      if (j < end && text.charCodeAt(j) !== 35) throw NOT_SIMPLE;
    } else if (i < end && text.charCodeAt(i) !== 35) {
      lines.push({ indent: i - at, start: i, end });
    }
    first = false;
    at = end + 1;
  }
  return lines;
}

/** A block sequence item: `-` then a space or the line's end. */
function isItem(text: string, l: Line): boolean {
  return text.charCodeAt(l.start) === 45 && (l.start + 1 === l.end || text.charCodeAt(l.start + 1) === 32);
}

class Reader {
  at = 0;
  constructor(
    private readonly text: string,
    private readonly lines: Line[],
  ) {}

  /** A block mapping whose keys sit at `indent`; the current line is its first entry. */
  mapping(indent: number): Record<string, unknown> {
    const text = this.text;
    const out: Record<string, unknown> = {};
    for (;;) {
      const line = this.lines[this.at] as Line;
      // The key: a plain scalar up to `:` and a space (or the line's end).
      const ks = line.start;
      if (badPlainStart(text.charCodeAt(ks), text.charCodeAt(ks + 1))) throw NOT_SIMPLE;
      // (indexOf rather than a loop over characters: a one-shot process runs this code cold.)
      let colon = text.indexOf(':', ks);
      while (colon >= 0 && colon + 1 < line.end && text.charCodeAt(colon + 1) !== 32)
        colon = text.indexOf(':', colon + 1);
      if (colon < 0 || colon >= line.end) throw NOT_SIMPLE;
      const hash = text.indexOf(' #', ks);
      if (hash >= 0 && hash < colon) throw NOT_SIMPLE;
      if (text.charCodeAt(colon - 1) === 32) throw NOT_SIMPLE;
      // `yaml` limits an implicit key to 1,024 characters; js-yaml does not.
      if (colon - ks > 1000) throw NOT_SIMPLE;
      const key = keyString(text.slice(ks, colon));
      if (Object.hasOwn(out, key)) throw NOT_SIMPLE;
      this.at++;
      const vs = skipSpaces(text, colon + 1, line.end);
      if (vs === line.end || text.charCodeAt(vs) === 35) out[key] = this.nested(indent, true);
      else {
        out[key] = this.inline(vs, line.end);
        this.noContinuation(indent);
      }
      const next = this.lines[this.at];
      if (!next || next.indent < indent) return out;
      if (next.indent > indent || isItem(text, next)) throw NOT_SIMPLE;
    }
  }

  /** A block sequence whose `-` sit at `indent`; the current line is its first item. */
  sequence(indent: number): unknown[] {
    const text = this.text;
    const out: unknown[] = [];
    for (;;) {
      const line = this.lines[this.at] as Line;
      const vs = skipSpaces(text, line.start + 1, line.end);
      if (vs === line.end || text.charCodeAt(vs) === 35) {
        this.at++;
        out.push(this.nested(indent, false));
      } else if (text.charCodeAt(vs) === 45 && (vs + 1 === line.end || text.charCodeAt(vs + 1) === 32)) {
        throw NOT_SIMPLE; // `- - x`
      } else if (startsEntry(text, vs, line.end)) {
        // `- key: value`: a mapping whose keys sit where this one starts.
        const inner = vs - line.start + line.indent;
        this.lines[this.at] = { indent: inner, start: vs, end: line.end };
        out.push(this.mapping(inner));
      } else {
        this.at++;
        out.push(this.inline(vs, line.end));
        this.noContinuation(indent);
      }
      const next = this.lines[this.at];
      if (!next || next.indent < indent) return out;
      if (next.indent > indent) throw NOT_SIMPLE;
      if (!isItem(text, next)) return out; // the mapping this sequence is a value of goes on
    }
  }

  /**
   * The value on the lines after a `key:` or `-` with nothing after it: a deeper block (or, for a
   * mapping's value, a sequence at the key's own indentation), else null.
   */
  private nested(indent: number, ofKey: boolean): unknown {
    const next = this.lines[this.at];
    if (!next) return null;
    if (next.indent > indent)
      return isItem(this.text, next) ? this.sequence(next.indent) : this.mapping(next.indent);
    if (ofKey && next.indent === indent && isItem(this.text, next)) return this.sequence(indent);
    return null;
  }

  /** A value on one line ends there: a deeper line after it would continue a plain scalar. */
  private noContinuation(indent: number): void {
    const next = this.lines[this.at];
    if (next && next.indent > indent) throw NOT_SIMPLE;
  }

  /** A scalar or flow collection filling [from, end) of one line, a comment allowed after it. */
  private inline(from: number, end: number): unknown {
    const text = this.text;
    const c = text.charCodeAt(from);
    let value: unknown;
    let after: number;
    if (c === 123 || c === 91 || c === 34 || c === 39) {
      const r = flowValue(text, from, end);
      value = r.value;
      after = skipSpaces(text, r.end, end);
      if (after < end && (text.charCodeAt(after) !== 35 || after === r.end)) throw NOT_SIMPLE;
      return value;
    }
    if (badPlainStart(c, from + 1 < end ? text.charCodeAt(from + 1) : Number.NaN)) throw NOT_SIMPLE;
    // A plain scalar: to a comment or the line's end; `: ` inside would make it a mapping.
    let stop = text.indexOf(' #', from);
    if (stop < 0 || stop > end) stop = end;
    const colon = text.indexOf(': ', from);
    if (colon >= 0 && colon < stop) throw NOT_SIMPLE;
    let last = stop;
    while (text.charCodeAt(last - 1) === 32) last--;
    if (text.charCodeAt(last - 1) === 58) throw NOT_SIMPLE;
    return resolvePlain(text.slice(from, last));
  }
}

/** Does [from, end) begin a `key: value` entry (a plain key followed by `: ` or `:` at the end)? */
function startsEntry(text: string, from: number, end: number): boolean {
  const c = text.charCodeAt(from);
  if (c === 123 || c === 91 || c === 34 || c === 39) return false;
  for (let i = from; i < end; i++) {
    const ch = text.charCodeAt(i);
    if (ch === 35 && text.charCodeAt(i - 1) === 32) return false;
    if (ch === 58 && (i + 1 === end || text.charCodeAt(i + 1) === 32)) return true;
  }
  return false;
}

function skipSpaces(text: string, i: number, end: number): number {
  while (i < end && text.charCodeAt(i) === 32) i++;
  return i;
}

/** A flow value starting at `from`: `{…}`, `[…]`, a quoted scalar or a plain flow scalar. */
function flowValue(text: string, from: number, end: number): { value: unknown; end: number } {
  const c = text.charCodeAt(from);
  if (c === 34 || c === 39) return quoted(text, from, end);
  if (c === 123) {
    const out: Record<string, unknown> = {};
    let i = skipSpaces(text, from + 1, end);
    if (text.charCodeAt(i) === 125) return { value: out, end: i + 1 };
    for (;;) {
      const k = flowScalar(text, i, end, true);
      if (typeof k.value !== 'string' || k.value === '__proto__' || Object.hasOwn(out, k.value))
        throw NOT_SIMPLE;
      i = k.end;
      if (text.charCodeAt(i) !== 58 || text.charCodeAt(i + 1) !== 32) throw NOT_SIMPLE;
      i = skipSpaces(text, i + 1, end);
      const v = flowValue(text, i, end);
      out[k.value] = v.value;
      i = skipSpaces(text, v.end, end);
      const d = text.charCodeAt(i);
      if (d === 125) return { value: out, end: i + 1 };
      if (d !== 44) throw NOT_SIMPLE;
      i = skipSpaces(text, i + 1, end);
      if (text.charCodeAt(i) === 125) throw NOT_SIMPLE; // a trailing comma
    }
  }
  if (c === 91) {
    const out: unknown[] = [];
    let i = skipSpaces(text, from + 1, end);
    if (text.charCodeAt(i) === 93) return { value: out, end: i + 1 };
    for (;;) {
      const v = flowValue(text, i, end);
      out.push(v.value);
      i = skipSpaces(text, v.end, end);
      const d = text.charCodeAt(i);
      if (d === 93) return { value: out, end: i + 1 };
      if (d !== 44) throw NOT_SIMPLE;
      i = skipSpaces(text, i + 1, end);
      if (text.charCodeAt(i) === 93) throw NOT_SIMPLE;
    }
  }
  return flowScalar(text, from, end, false);
}

/**
 * A scalar inside a flow collection: quoted, or plain up to `,`, `]`, `}` (or, for a key, the
 * `:`). A plain one holding `:`, `#`, brackets or a quote is left to js-yaml.
 */
function flowScalar(text: string, from: number, end: number, key: boolean): { value: unknown; end: number } {
  const c = text.charCodeAt(from);
  if (c === 34 || c === 39) {
    const q = quoted(text, from, end);
    return { value: q.value, end: skipSpaces(text, q.end, end) };
  }
  if (from >= end || badPlainStart(c, from + 1 < end ? text.charCodeAt(from + 1) : Number.NaN))
    throw NOT_SIMPLE;
  FLOW_PLAIN.lastIndex = from;
  FLOW_PLAIN.test(text);
  const i = FLOW_PLAIN.lastIndex;
  let last = i;
  while (text.charCodeAt(last - 1) === 32) last--;
  const ch = text.charCodeAt(i);
  if (i >= end) throw NOT_SIMPLE; // a flow collection left open on this line
  // A key's `:` follows it directly (`{ a : 1 }` is left to js-yaml); other stops are left too.
  if (
    ch === 58 ? !(key && text.charCodeAt(i + 1) === 32 && last === i) : ch !== 44 && ch !== 93 && ch !== 125
  )
    throw NOT_SIMPLE;
  const s = text.slice(from, last);
  return { value: key ? keyString(s) : resolvePlain(s), end: last === i ? i : skipSpaces(text, last, end) };
}

/** A plain flow scalar's run: up to a flow indicator, `:`, `#`, a quote or the line's end. */
const FLOW_PLAIN = /[^,\]}:#[{"'\n]*/y;

/**
 * A plain key must stay the string it is written as, and be an ordinary key: not a merge key (`<<`)
 * and not `__proto__`.
 */
function keyString(s: string): string {
  if (resolvePlain(s) !== s || s === '<<' || s === '__proto__') throw NOT_SIMPLE;
  return s;
}

/** A quoted scalar on one line: single-quoted (`''` is a quote) or double-quoted without escapes. */
function quoted(text: string, from: number, end: number): { value: string; end: number } {
  const q = text.charCodeAt(from);
  if (q === 34) {
    const close = text.indexOf('"', from + 1);
    if (close < 0 || close >= end) throw NOT_SIMPLE;
    const s = text.slice(from + 1, close);
    if (s.includes('\\')) throw NOT_SIMPLE;
    return { value: s, end: close + 1 };
  }
  let out = '';
  let i = from + 1;
  for (;;) {
    const close = text.indexOf("'", i);
    if (close < 0 || close >= end) throw NOT_SIMPLE;
    out += text.slice(i, close);
    if (text.charCodeAt(close + 1) === 39) {
      out += "'";
      i = close + 2;
    } else return { value: out, end: close + 1 };
  }
}
