/**
 * Seeded generator of realistic Emissary configurations for differential tests against Emissary's
 * own compiler: the Helm chart's default Listeners (8080/8443, HTTPS, XFP, all namespaces),
 * cleartext Hosts (some with a mappingSelector), an optional `ambassador` Module, and Mappings in
 * getambassador.io/v2 and v3alpha1 — canary groups, Argo Rollouts `-canary` pairs, header and
 * regex conditions, rewrites, timeouts, host rewrites, header edits, redirects, case
 * insensitivity, precedence, and host-less Mappings.
 *
 * Only inputs both compilers are meant to accept alike are generated; the few documented
 * differences it can produce are flagged on the config (`documented`), so a run can count them
 * apart.
 */
import { prng } from '../../services/compiler/test-prng.ts';

type Json = Record<string, unknown>;

/** One generated configuration. */
export interface GeneratedConfig {
  seed: number;
  /** Kubernetes-style objects, in the order they are written. */
  objects: Json[];
  /** Concrete request authorities worth probing (every Host hostname instantiated, plus a stranger). */
  authorities: string[];
  /** Request paths worth probing (every Mapping prefix, a case variant, a miss). */
  paths: string[];
  /** Request header sets worth probing (none, and every header condition of a Mapping). */
  headerSets: Record<string, string>[];
  /** Deliberate differences (FEATURES.md) this config exercises, by short name; empty for most. */
  documented: string[];
}

const NAMESPACES = ['default', 'shop'];
const HOSTNAMES = ['*', 'shop.example.com', 'api.example.com', '*.example.com', 'foo.test'];
const PREFIXES = ['/', '/api/', '/api/v1/', '/shop/', '/echo/', '/Cart/'];
/** Regex prefixes with a path each fully matches. */
const REGEX_PREFIXES: [string, string][] = [
  ['/api/v[0-9]+/.*', '/api/v2/items'],
  ['/img/[a-z]+\\.png', '/img/logo.png'],
];
const APPS = ['echo', 'quote', 'cart', 'users', 'app', 'web'];
const SERVICES = ['echo', 'quote', 'cart', 'users', 'app', 'web', 'backend'];

export function generateConfig(seed: number): GeneratedConfig {
  const r = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const chance = (p: number) => r() < p;
  const documented: string[] = [];
  const objects: Json[] = [];

  // The Helm chart's Listeners (Emissary compiles no listener without them).
  if (chance(0.97)) {
    for (const port of [8080, 8443]) {
      objects.push({
        apiVersion: 'getambassador.io/v3alpha1',
        kind: 'Listener',
        metadata: { name: `emissary-ingress-${port === 8080 ? 'http' : 'https'}`, namespace: 'emissary' },
        spec: { port, protocol: 'HTTPS', securityModel: 'XFP', hostBinding: { namespace: { from: 'ALL' } } },
      });
    }
  } else documented.push('default-listeners');

  // Hosts: distinct hostnames, cleartext, each insecure action possible.
  const hostCount = Math.floor(r() * 4);
  const hostnames = shuffle(HOSTNAMES, r).slice(0, hostCount);
  const selectors: string[] = [];
  hostnames.forEach((hostname, i) => {
    const spec: Json = { hostname };
    const action = pick(['Route', 'Redirect', 'Reject', undefined]);
    if (action) spec.requestPolicy = { insecure: { action } };
    if (chance(0.3)) {
      const team = pick(['a', 'b']);
      selectors.push(team);
      spec.mappingSelector = { matchLabels: { team } };
    }
    objects.push({
      apiVersion: 'getambassador.io/v3alpha1',
      kind: 'Host',
      metadata: { name: `host-${i}`, namespace: pick(NAMESPACES) },
      spec,
    });
  });

  if (chance(0.3)) {
    const config: Json = {};
    if (chance(0.6)) config.cluster_request_timeout_ms = pick([1000, 5000, 10000]);
    objects.push({
      apiVersion: 'getambassador.io/v3alpha1',
      kind: 'Module',
      metadata: { name: 'ambassador', namespace: 'emissary' },
      spec: { config },
    });
  }

  // Mappings: a few route "families" (same prefix and host), each with 1–3 members.
  const paths = new Set<string>(['/nothing-here/x']);
  const headerSets: Record<string, string>[] = [{}];
  const used = new Set<string>();
  const families = 2 + Math.floor(r() * 5);
  for (let f = 0; f < families; f++) {
    const ns = pick(NAMESPACES);
    const v2 = chance(0.35);
    const apiVersion = v2 ? 'getambassador.io/v2' : 'getambassador.io/v3alpha1';
    const base: Json = {};
    const regex = chance(0.12) ? pick(REGEX_PREFIXES) : undefined;
    if (regex) {
      base.prefix = regex[0];
      base.prefix_regex = true;
      paths.add(regex[1]);
    } else {
      base.prefix = pick(PREFIXES);
      paths.add(`${base.prefix}x1`);
      paths.add(`${(base.prefix as string).toUpperCase()}x1`);
    }
    const hostChoice = r();
    if (hostChoice < 0.35) {
      // host-less
    } else if (hostChoice < 0.6) base.hostname = '*';
    else {
      const h = pick(HOSTNAMES.filter((x) => x !== '*'));
      if (v2 && chance(0.5) && !h.includes('*')) base.host = h;
      else base.hostname = h;
    }
    if (chance(0.25)) {
      const value = pick(['prod', 'beta']);
      base.headers = { 'x-env': value };
      headerSets.push({ 'x-env': value });
    }
    if (chance(0.1)) {
      base.regex_headers = { 'x-user': '^[a-z]+$' };
      headerSets.push({ 'x-user': 'alice' });
    }
    if (chance(0.15)) base.precedence = pick([1, 5]);
    const redirect = !regex && chance(0.08);
    const members = redirect ? 1 : 1 + Math.floor(r() * 3);
    const argo = !redirect && members === 2 && chance(0.5);
    const app = pick(APPS);
    const labels = chance(0.35) && selectors.length > 0 ? { team: pick(selectors) } : undefined;
    let weightSum = 0;
    for (let k = 0; k < members; k++) {
      let name = argo
        ? k === 0
          ? app
          : `${app}-canary`
        : k === 0
          ? app
          : `${app}-${pick(['v2', 'b', 'x'])}`;
      while (used.has(`${ns}/${name}`)) name = `${name}-${Math.floor(r() * 10)}`;
      used.add(`${ns}/${name}`);
      const spec: Json = { ...base };
      if (redirect) {
        spec.service = pick(['elsewhere.example.net', 'www.example.org']);
        spec.host_redirect = true;
        if (chance(0.5)) spec.path_redirect = '/moved';
      } else {
        const svc = pick(SERVICES);
        spec.service = argo ? `${svc}-${k === 0 ? 'stable' : 'canary'}` : pickService(svc, r);
        memberOptions(spec, r);
      }
      if (argo && k === 1) spec.weight = pick([0, 10, 30, 50, 100]);
      else if (!argo && members > 1 && chance(0.4)) spec.weight = pick([10, 20, 25, 33, 50]);
      weightSum += typeof spec.weight === 'number' ? spec.weight : 0;
      const metadata: Json = { name, namespace: ns };
      // Argo's canary copy drops labels.
      if (labels && !(argo && k === 1)) metadata.labels = labels;
      objects.push({ apiVersion, kind: 'Mapping', metadata, spec });
    }
    // Emissary posts an error and still routes (thresholds past 100); Attaché drops the group.
    if (weightSum > 100 && !documented.includes('weight-over-100')) documented.push('weight-over-100');
  }

  const authorities = [
    ...new Set([...hostnames.map((h) => (h === '*' ? 'any.test' : h.replace('*', 'www'))), 'stranger.test']),
  ];
  return { seed, objects, authorities, paths: [...paths], headerSets, documented };
}

