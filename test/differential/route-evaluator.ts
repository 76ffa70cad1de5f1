/**
 * Evaluates Envoy route tables the way Envoy does, for differential tests: virtual host by
 * `:authority` (exact, then longest `*.suffix`, then longest `prefix.*`, then `*`), then the first
 * route whose path, header, query and runtime-fraction conditions hold. One random value per
 * request decides every runtime fraction, so weight shares come out exactly by evaluating each
 * interval between the tables' fraction thresholds.
 *
 * Tables come from Emissary's `econf.json` (inline route_config, STRICT_DNS clusters) or from
 * Attaché's decoded resources (RDS, EDS clusters); both are reduced to `RouteTables`, with
 * clusters named by the backend they reach (`service.namespace:port`), since cluster names differ
 * by design.
 */

// biome-ignore lint/suspicious/noExplicitAny: Envoy JSON from two producers (Python dicts, decoded protobuf) is read loosely; every field is checked where used
type Json = Record<string, any>;

/** Per listener name: the virtual hosts of its cleartext HTTP chain. Clusters: name → backend. */
export interface RouteTables {
  listeners: Map<string, Json[]>;
  backends: Map<string, string>;
}

export interface ProbeRequest {
  authority: string;
  path: string;
  /** Lower-case names. */
  headers: Record<string, string>;
}

/** What a request gets, with its share of traffic (0–1). */
export interface Outcome {
  key: string;
  share: number;
}

/** Emissary's ADS output (`econf.json`). */
export function emissaryTables(econf: Json): RouteTables {
  const listeners = new Map<string, Json[]>();
  for (const l of econf.static_resources?.listeners ?? []) {
    for (const chain of l.filter_chains ?? []) {
      if (chain.filter_chain_match?.server_names || chain.filter_chain_match?.transport_protocol === 'tls')
        continue;
      for (const f of chain.filters ?? []) {
        const rc = f.typed_config?.route_config;
        if (rc && !listeners.has(l.name)) listeners.set(l.name, rc.virtual_hosts ?? []);
      }
    }
  }
  const backends = new Map<string, string>();
  for (const c of econf.static_resources?.clusters ?? []) {
    const sa = c.load_assignment?.endpoints?.[0]?.lb_endpoints?.[0]?.endpoint?.address?.socket_address;
    // Emissary leaves services in its own namespace (AMBASSADOR_NAMESPACE, `default`) unqualified.
    const address = /^[a-z0-9-]+$/.test(sa?.address ?? '.') ? `${sa.address}.default` : sa?.address;
    if (sa) backends.set(c.name, `${address}:${sa.port_value}`);
  }
  return { listeners, backends };
}

/** Attaché's decoded listeners, route configurations and clusters (translate-output.ts JSON). */
export function attacheTables(listenerDocs: Json[], routeDocs: Json[], clusterDocs: Json[]): RouteTables {
  const routeConfigs = new Map(routeDocs.map((rc) => [rc.name as string, rc]));
  const listeners = new Map<string, Json[]>();
  for (const l of listenerDocs) {
    for (const chain of l.filter_chains ?? []) {
      if (chain.filter_chain_match?.server_names || chain.filter_chain_match?.transport_protocol === 'tls')
        continue;
      for (const f of chain.filters ?? []) {
        const name = f.typed_config?.rds?.route_config_name;
        const rc = name ? routeConfigs.get(name) : f.typed_config?.route_config;
        if (rc && !listeners.has(l.name)) listeners.set(l.name, rc.virtual_hosts ?? []);
      }
    }
  }
  const backends = new Map<string, string>();
  for (const c of clusterDocs) {
    const eds = c.eds_cluster_config?.service_name as string | undefined;
    const m = eds ? /^k8s\/([^/]+)\/([^/]+)\/(\d+)$/.exec(eds) : null;
    if (m) backends.set(c.name, `${m[2]}.${m[1]}:${m[3]}`);
    else {
      const sa = c.load_assignment?.endpoints?.[0]?.lb_endpoints?.[0]?.endpoint?.address?.socket_address;
      if (sa) backends.set(c.name, `${sa.address}:${sa.port_value}`);
    }
  }
  return { listeners, backends };
}

