/**
 * Envoy's route-table evaluation for one request, as the router does it: pick the virtual host by
 * domain (exact, then the longest `*.suffix`, then the longest `prefix.*`, then `*`), then walk its
 * routes in order; a route matches when its path condition, headers and query parameters all
 * match. A route with a runtime_fraction takes only that share of the requests it matches (one
 * random value per request, so cumulative thresholds split traffic), the rest continue down the
 * table. Pure; explains every route it passes over.
 */
import { asArray, type RouteTarget, routeTargets } from './route-table.ts';

export interface HttpRequest {
  authority: string;
  path: string;
  method: string;
  /** Lowercase header names. */
  headers: Record<string, string>;
}

/** Why one route did or did not take the request. */
export interface RouteVerdict {
  index: number;
  route: Record<string, unknown>;
  /** Empty when the conditions match. */
  mismatch: string[];
  /** Share of all requests like this one that this route takes (percent, 0 when it does not match). */
  share: number;
}

export interface TableVerdict {
  /** Index of the chosen virtual host, or -1 when no domain matches. */
  virtualHost: number;
  /** Why that virtual host was chosen. */
  domainMatch: string;
  /** Every route up to the one that takes the remaining traffic (or all, when none does). */
  routes: RouteVerdict[];
  /** Where requests like this go: per route, its clusters with their share of all such requests. */
  targets: { index: number; target: RouteTarget }[];
}

export function evaluateRouteTable(routeConfig: Record<string, unknown>, req: HttpRequest): TableVerdict {
  const vhosts = asArray(routeConfig.virtual_hosts);
  const { index: vi, why } = selectVirtualHost(
    vhosts.map((v) => asArray<string>(v.domains)),
    req.authority,
  );
  const verdict: TableVerdict = { virtualHost: vi, domainMatch: why, routes: [], targets: [] };
  if (vi < 0) return verdict;
  let covered = 0;
  for (const [index, route] of asArray(vhosts[vi]?.routes).entries()) {
    const mismatch = routeMismatch(route, req);
    let share = 0;
    if (mismatch.length === 0) {
      const f = fractionPercent(route);
      share = Math.max(0, f - covered);
      covered = Math.max(covered, f);
    }
    verdict.routes.push({ index, route, mismatch, share });
    if (share > 0)
      for (const t of routeTargets(route))
        verdict.targets.push({ index, target: { cluster: t.cluster, percent: (share * t.percent) / 100 } });
    if (covered >= 100) break;
  }
  return verdict;
}

/** Envoy's domain search order. */
export function selectVirtualHost(
  domainsPerHost: readonly string[][],
  authority: string,
): { index: number; why: string } {
  const host = authority.toLowerCase();
  const bare = host.replace(/:\d+$/, '');
  for (const candidate of host === bare ? [host] : [host, bare]) {
    let best: { index: number; why: string; rank: number; len: number } | undefined;
    domainsPerHost.forEach((domains, index) => {
      for (const d of domains.map((x) => x.toLowerCase())) {
        let rank = -1;
        let len = d.length;
        if (d === candidate) rank = 3;
        else if (
          d.startsWith('*') &&
          d !== '*' &&
          candidate.endsWith(d.slice(1)) &&
          candidate.length > d.length - 1
        )
          rank = 2;
        else if (
          d.endsWith('*') &&
          d !== '*' &&
          candidate.startsWith(d.slice(0, -1)) &&
          candidate.length > d.length - 1
        )
          rank = 1;
        else if (d === '*') {
          rank = 0;
          len = 0;
        }
        if (rank < 0) continue;
        if (!best || rank > best.rank || (rank === best.rank && len > best.len)) {
          const kind = ['the catch-all *', 'prefix wildcard', 'suffix wildcard', 'exact domain'][rank];
          best = {
            index,
            why: `${kind} ${JSON.stringify(d)} matches ${JSON.stringify(candidate)}`,
            rank,
            len,
          };
        }
      }
    });
    if (best) return { index: best.index, why: best.why };
  }
  return { index: -1, why: `no virtual host serves ${JSON.stringify(authority)}` };
}