/**
 * A configuration made of given objects (a golden case's input), probed at every Host and
 * Mapping hostname, every Mapping prefix (and its upper-case variant) and every exact header
 * condition.
 */
export function fixtureConfig(objects: Json[], documented: string[] = []): GeneratedConfig {
  const authorities = new Set<string>(['stranger.test']);
  const paths = new Set<string>(['/nothing-here/x']);
  const headerSets: Record<string, string>[] = [{}];
  const concrete = (h: string) => (h === '*' ? 'any.test' : h.replace('*', 'www'));
  for (const o of objects) {
    const spec = (o.spec ?? {}) as Json;
    const host = spec.hostname ?? spec.host;
    if (typeof host === 'string' && (o.kind === 'Host' || o.kind === 'Mapping'))
      authorities.add(concrete(host));
    if (o.kind !== 'Mapping' || typeof spec.prefix !== 'string' || spec.prefix_regex) continue;
    paths.add(`${spec.prefix}x1`);
    paths.add(`${spec.prefix.toUpperCase()}x1`);
    const headers = spec.headers as Record<string, unknown> | undefined;
    if (headers) {
      const exact = Object.entries(headers).filter((e): e is [string, string] => typeof e[1] === 'string');
      if (exact.length > 0) headerSets.push(Object.fromEntries(exact));
    }
  }
  return { seed: 0, objects, authorities: [...authorities], paths: [...paths], headerSets, documented };
}

function pickService(svc: string, r: () => number): string {
  const k = r();
  if (k < 0.6) return svc;
  if (k < 0.8) return `${svc}:8080`;
  return `${svc}.default`;
}

/** Per-Mapping settings (not group-level ones that must agree within a group). */
function memberOptions(spec: Json, r: () => number): void {
  if (r() < 0.3) spec.rewrite = r() < 0.5 ? '' : '/v2/';
  if (r() < 0.3) spec.timeout_ms = [500, 2500, 7000][Math.floor(r() * 3)];
  if (r() < 0.15) spec.host_rewrite = 'internal.example.com';
  if (r() < 0.15) spec.case_sensitive = false;
  if (r() < 0.2)
    spec.add_request_headers = { 'x-added': r() < 0.5 ? 'one' : { value: 'two', append: false } };
  if (r() < 0.1) spec.remove_request_headers = ['x-drop'];
  if (r() < 0.1) spec.add_response_headers = { 'x-served-by': 'gen' };
}

function shuffle<T>(xs: readonly T[], r: () => number): T[] {
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}