/** Every runtime-fraction threshold (0–1) in a set of virtual hosts. */
export function thresholds(vhosts: readonly Json[]): number[] {
  const out: number[] = [];
  for (const vh of vhosts)
    for (const route of vh.routes ?? []) {
      const f = route.match?.runtime_fraction;
      if (f) out.push(fraction(f));
    }
  return out;
}

/** Outcomes of one request over the whole random range, given every threshold that matters. */
export function evaluate(
  vhosts: readonly Json[],
  req: ProbeRequest,
  cuts: readonly number[],
  backends: ReadonlyMap<string, string>,
): Outcome[] {
  const points = [...new Set([0, 1, ...cuts.filter((c) => c > 0 && c < 1)])].sort((a, b) => a - b);
  const shares = new Map<string, number>();
  const vh = selectVirtualHost(vhosts, req.authority);
  for (let i = 0; i + 1 < points.length; i++) {
    const width = points[i + 1]! - points[i]!;
    const key = vh ? outcome(vh, req, (points[i]! + points[i + 1]!) / 2, backends) : NOT_FOUND;
    shares.set(key, (shares.get(key) ?? 0) + width);
  }
  return [...shares].map(([key, share]) => ({ key, share })).sort((a, b) => (a.key < b.key ? -1 : 1));
}

export function sameOutcomes(a: readonly Outcome[], b: readonly Outcome[]): boolean {
  return (
    a.length === b.length && a.every((x, i) => x.key === b[i]!.key && Math.abs(x.share - b[i]!.share) < 1e-9)
  );
}

function selectVirtualHost(vhosts: readonly Json[], authority: string): Json | undefined {
  const host = authority.toLowerCase();
  const domains = (vh: Json): string[] => (vh.domains ?? []).map((d: string) => d.toLowerCase());
  const exact = vhosts.find((vh) => domains(vh).includes(host));
  if (exact) return exact;
  let best: { vh: Json; len: number } | undefined;
  for (const kind of ['suffix', 'prefix'] as const) {
    for (const vh of vhosts) {
      for (const d of domains(vh)) {
        if (d === '*') continue;
        const ok =
          kind === 'suffix'
            ? d.startsWith('*') && host.endsWith(d.slice(1)) && host.length > d.length - 1
            : d.endsWith('*') && host.startsWith(d.slice(0, -1)) && host.length > d.length - 1;
        if (ok && (!best || d.length > best.len)) best = { vh, len: d.length };
      }
    }
    if (best) return best.vh;
  }
  return vhosts.find((vh) => domains(vh).includes('*'));
}

function outcome(vh: Json, req: ProbeRequest, random: number, backends: ReadonlyMap<string, string>): string {
  for (const route of vh.routes ?? []) {
    const match = route.match ?? {};
    const path = req.path.split('?')[0]!;
    const matched = pathMatch(match, path);
    if (matched === undefined) continue;
    if (!(match.headers ?? []).every((h: Json) => headerMatches(h, req))) continue;
    if ((match.query_parameters ?? []).length > 0) continue; // probes carry no query string
    if (match.runtime_fraction && !(random < fraction(match.runtime_fraction))) continue;
    return describe(route, path, matched, backends);
  }
  return NOT_FOUND;
}

/**
 * No virtual host, no route, and a `direct_response` 404 are the same answer to the client
 * (Attaché answers Reject with a direct 404 where Emissary drops the route: FEATURES.md).
 */
const NOT_FOUND = '404';

/** The matched part of the path (for prefix_rewrite), or undefined when the route does not match. */
function pathMatch(match: Json, path: string): string | undefined {
  const sensitive = boolValue(match.case_sensitive) ?? true;
  const norm = (s: string) => (sensitive ? s : s.toLowerCase());
  if (typeof match.prefix === 'string')
    return norm(path).startsWith(norm(match.prefix)) ? path.slice(0, match.prefix.length) : undefined;
  if (typeof match.path === 'string') return norm(path) === norm(match.path) ? path : undefined;
  if (match.safe_regex) return fullMatch(match.safe_regex.regex, path) ? path : undefined;
  return undefined;
}

