/** Host and label matching shared by edge building, route translation and provenance. */

/** matchLabels semantics: every selector label present with the same value (an empty selector matches all). */
export function labelsMatch(
  selector: Record<string, string> | undefined,
  labels: Record<string, string>,
): boolean {
  if (!selector) return true;
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

/**
 * Whether two host globs can match a common name (irutils.py `hostglob_matches`): `*` matches
 * everything; `*.a.com` / `a.*` globs match names with that suffix / prefix; two globs overlap
 * unless their fixed parts contradict.
 */
export function hostGlobsOverlap(a: string, b: string): boolean {
  // Called for every (Host, Mapping group) pair, over few distinct names: remembered per pair.
  if (a === b) return true;
  let row = overlaps.get(a);
  if (row === undefined) {
    if (overlaps.size >= MEMO_LIMIT) overlaps.clear();
    row = new Map();
    overlaps.set(a, row);
  }
  let r = row.get(b);
  if (r === undefined) {
    if (row.size >= MEMO_LIMIT) row.clear();
    r = globsOverlap(a, b);
    row.set(b, r);
  }
  return r;
}

/** Results of {@link globsOverlap} by (a, b): a memo of a pure function, bounded. */
const overlaps = new Map<string, Map<string, boolean>>();
const MEMO_LIMIT = 4096;

function globsOverlap(a: string, b: string): boolean {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  if (x === '*' || y === '*' || x === y) return true;
  const kx = globKind(x);
  const ky = globKind(y);
  if (kx === EXACT && ky === EXACT) return false;
  const fx = kx === SUFFIX ? x.slice(1) : kx === PREFIX ? x.slice(0, -1) : x;
  const fy = ky === SUFFIX ? y.slice(1) : ky === PREFIX ? y.slice(0, -1) : y;
  if (kx === EXACT) return ky === SUFFIX ? fx.endsWith(fy) : fx.startsWith(fy);
  if (ky === EXACT) return kx === SUFFIX ? fy.endsWith(fx) : fy.startsWith(fx);
  if (kx === ky)
    return kx === SUFFIX ? fx.endsWith(fy) || fy.endsWith(fx) : fx.startsWith(fy) || fy.startsWith(fx);
  return true;
}

const EXACT = 0;
const SUFFIX = 1;
const PREFIX = 2;

/** `*.example.com` is a suffix glob, `example.*` a prefix glob, anything else exact. */
function globKind(g: string): number {
  return g.startsWith('*') ? SUFFIX : g.endsWith('*') ? PREFIX : EXACT;
}