/** Reasons the route's conditions reject the request; empty when they all match. */
export function routeMismatch(route: Record<string, unknown>, req: HttpRequest): string[] {
  const m = (route.match ?? {}) as Record<string, unknown>;
  const out: string[] = [];
  const path = req.path.split('?')[0] ?? '';
  const sensitive = (m.case_sensitive as boolean | undefined) ?? true;
  const fold = (s: string) => (sensitive ? s : s.toLowerCase());
  if (typeof m.prefix === 'string') {
    if (!fold(path).startsWith(fold(m.prefix))) out.push(`path ${path} does not start with ${m.prefix}`);
  } else if (typeof m.path === 'string') {
    if (fold(path) !== fold(m.path)) out.push(`path ${path} is not ${m.path}`);
  } else if (typeof m.path_separated_prefix === 'string') {
    const p = m.path_separated_prefix;
    if (!(path === p || path.startsWith(`${p}/`) || path.startsWith(`${p}?`)))
      out.push(`path ${path} is not ${p} or below it`);
  } else if (m.safe_regex) {
    const re = String((m.safe_regex as { regex?: string }).regex ?? '');
    if (!fullMatch(re, path)) out.push(`path ${path} does not match the regex ${re}`);
  }
  for (const h of asArray(m.headers)) {
    const problem = headerMismatch(h, req);
    if (problem) out.push(problem);
  }
  const query = new URLSearchParams(req.path.includes('?') ? req.path.slice(req.path.indexOf('?') + 1) : '');
  for (const q of asArray(m.query_parameters)) {
    const name = String(q.name ?? '');
    const value = query.get(name);
    if (q.present_match) {
      if (value === null) out.push(`query parameter ${name} is absent`);
    } else if (value === null || !stringMatches(q.string_match as Record<string, unknown>, value)) {
      out.push(
        `query parameter ${name}=${value ?? '(absent)'} does not match ${JSON.stringify(q.string_match)}`,
      );
    }
  }
  return out;
}

function headerMismatch(h: Record<string, unknown>, req: HttpRequest): string | undefined {
  const name = String(h.name ?? '').toLowerCase();
  const value =
    name === ':authority' || name === 'host'
      ? req.authority
      : name === ':method'
        ? req.method
        : name === ':path'
          ? req.path
          : req.headers[name];
  let ok: boolean;
  let wanted: string;
  if (h.present_match !== undefined) {
    ok = value !== undefined;
    wanted = 'present';
  } else if (h.string_match) {
    ok = value !== undefined && stringMatches(h.string_match as Record<string, unknown>, value);
    wanted = JSON.stringify(h.string_match);
  } else if (typeof h.exact_match === 'string') {
    ok = value === h.exact_match;
    wanted = JSON.stringify(h.exact_match);
  } else if (h.safe_regex_match) {
    const re = String((h.safe_regex_match as { regex?: string }).regex ?? '');
    ok = value !== undefined && fullMatch(re, value);
    wanted = `regex ${re}`;
  } else if (typeof h.prefix_match === 'string') {
    ok = value?.startsWith(h.prefix_match) ?? false;
    wanted = `prefix ${h.prefix_match}`;
  } else if (typeof h.suffix_match === 'string') {
    ok = value?.endsWith(h.suffix_match) ?? false;
    wanted = `suffix ${h.suffix_match}`;
  } else {
    ok = value !== undefined;
    wanted = 'present';
  }
  if (h.invert_match === true) ok = !ok;
  if (ok) return undefined;
  return `header ${name}${value === undefined ? ' is absent' : `: ${value}`}, wanted ${h.invert_match ? 'not ' : ''}${wanted}`;
}

function stringMatches(m: Record<string, unknown> | undefined, value: string): boolean {
  if (!m) return true;
  const ic = m.ignore_case === true;
  const v = ic ? value.toLowerCase() : value;
  const f = (s: unknown) => (ic ? String(s).toLowerCase() : String(s));
  if (m.exact !== undefined) return v === f(m.exact);
  if (m.prefix !== undefined) return v.startsWith(f(m.prefix));
  if (m.suffix !== undefined) return v.endsWith(f(m.suffix));
  if (m.contains !== undefined) return v.includes(f(m.contains));
  if (m.safe_regex) return fullMatch(String((m.safe_regex as { regex?: string }).regex ?? ''), value);
  return true;
}

/** RE2 full match, approximated with a JavaScript regex (the RE2 subset Emissary users write). */
function fullMatch(re: string, value: string): boolean {
  try {
    return new RegExp(`^(?:${re})$`).test(value);
  } catch {
    return false;
  }
}

/** The route's runtime_fraction as a percentage; 100 without one. */
function fractionPercent(route: Record<string, unknown>): number {
  const rf = (route.match as Record<string, unknown> | undefined)?.runtime_fraction as
    | { default_value?: { numerator?: number; denominator?: string } }
    | undefined;
  if (!rf?.default_value) return 100;
  const n = Number(rf.default_value.numerator ?? 0);
  const d =
    rf.default_value.denominator === 'MILLION'
      ? 1_000_000
      : rf.default_value.denominator === 'TEN_THOUSAND'
        ? 10_000
        : 100;
  return Math.min(100, (100 * n) / d);
}