function headerMatches(h: Json, req: ProbeRequest): boolean {
  const name = String(h.name).toLowerCase();
  const value = name === ':authority' ? req.authority : req.headers[name];
  let ok: boolean;
  if (h.present_match !== undefined) ok = value !== undefined;
  else if (value === undefined) ok = false;
  else {
    const sm = h.string_match ?? {};
    const exact = sm.exact ?? h.exact_match;
    const prefix = sm.prefix ?? h.prefix_match;
    const suffix = sm.suffix ?? h.suffix_match;
    const regex = sm.safe_regex?.regex ?? h.safe_regex_match?.regex;
    if (exact !== undefined) ok = value === exact;
    else if (prefix !== undefined) ok = value.startsWith(prefix);
    else if (suffix !== undefined) ok = value.endsWith(suffix);
    else if (regex !== undefined) ok = fullMatch(regex, value);
    else ok = true;
  }
  return h.invert_match ? !ok : ok;
}

function describe(route: Json, path: string, matched: string, backends: ReadonlyMap<string, string>): string {
  if (route.direct_response)
    return route.direct_response.status === 404 ? NOT_FOUND : `direct ${route.direct_response.status}`;
  if (route.redirect) {
    const r = route.redirect;
    return JSON.stringify({
      redirect: redirectCode(r.response_code),
      https: r.https_redirect === true,
      host: r.host_redirect,
      path: r.path_redirect,
      prefix: r.prefix_rewrite,
    });
  }
  const a = route.route ?? {};
  let rewritten = path;
  if (typeof a.prefix_rewrite === 'string' && a.prefix_rewrite !== '')
    rewritten = a.prefix_rewrite + path.slice(matched.length);
  else if (a.regex_rewrite)
    rewritten = path.replace(
      new RegExp(a.regex_rewrite.pattern.regex, 'g'),
      String(a.regex_rewrite.substitution).replace(/\\(\d)/g, '$$$1'),
    );
  return JSON.stringify({
    backend: backends.get(a.cluster) ?? `unknown cluster ${a.cluster}`,
    path: rewritten,
    timeoutMs: durationMs(a.timeout),
    hostRewrite: a.host_rewrite_literal,
    autoHostRewrite: boolValue(a.auto_host_rewrite) || undefined,
    addRequest: headersToAdd(route.request_headers_to_add),
    removeRequest: sorted(route.request_headers_to_remove),
    addResponse: headersToAdd(route.response_headers_to_add),
    removeResponse: sorted(route.response_headers_to_remove),
  });
}

function headersToAdd(list: Json[] | undefined): string[] | undefined {
  if (!list || list.length === 0) return undefined;
  return list
    .map((h) => {
      const append =
        h.append_action !== undefined
          ? h.append_action === 'APPEND_IF_EXISTS_OR_ADD' || h.append_action === 0
          : (boolValue(h.append) ?? true);
      return `${String(h.header.key).toLowerCase()}=${h.header.value}${append ? ' (append)' : ' (overwrite)'}`;
    })
    .sort();
}

function sorted(list: string[] | undefined): string[] | undefined {
  return list && list.length > 0 ? [...list].map((s) => s.toLowerCase()).sort() : undefined;
}

const DENOMINATORS: Record<string, number> = { HUNDRED: 100, TEN_THOUSAND: 10_000, MILLION: 1_000_000 };

function fraction(f: Json): number {
  const d = f.default_value ?? {};
  const denom =
    typeof d.denominator === 'number'
      ? [100, 10_000, 1_000_000][d.denominator]!
      : (DENOMINATORS[d.denominator ?? 'HUNDRED'] ?? 100);
  return (d.numerator ?? 0) / denom;
}

const REDIRECT_CODES: Record<string, number> = {
  MOVED_PERMANENTLY: 301,
  FOUND: 302,
  SEE_OTHER: 303,
  TEMPORARY_REDIRECT: 307,
  PERMANENT_REDIRECT: 308,
};

function redirectCode(code: unknown): number {
  if (code === undefined) return 301;
  if (typeof code === 'number') return [301, 302, 303, 307, 308][code] ?? code;
  return REDIRECT_CODES[String(code)] ?? 301;
}

function durationMs(d: unknown): number | undefined {
  if (d === undefined) return undefined;
  if (typeof d === 'string') return Math.round(Number.parseFloat(d) * 1000);
  const o = d as { seconds?: string | number; nanos?: number };
  return Number(o.seconds ?? 0) * 1000 + Math.round((o.nanos ?? 0) / 1e6);
}

function boolValue(v: unknown): boolean | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'boolean') return v;
  return (v as { value?: boolean }).value ?? false;
}

function fullMatch(pattern: string, value: string): boolean {
  return new RegExp(`^(?:${pattern})$`).test(value);
}
