/**
 * Whether the data plane's regex engine accepts a pattern. Envoy and the proxyless gRPC clients
 * both use RE2; a pattern either of them rejects NACKs a whole RouteConfiguration (Envoy) or kills
 * every channel of the hostname (grpc-js-xds throws while building its route table), so every
 * user-written regex is checked here before it reaches shared output.
 *
 * Two checks:
 * - Syntax and RE2's own limits (repetition counts over 1000, nested repetition whose product is
 *   over 1000, unsupported Perl operators): the exact RE2 build grpc-js-xds uses (re2-wasm),
 *   compiled the way grpc-js-xds compiles it (`^…$`, flag `u`). Results are cached per pattern:
 *   re2-wasm takes milliseconds per pattern.
 * - Program size: Envoy rejects a regex whose compiled RE2 program is larger than the
 *   `google_re2.max_program_size` we emit (Module `regex_max_size`, 200 by default). No RE2
 *   binding exposes `ProgramSize()`, so {@link re2ProgramSizeAtLeast} computes a lower bound from
 *   the pattern's structure; a pattern over the limit by that bound is certainly rejected by Envoy.
 *   Patterns under the bound but over the real limit are not caught (documented in FEATURES.md).
 */
import { createRequire } from 'node:module';

/** The Emscripten-bound RE2 class inside re2-wasm (build/wasm/re2.d.ts). */
type WrappedRE2Class = new (
  pattern: string,
  ignoreCase: boolean,
  multiline: boolean,
  dotAll: boolean,
) => { ok(): boolean; error(): string; delete(): void };

const require = createRequire(import.meta.url);
const RE2_WASM = require.resolve('re2-wasm/build/wasm/re2.js');

/**
 * A fresh instance of re2-wasm: its own WebAssembly module and 16 MiB heap. A pattern whose
 * compilation needs more than that heap aborts the instance (Emscripten `abort`, thrown as a
 * RuntimeError) and leaks what it had allocated, so after a few such patterns every later compile
 * would throw too — one hostile regex would then reject every good one. The instance that threw
 * is dropped and the next check loads a new one.
 */
function loadRe2(): WrappedRE2Class {
  delete require.cache[RE2_WASM];
  return (require(RE2_WASM) as { WrappedRE2: WrappedRE2Class }).WrappedRE2;
}

let WrappedRE2: WrappedRE2Class | undefined;

const problems = new Map<string, string | null>();
const CACHE_LIMIT = 10_000;

/** Why RE2 rejects `pattern`, or undefined when it compiles. */
export function re2Problem(pattern: string): string | undefined {
  let p = problems.get(pattern);
  if (p === undefined) {
    p = compileProblem(pattern);
    if (problems.size >= CACHE_LIMIT) problems.clear();
    problems.set(pattern, p);
  }
  return p ?? undefined;
}

function compileProblem(pattern: string): string | null {
  // re2-wasm accepts a few JavaScript-only escapes (it rewrites `\u0041`, `\cA`) that Envoy's RE2
  // rejects as invalid escape sequences.
  const jsOnly = /(?:^|[^\\])(?:\\\\)*\\([uc])/.exec(pattern);
  if (jsOnly) return `invalid escape sequence: \\${jsOnly[1]}`;
  // Envoy compiles the pattern bare; wrapped as grpc-js-xds wraps it, a trailing backslash would
  // escape the `$` and pass.
  if (/(?:^|[^\\])(?:\\\\)*\\$/.test(pattern)) return 'trailing \\';
  // RE2 itself, without re2-wasm's RegExp-compatibility layer: that layer rewrites only
  // JavaScript-isms (rejected above) and leaks every regex that fails to compile.
  WrappedRE2 ??= loadRe2();
  let compiled: InstanceType<WrappedRE2Class>;
  try {
    compiled = new WrappedRE2(`^${pattern}$`, false, false, false);
  } catch {
    // Out of memory (see loadRe2): grpc-js-xds's re2-wasm has the same heap, and would fail the
    // same way on it.
    WrappedRE2 = undefined;
    return 'RE2 runs out of memory compiling it (its program is far too large)';
  }
  try {
    if (compiled.ok()) return null;
    const reason = compiled.error();
    return reason.length > 200 ? `${reason.slice(0, 200)}…` : reason;
  } finally {
    // re2-wasm never frees a compiled regex on its own and its WebAssembly heap is a fixed 16 MiB:
    // without this, a long-running compiler runs out after a few thousand patterns and every
    // later regex would be "rejected".
    compiled.delete();
  }
}

// ---- program size lower bound -----------------------------------------------------------------

type Node =
  | { t: 'atom'; size: number; literal: boolean }
  | { t: 'cat'; items: Node[] }
  | { t: 'alt'; items: Node[] }
  | { t: 'rep'; node: Node; min: number; max: number }
  | { t: 'begin' };

/**
 * A lower bound on RE2's `ProgramSize()` for a pattern RE2 accepts: every literal byte and every
 * character class or `.` is at least one instruction; `x{n,m}` compiles m copies of x and `x{n,}`
 * n copies (RE2 expands counted repetition); an alternation is at least its largest branch (RE2
 * may factor common prefixes and merge single characters into one class); a literal prefix after
 * a leading `^` is matched outside the program (RE2 `RequiredPrefix`) and not counted; plus the
 * program's fail and match instructions.
 */
export function re2ProgramSizeAtLeast(pattern: string): number {
  const parser = new Parser(pattern);
  const node = parser.parseAlt();
  let counted = node;
  if (node.t === 'cat' && node.items[0]?.t === 'begin') {
    let i = 1;
    while (
      i < node.items.length &&
      node.items[i]!.t === 'atom' &&
      (node.items[i] as { literal: boolean }).literal
    )
      i++;
    counted = { t: 'cat', items: node.items.slice(i) };
  }
  return 2 + size(counted);
}

