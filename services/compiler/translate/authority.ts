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
  remaining: HeaderMatch[];
}

export function evaluateAuthority(headers: readonly HeaderMatch[], authority: string): AuthorityVerdict {
  let matches = true;
  const remaining: HeaderMatch[] = [];
  for (const h of headers) {
    if (h.name !== ':authority') {
      remaining.push(h);
      continue;
    }
    matches &&= holds(h, authority);
  }
  return { matches, remaining };
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

/** RE2 full match approximated with a JavaScript RegExp (patterns were checked for RE2 compatibility). */
function fullMatch(pattern: string, value: string): boolean {
  try {
    return new RegExp(`^(?:${pattern})$`, 'u').test(value);
  } catch {
    return false;
  }
}
