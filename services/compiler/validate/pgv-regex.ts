/**
 * RE2 patterns (as written in `(validate.rules).string.pattern`) translated to JavaScript RegExps
 * where the meaning is preserved. Translated: leading `(?flags)` for i/s/m, `(?P<name>`, `\A`, `\z`,
 * `\Q…\E`, `\x{…}`, POSIX bracket classes, and RE2's ASCII-only `\s` and `.` (RE2's `.` matches
 * `\r`, JavaScript's does not). Anything else whose meaning differs or that JavaScript lacks
 * (inline flag groups, `\C`, `\pN` classes, octal escapes, `(?U)`) is reported as untranslatable,
 * and the caller skips the check and counts it instead of guessing.
 */

const POSIX: Readonly<Record<string, string>> = {
  alnum: '0-9A-Za-z',
  alpha: 'A-Za-z',
  ascii: '\\x00-\\x7f',
  blank: '\\t ',
  cntrl: '\\x00-\\x1f\\x7f',
  digit: '0-9',
  graph: '!-~',
  lower: 'a-z',
  print: ' -~',
  punct: '!-\\/:-@\\[-`{-~',
  space: '\\t\\n\\v\\f\\r ',
  upper: 'A-Z',
  word: '0-9A-Za-z_',
  xdigit: '0-9A-Fa-f',
};

const RE2_SPACE = '\\t\\n\\f\\r ';

const cache = new Map<string, RegExp | null>();

/** The JavaScript equivalent of an RE2 pattern, or undefined when it cannot be translated faithfully. */
export function re2ToRegExp(pattern: string): RegExp | undefined {
  let re = cache.get(pattern);
  if (re === undefined) {
    re = translate(pattern);
    cache.set(pattern, re);
  }
  return re ?? undefined;
}

function escapeLiteral(s: string): string {
  return s.replace(/[\\^$.*+?()[\]{}|/-]/g, '\\$&');
}

function translate(pattern: string): RegExp | null {
  let flags = '';
  let src = pattern;
  const lead = /^\(\?([a-zA-Z]+)\)/.exec(src);
  if (lead) {
    for (const f of lead[1]!) {
      if (f === 'i' || f === 's' || f === 'm') flags += flags.includes(f) ? '' : f;
      else return null;
    }
    src = src.slice(lead[0].length);
  }
  let out = '';
  let inClass = false;
  for (let i = 0; i < src.length; i++) {
    const c = src[i]!;
    if (c === '\\') {
      const n = src[i + 1];
      if (n === undefined) return null;
      i++;
      if (n === 'Q') {
        const end = src.indexOf('\\E', i + 1);
        const literal = end === -1 ? src.slice(i + 1) : src.slice(i + 1, end);
        out += escapeLiteral(literal);
        i = end === -1 ? src.length : end + 1;
      } else if (n === 'A') {
        if (inClass || flags.includes('m')) return null;
        out += '^';
      } else if (n === 'z') {
        if (inClass || flags.includes('m')) return null;
        out += '$';
      } else if (n === 's') {
        out += inClass ? RE2_SPACE : `[${RE2_SPACE}]`;
      } else if (n === 'S') {
        if (inClass) return null;
        out += `[^${RE2_SPACE}]`;
      } else if (n === 'x' && src[i + 1] === '{') {
        const end = src.indexOf('}', i + 2);
        const code = end === -1 ? Number.NaN : Number.parseInt(src.slice(i + 2, end), 16);
        if (!(code >= 0 && code <= 0xffff)) return null;
        out += `\\u${code.toString(16).padStart(4, '0')}`;
        i = end;
      } else if (/[0-9CpPZ]/.test(n)) {
        // octal escapes and backreferences, \C, Unicode classes, and \Z (not RE2 syntax)
        return null;
      } else {
        out += `\\${n}`;
      }
    } else if (c === '[' && !inClass) {
      inClass = true;
      out += c;
      if (src[i + 1] === '^') {
        out += '^';
        i++;
      }
      if (src[i + 1] === ']') {
        out += '\\]';
        i++;
      }
    } else if (c === '[' && inClass && src[i + 1] === ':') {
      const end = src.indexOf(':]', i + 2);
      if (end === -1) return null;
      const name = src.slice(i + 2, end);
      const set = POSIX[name];
      if (set === undefined) return null;
      out += set;
      i = end + 1;
    } else if (c === '[' && inClass) {
      out += '\\[';
    } else if (c === ']' && inClass) {
      inClass = false;
      out += c;
    } else if (c === '.' && !inClass) {
      out += flags.includes('s') ? '[\\s\\S]' : '[^\\n]';
    } else if (c === '(' && src[i + 1] === '?') {
      if (src.startsWith('(?P<', i)) {
        out += '(?<';
        i += 3;
      } else if (src.startsWith('(?:', i)) {
        out += '(?:';
        i += 2;
      } else {
        return null;
      }
    } else if (c === '/' && !inClass) {
      out += '\\/';
    } else {
      out += c;
    }
  }
  if (inClass) return null;
  try {
    return new RegExp(out, flags.replace('s', ''));
  } catch {
    return null;
  }
}