function size(n: Node): number {
  switch (n.t) {
    case 'atom':
      return n.size;
    case 'begin':
      return 0;
    case 'cat':
      return n.items.reduce((s, x) => s + size(x), 0);
    case 'alt':
      return n.items.reduce((s, x) => Math.max(s, size(x)), 0);
    case 'rep': {
      const copies = Number.isFinite(n.max) ? n.max : Math.max(n.min, 1);
      return copies * size(n.node);
    }
  }
}

const utf8Length = (cp: number): number => (cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4);

/** A recursive-descent reader of RE2 syntax, precise only where the bound needs it. */
class Parser {
  private i = 0;
  constructor(private readonly s: string) {}

  parseAlt(): Node {
    const items = [this.parseCat()];
    while (this.s[this.i] === '|') {
      this.i++;
      items.push(this.parseCat());
    }
    return items.length === 1 ? items[0]! : { t: 'alt', items };
  }

  private parseCat(): Node {
    const items: Node[] = [];
    while (this.i < this.s.length && this.s[this.i] !== '|' && this.s[this.i] !== ')') {
      let atom = this.parseAtom();
      if (!atom) continue;
      for (;;) {
        const rep = this.parseRepeat();
        if (!rep) break;
        atom = { t: 'rep', node: atom, ...rep };
      }
      items.push(atom);
    }
    return { t: 'cat', items };
  }

  private parseRepeat(): { min: number; max: number } | undefined {
    const c = this.s[this.i];
    let r: { min: number; max: number } | undefined;
    if (c === '*') r = { min: 0, max: Number.POSITIVE_INFINITY };
    else if (c === '+') r = { min: 1, max: Number.POSITIVE_INFINITY };
    else if (c === '?') r = { min: 0, max: 1 };
    else if (c === '{') {
      const m = /^\{(\d+)(,(\d*))?\}/.exec(this.s.slice(this.i, this.i + 24));
      if (!m) return undefined;
      const min = Number(m[1]);
      const max = m[2] === undefined ? min : m[3] === '' ? Number.POSITIVE_INFINITY : Number(m[3]);
      this.i += m[0].length - 1;
      r = { min, max };
    }
    if (!r) return undefined;
    this.i++;
    if (this.s[this.i] === '?') this.i++; // non-greedy
    return r;
  }

  private parseAtom(): Node | undefined {
    const s = this.s;
    const c = s[this.i]!;
    if (c === '(') {
      this.i++;
      if (s[this.i] === '?') {
        const flags = /^\?[a-zA-Z-]*\)/.exec(s.slice(this.i));
        if (flags) {
          this.i += flags[0].length; // (?i) and friends: no instruction
          return undefined;
        }
        const head = /^\?(P?<[^>]*>|[a-zA-Z-]*:)/.exec(s.slice(this.i));
        if (head) this.i += head[0].length;
      }
      const inner = this.parseAlt();
      if (s[this.i] === ')') this.i++;
      return inner;
    }
    if (c === '[') return this.parseClass();
    if (c === '^' || c === '$') {
      this.i++;
      return c === '^' && this.i === 1 ? { t: 'begin' } : { t: 'atom', size: 1, literal: false };
    }
    if (c === '.') {
      this.i++;
      return { t: 'atom', size: 1, literal: false };
    }
    if (c === '\\') return this.parseEscape();
    const cp = s.codePointAt(this.i)!;
    this.i += cp > 0xffff ? 2 : 1;
    return { t: 'atom', size: utf8Length(cp), literal: true };
  }

  private parseEscape(): Node {
    const s = this.s;
    const n = s[this.i + 1] ?? '';
    this.i += 2;
    if (n === 'Q') {
      const end = s.indexOf('\\E', this.i);
      const text = end < 0 ? s.slice(this.i) : s.slice(this.i, end);
      this.i = end < 0 ? s.length : end + 2;
      let bytes = 0;
      for (const ch of text) bytes += utf8Length(ch.codePointAt(0)!);
      return { t: 'atom', size: bytes, literal: true };
    }
    if (n === 'A' && this.i === 2) return { t: 'begin' };
    if (n === 'x' && s[this.i] === '{') {
      const end = s.indexOf('}', this.i);
      const cp = Number.parseInt(s.slice(this.i + 1, end), 16);
      this.i = end < 0 ? s.length : end + 1;
      return { t: 'atom', size: Number.isFinite(cp) ? utf8Length(cp) : 1, literal: true };
    }
    if (n === 'x') this.i += 2;
    else if (n === 'p' || n === 'P') {
      if (s[this.i] === '{') {
        const end = s.indexOf('}', this.i);
        this.i = end < 0 ? s.length : end + 1;
      } else this.i++;
    } else if (/[0-7]/.test(n)) {
      while (/[0-7]/.test(s[this.i] ?? '') && this.i < s.length) this.i++;
    }
    const literal = !/[dDsSwWpPbBAzC]/.test(n);
    return { t: 'atom', size: /[bBAz]/.test(n) ? 0 : 1, literal };
  }

  private parseClass(): Node {
    const s = this.s;
    this.i++;
    if (s[this.i] === '^') this.i++;
    if (s[this.i] === ']') this.i++;
    while (this.i < s.length && s[this.i] !== ']') {
      if (s[this.i] === '\\') this.i += 2;
      else if (s.startsWith('[:', this.i)) {
        const end = s.indexOf(':]', this.i + 2);
        this.i = end < 0 ? s.length : end + 2;
      } else this.i++;
    }
    this.i++;
    return { t: 'atom', size: 1, literal: false };
  }
}
