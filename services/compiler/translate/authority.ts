/**
 * Static evaluation of `:authority` conditions against a fixed authority. A proxyless gRPC client
 * dialling `xds:///H` always sends `:authority: H`, so a route's `:authority` matchers can be
 * decided at compile time: the route either never applies to H or applies without them.
 */
import type { HeaderMatch } from '../ir/types.ts';

export interface AuthorityVerdict {
  /** Whether every `:authority` condition holds for the authority. */
  matches: boolean;
  /** The conditions left to evaluate at request time (all but `:authority`). */
  remaining: readonly HeaderMatch[];
}

const NO_MATCH: AuthorityVerdict = Object.freeze({ matches: false, remaining: Object.freeze([]) });

/**
 * Called for every (API host, route group) pair: a group that does not apply to the authority
 * costs no allocation, and one without `:authority` conditions keeps its own list.
 */
export function evaluateAuthority(headers: readonly HeaderMatch[], authority: string): AuthorityVerdict {
  let conditions = 0;
  for (const h of headers) {
    if (h.name !== ':authority') continue;
    if (!holds(h, authority)) return NO_MATCH;
    conditions++;
  }
  if (conditions === 0) return { matches: true, remaining: headers };
  return { matches: true, remaining: headers.filter((h) => h.name !== ':authority') };
}

function holds(h: HeaderMatch, value: string): boolean {
  switch (h.match) {
    case 'present':
      return true;
    case 'exact':
      return value === h.value;
    case 'prefix':
      return value.startsWith(h.value);
    case 'suffix':
      return value.endsWith(h.value);
    case 'regex':
      return fullMatch(h.value, value);
  }
}

/** Compiled full-match patterns (null: not a valid JavaScript pattern), a bounded memo. */
const patterns = new Map<string, RegExp | null>();
const MEMO_LIMIT = 4096;

/** RE2 full match approximated with a JavaScript RegExp (patterns were checked for RE2 compatibility). */
function fullMatch(pattern: string, value: string): boolean {
  let re = patterns.get(pattern);
  if (re === undefined) {
    try {
      re = new RegExp(`^(?:${pattern})$`, 'u');
    } catch {
      re = null;
    }
    if (patterns.size >= MEMO_LIMIT) patterns.clear();
    patterns.set(pattern, re);
  }
  return re?.test(value) === true;
}
