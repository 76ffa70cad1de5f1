/**
 * The fast loader for one document range (document-ranges.ts): js-yaml, about ten times faster
 * than the `yaml` library on Kubernetes manifests, used only where it gives exactly what `yaml`
 * gives (parse-range.ts asks `yaml` for everything else, and for every error):
 *
 * - scalars resolve by the YAML 1.2 core schema exactly as `yaml` resolves them (the types below;
 *   js-yaml's own schemas also read `0b…`, `1_000` and timestamps);
 * - ranges using anchors, aliases, tags, merge keys, complex keys, a plain null key, a document
 *   end marker (`...`), tabs or carriage returns, and quoted scalars or flow collections that run
 *   over several lines, are left to `yaml` (the guards below): these are where the two differ
 *   (js-yaml is more lenient about indentation there) or where `yaml` enforces limits (aliases);
 * - a range holds one document at most (it starts at a `---` marker, or is a file's text before
 *   its first marker, which holds a document only when it has content).
 *
 * Any error from js-yaml sends the range to `yaml`, whose message and line are reported. Before
 * js-yaml, the simple reader (simple-yaml.ts) tries the range: it reads the plain shape most
 * manifests have, cheaper, and leaves everything else to js-yaml.
 */
import jsyaml from 'js-yaml';
import { CORE_SCALARS, loadSimple } from './simple-yaml.ts';

/** YAML 1.2 core schema, resolved as the `yaml` library resolves it (no bigints). */
const CORE = jsyaml.FAILSAFE_SCHEMA.extend({
  implicit: CORE_SCALARS.map(
    (t) =>
      new jsyaml.Type(`tag:yaml.org,2002:${t.tag}`, {
        kind: 'scalar',
        resolve: (s: string | null) => s !== null && t.resolve(s),
        construct: (s: string | null) => t.construct(s ?? ''),
      }),
  ),
});

/** Constructs the fast loader does not reproduce exactly (see the module comment). */
const UNSAFE =
  /[&*!\t\r]|<<|__proto__|(?:^|\n)\.\.\.(?:[ \n]|$)|(?:^|[\s{,[])\?(?:\s|$)|(?:^|[\s{,[-])(?:~|null|Null|NULL)?[ ]*:(?:[ \n]|$)/;

/** The range's document count and value, or undefined when `yaml` must read it. */
export function loadFast(text: string): { count: number; value?: unknown } | undefined {
  const marker = text.startsWith('---');
  if (!marker && firstContentLine(text) < 0) return { count: 0 };
  if (UNSAFE.test(text)) return undefined;
  const simple = loadSimple(text);
  if (simple) return { count: 1, value: simple.value };
  if (spansLines(text)) return undefined;
  try {
    return { count: 1, value: jsyaml.load(text, { schema: CORE }) };
  } catch {
    return undefined;
  }
}

/**
 * Whether a quoted scalar or a flow collection may continue past the end of a line: a line ends
 * inside quotes or with unbalanced brackets. Conservative: an apostrophe in a plain scalar counts.
 */
function spansLines(text: string): boolean {
  let dq = false;
  let sq = false;
  let depth = 0;
  let prev = 10;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 10) {
      if (dq || sq || depth !== 0) return true;
      prev = c;
      continue;
    }
    if (dq) {
      if (c === 92)
        i++; // backslash escape
      else if (c === 34) dq = false;
    } else if (sq) {
      if (c === 39) sq = false; // '' re-opens at once: balance is kept
    } else if (c === 34) dq = true;
    else if (c === 39) sq = true;
    else if (c === 91 || c === 123) depth++;
    else if (c === 93 || c === 125) depth--;
    else if (c === 35 && (prev === 32 || prev === 10)) {
      // A comment runs to the end of the line.
      const nl = text.indexOf('\n', i);
      if (nl < 0) break;
      i = nl - 1;
    }
    prev = c;
  }
  return dq || sq || depth !== 0;
}

/**
 * 0-based line of the first content of a range: skips its `---` marker, blank lines and comment
 * lines, as the start of `yaml`'s document contents does; -1 when there is none.
 */
export function firstContentLine(text: string): number {
  let line = 0;
  let at = 0;
  while (at < text.length) {
    const nl = text.indexOf('\n', at);
    let s = text.slice(at, nl < 0 ? text.length : nl);
    if (line === 0 && s.startsWith('---')) s = s.slice(3);
    const t = s.trimStart();
    if (t !== '' && !t.startsWith('#')) return line;
    if (nl < 0) break;
    at = nl + 1;
    line++;
  }
  return -1;
}
