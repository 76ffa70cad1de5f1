/**
 * Provenance side output of compile: which source objects produced each generated resource, each
 * virtual host and each route. It is derived from the IR and the translated resources after the
 * fact, so no pass changes to produce it, and it is pure: the same records give the same
 * provenance, which the snapshot stores as a content-addressed blob beside its resources (never
 * inside an Envoy resource).
 *
 * Routes are attributed by content: an Envoy route is matched back to the IR route that has the
 * same path condition, the same non-authority header names and the same cluster (or redirect),
 * restricted to groups whose hostname can serve the virtual host. Two Mappings that agree on all of
 * that are both named.
 *
 * Endpoint objects (EndpointSlice, Endpoints) are named by identity only, without resourceVersion
 * or sequence: they churn constantly, and an endpoint-only change must not change the
 * provenance of anything else.
 */
import type { Route } from '../../proto/gen/envoy/config/route/v3/Route.ts';
import type { RouteConfiguration } from '../../proto/gen/envoy/config/route/v3/RouteConfiguration.ts';
import { ENDPOINT_KINDS, type SourceObject } from '../../shared/events/envelope.ts';
import { objectId, type Provenance, type ProvenanceObject } from '../../shared/snapshot/provenance.ts';
import {
  CLUSTER_TYPE,
  ENDPOINT_TYPE,
  LISTENER_TYPE,
  ROUTE_TYPE,
  SECRET_TYPE,
} from '../../shared/xds/type-urls.ts';
import type { SourceRecord } from './contracts.ts';
import { hostGlobsOverlap } from './ir/host-match.ts';
import type { IR, RouteGroup } from './ir/types.ts';
import type { EdgeIR } from './ir/types-edge.ts';
import type { SourceRef } from './sources/types.ts';
import type { EnvoyResource } from './translate/common.ts';
import { API_ROUTE_CONFIG_PREFIX } from './translate/common.ts';

const XFP = 'x-forwarded-proto';

export function buildProvenance(
  records: readonly SourceRecord[],
  ir: IR,
  edge: EdgeIR,
  resources: readonly EnvoyResource[],
): Provenance {
  const objects = new Map<string, ProvenanceObject>();
  for (const r of records) {
    const o = provenanceObject(r);
    if (!o) continue;
    // Identities are unique in world state; for inputs that repeat one (tests, offline
    // translate), the earliest file position wins, whatever the input order.
    const id = objectId(o);
    const seen = objects.get(id);
    if (!seen || originOrder(o) < originOrder(seen)) objects.set(id, o);
  }
  // Objects by file position, for Mappings derived from another object (below): built on first
  // use, since most outputs have none.
  let byOrigin: Map<string, string> | undefined;
  const originOf = (key: string): string | undefined => {
    if (byOrigin === undefined) {
      byOrigin = new Map();
      for (const [id, o] of objects)
        if (o.file !== undefined) byOrigin.set(`${o.cluster}\u0000${o.file}#${o.document}`, id);
    }
    return byOrigin.get(key);
  };
  // A SourceRef's id when it names a known object (null when not), by the ref itself: the IR
  // shares one ref among every route of a Mapping, so each is spelled and looked up once per
  // compile instead of once per route it is behind.
  const refIds = new Map<SourceRef, string | null>();
  const knownId = (s: SourceRef | string): string | null => {
    if (typeof s === 'string') return objects.has(s) ? s : null;
    let id = refIds.get(s);
    if (id === undefined) {
      const spelled = objectId(s);
      id = objects.has(spelled) ? spelled : null;
      refIds.set(s, id);
    }
    return id;
  };
  const known = (refs: Iterable<SourceRef | string>): string[] => {
    // One object behind most routes: no set, no sort.
    if (Array.isArray(refs) && refs.length === 1) {
      const id = knownId(refs[0] as SourceRef | string);
      if (id !== null) return [id];
    }
    const ids = new Set<string>();
    for (const s of refs) {
      const id = knownId(s);
      if (id !== null) ids.add(id);
      else if (typeof s !== 'string') {
        const derived = derivedFrom(s);
        if (derived) ids.add(derived);
      }
    }
    return [...ids].sort();
  };
  // Mappings the compiler derives from an annotated Service or an Ingress carry a name of their
  // own: name the object they were written in (same YAML document, else the Service or Ingress
  // whose name prefixes the derived name).
  const derivedFrom = (s: SourceRef): string | undefined => {
    if (s.file !== undefined) {
      const id = originOf(`${s.cluster}\u0000${s.file}#${s.document ?? 0}`);
      if (id) return id;
    }
    let best: string | undefined;
    let bestLength = 0;
    for (const [id, o] of objects) {
      if (o.cluster !== s.cluster || o.namespace !== s.namespace) continue;
      if (o.kind !== 'Service' && o.kind !== 'Ingress') continue;
      if (s.name.startsWith(o.name) && o.name.length > bestLength) {
        best = id;
        bestLength = o.name.length;
      }
    }
    return best;
  };

  // Objects behind each upstream cluster and each EDS service name.
  const clusterSources = new Map<string, Set<string>>();
  const addKnown = (m: Map<string, Set<string>>, key: string, ids: readonly string[]) => {
    let s = m.get(key);
    if (s === undefined) {
      s = new Set<string>();
      m.set(key, s);
    }
    for (const id of ids) s.add(id);
  };
  const add = (m: Map<string, Set<string>>, key: string, refs: Iterable<SourceRef | string>) =>
    addKnown(m, key, known(refs));
  // Services and endpoint objects by `namespace/service`, in `objects` order: built once, since
  // scanning every object (and every record, for a slice's label) per cluster is cubic at scale.
  const sliceLabels = new Map<string, string | undefined>();
  for (const r of records) {
    const o = r.object as Partial<SourceObject> | null | undefined;
    const m = o?.metadata;
    if (o?.kind !== 'EndpointSlice' || typeof m !== 'object' || m === null) continue;
    const id = objectId({
      cluster: r.cluster,
      kind: o.kind,
      namespace: typeof m.namespace === 'string' ? m.namespace : '',
      name: typeof m.name === 'string' ? m.name : '',
    });
    const label = (m.labels as Record<string, unknown> | undefined)?.['kubernetes.io/service-name'];
    if (!sliceLabels.has(id)) sliceLabels.set(id, typeof label === 'string' ? label : undefined);
  }
  const byService = new Map<string, string[]>();
  for (const [id, o] of objects) {
    const service =
      o.kind === 'Service' || o.kind === 'Endpoints'
        ? o.name
        : o.kind === 'EndpointSlice'
          ? sliceLabels.get(id)
          : undefined;
    if (service === undefined) continue;
    const key = `${o.namespace}/${service}`;
    const list = byService.get(key);
    if (list) list.push(id);
    else byService.set(key, [id]);
  }
  const serviceObjects = (namespace: string, service: string): string[] =>
    byService.get(`${namespace}/${service}`) ?? [];
  const edsSources = new Map<string, Set<string>>();
  for (const c of ir.clusters) {
    const ids: (SourceRef | string)[] = [...c.sources];
    if (c.target.kind === 'kubernetes') ids.push(...serviceObjects(c.target.namespace, c.target.name));
    const k = known(ids);
    addKnown(clusterSources, c.name, k);
    addKnown(edsSources, c.edsServiceName, k);
  }
  for (const l of edge.listeners)
    for (const chain of l.tcpChains)
      for (const c of chain.clusters) add(clusterSources, c.name, chain.sources);
  if (edge.extAuthz) add(clusterSources, edge.extAuthz.cluster, [edge.extAuthz.source]);
  if (edge.rateLimit) add(clusterSources, edge.rateLimit.cluster, [edge.rateLimit.source]);
  for (const c of edge.clusters) {
    if (c.discovery.kind === 'eds')
      add(edsSources, c.discovery.serviceName, clusterSources.get(c.name) ?? []);
  }
  for (const name of edsSources.keys()) {
    const k8s = /^k8s\/([^/]+)\/([^/]+)\//.exec(name);
    if (k8s) add(edsSources, name, serviceObjects(k8s[1] as string, k8s[2] as string));
  }

  // Hosts (and the Secrets they terminate TLS with) by SDS secret name and by virtual host.
  const secretSources = new Map<string, Set<string>>();
  const vhostHost = new Map<string, string>();
  for (const l of edge.listeners) {
    for (const h of l.hosts) {
      vhostHost.set(`${l.name}-${h.hostname}`, objectId(h.source));
      for (const secret of [h.tls?.certSecret, h.tls?.validationSecret]) {
        if (secret) add(secretSources, secret, [h.source, ...secretObjects(objects, secret)]);
      }
    }
    for (const chain of l.tcpChains) {
      for (const secret of [chain.tls?.certSecret, chain.tls?.validationSecret]) {
        if (secret) add(secretSources, secret, [...chain.sources, ...secretObjects(objects, secret)]);
      }
    }
  }

  const routeIndex = indexRoutes(ir.groups);
  const out: Provenance = { objects: {}, resources: {}, virtualHosts: {}, routes: {} };
  const listenerSources = new Map<string, (SourceRef | string)[]>();
  for (const l of edge.listeners) {
    listenerSources.set(l.name, [
      l.source,
      ...l.hosts.map((h) => h.source),
      ...l.tcpChains.flatMap((c) => c.sources),
    ]);
  }
  // Per route configuration, the objects behind its routes and virtual hosts, each once (most
  // routes of a configuration name objects other routes of it name too).
  const routeConfigSources = new Map<string, Set<string>>();
  // A route's objects depend only on its path condition, target, header names and the virtual
  // host's domains; the same route appears in the socket listeners' and the API listeners' route
  // configurations, so each such key is attributed once: by domains, then by the route object (the
  // socket listeners share theirs), then by path, target and header names (no key text per route).
  const attributed = new Map<string, AttributedRoutes>();
  for (const r of resources) {
    if (r.typeUrl !== ROUTE_TYPE) continue;
    const rc = r.message as RouteConfiguration;
    const apiHost = r.name.startsWith(API_ROUTE_CONFIG_PREFIX)
      ? r.name.slice(API_ROUTE_CONFIG_PREFIX.length)
      : undefined;
    const perVhost: Record<string, string[][]> = {};
    const vhostIds: Record<string, string[]> = {};
    const all = new Set<string>();
    for (const vh of rc.virtual_hosts ?? []) {
      const vhName = vh.name ?? '';
      const domains = apiHost !== undefined ? [apiHost] : (vh.domains ?? ['*']);
      const domainsKey = domains.join('\u0001');
      let memo = attributed.get(domainsKey);
      if (memo === undefined) {
        memo = { byRoute: new Map(), byKey: new Map() };
        attributed.set(domainsKey, memo);
      }
      const { byRoute, byKey } = memo;
      const routes = vh.routes ?? [];
      const lists: string[][] = new Array(routes.length);
      for (let i = 0; i < routes.length; i++) {
        const route = routes[i] as Route;
        let ids = byRoute.get(route);
        if (ids === undefined) {
          const m = route.match ?? {};
          const path = m.prefix ?? m.path ?? m.safe_regex?.regex ?? m.path_separated_prefix ?? '';
          const target = route.route?.cluster ?? (route.redirect || route.direct_response ? 'redirect' : '');
          const headers = headerNames(m.headers);
          let byTarget = byKey.get(path);
          if (byTarget === undefined) {
            byTarget = new Map();
            byKey.set(path, byTarget);
          }
          let byHeaders = byTarget.get(target);
          if (byHeaders === undefined) {
            byHeaders = new Map();
            byTarget.set(target, byHeaders);
          }
          ids = byHeaders.get(headers);
          if (ids === undefined) {
            ids = known(attributeRoute(routeIndex, path, target, headers, domains));
            byHeaders.set(headers, ids);
          }
          byRoute.set(route, ids);
        }
        for (const id of ids) all.add(id);
        // Each route its own array: readers may patch one route's list.
        lists[i] = ids.slice();
      }
      perVhost[vhName] = lists;
      const host = vhostHost.get(vhName);
      vhostIds[vhName] = known(host ? [host] : []);
      for (const id of vhostIds[vhName] ?? []) all.add(id);
    }
    out.routes[r.name] = perVhost;
    out.virtualHosts[r.name] = vhostIds;
    routeConfigSources.set(r.name, all);
  }

  const byType: Record<string, Record<string, string[]>> = {};
  const used = new Set<string>();
  for (const r of resources) {
    let ids: Iterable<SourceRef | string> = [];
    if (r.typeUrl === LISTENER_TYPE) {
      ids =
        listenerSources.get(r.name) ?? routeConfigSources.get(`${API_ROUTE_CONFIG_PREFIX}${r.name}`) ?? [];
    } else if (r.typeUrl === ROUTE_TYPE) ids = routeConfigSources.get(r.name) ?? [];
    else if (r.typeUrl === CLUSTER_TYPE) ids = clusterSources.get(r.name) ?? [];
    else if (r.typeUrl === ENDPOINT_TYPE) ids = edsSources.get(r.name) ?? [];
    else if (r.typeUrl === SECRET_TYPE) ids = secretSources.get(r.name) ?? [];
    const perType = byType[r.typeUrl] ?? {};
    byType[r.typeUrl] = perType;
    // The per-resource sets were filled through known(), so their ids are known already: sorting
    // is all that is left. The listeners' lists are refs still to resolve.
    const list = ids instanceof Set ? [...(ids as Set<string>)].sort() : known(ids);
    perType[r.name] = list;
    for (const id of list) used.add(id);
  }
  out.resources = byType;
  for (const id of [...used].sort()) out.objects[id] = objects.get(id) as ProvenanceObject;
  return out;
}

/**
 * How provenance names the object of a record; undefined for a record without a kind or metadata
 * (folded from the log as it came: no pass used it, parse-sources reports it, and it must not
 * make provenance throw).
 */
export function provenanceObject(r: SourceRecord): ProvenanceObject | undefined {
  const m = (r.object as Partial<SourceObject> | null | undefined)?.metadata;
  if (typeof r.object?.kind !== 'string' || typeof m !== 'object' || m === null) return undefined;
  const o: ProvenanceObject = {
    cluster: r.cluster,
    kind: r.object.kind,
    namespace: typeof m.namespace === 'string' ? m.namespace : '',
    name: typeof m.name === 'string' ? m.name : '',
  };
  if (!ENDPOINT_KINDS.has(o.kind)) {
    const rv = r.resourceVersion ?? m.resourceVersion;
    if (rv !== undefined) o.resourceVersion = rv;
    if (r.seq !== undefined) o.seq = r.seq;
  }
  if (r.origin) {
    o.file = r.origin.file;
    o.document = r.origin.document;
  }
  return o;
}

function originOrder(o: ProvenanceObject): string {
  return `${o.file ?? ''}\u0000${String(o.document ?? 0).padStart(8, '0')}`;
}

/** The Secret objects (any source cluster) behind an SDS name `tls/<ns>/<name>` or `ca/<ns>/<name>`. */
function secretObjects(objects: ReadonlyMap<string, ProvenanceObject>, sdsName: string): string[] {
  const m = /^(?:tls|ca)\/([^/]+)\/(.+)$/.exec(sdsName);
  if (!m) return [];
  return [...objects]
    .filter(([, o]) => o.kind === 'Secret' && o.namespace === m[1] && o.name === m[2])
    .map(([id]) => id);
}

interface IndexedRoute {
  group: RouteGroup;
  headers: string;
  sources: SourceRef[];
}

/**
 * IR routes by path condition, then by cluster or `redirect` (targets in the order they were first
 * seen under the path, for routes whose action a Host replaced: looked up by path alone). Nested
 * rather than by a joined key: no key string is built and hashed per route attributed.
 */
type RouteIndex = Map<string, Map<string, IndexedRoute[]>>;

function indexRoutes(groups: readonly RouteGroup[]): RouteIndex {
  const index: RouteIndex = new Map();
  const put = (path: string, target: string, v: IndexedRoute) => {
    let byTarget = index.get(path);
    if (byTarget === undefined) {
      byTarget = new Map();
      index.set(path, byTarget);
    }
    const list = byTarget.get(target);
    if (list) list.push(v);
    else byTarget.set(target, [v]);
  };
  for (const g of groups) {
    const headers = headerNames(g.headers);
    for (const r of g.routes) put(g.prefix, r.cluster, { group: g, headers, sources: [r.source] });
    if (g.redirect) put(g.prefix, 'redirect', { group: g, headers, sources: [g.redirect.source] });
  }
  return index;
}

/**
 * The header names a route's match conditions on, lowercased, without `:authority` and
 * `x-forwarded-proto` (which Hosts and listeners add), distinct, sorted and joined by commas.
 * Nothing is allocated for the common lists of none or only those two.
 */
function headerNames(headers: readonly { name?: string }[] | undefined): string {
  let names: string[] | undefined;
  for (const h of headers ?? []) {
    const n = (h.name ?? '').toLowerCase();
    if (n === ':authority' || n === XFP) continue;
    names ??= [];
    names.push(n);
  }
  if (names === undefined) return '';
  return names.length === 1 ? (names[0] as string) : [...new Set(names)].sort().join(',');
}

/** Attributed routes of one virtual host domain list: by route object, and by path → target → header names. */
interface AttributedRoutes {
  byRoute: Map<Route, string[]>;
  byKey: Map<string, Map<string, Map<string, string[]>>>;
}

/**
 * The IR routes behind an Envoy route with this path condition, target (cluster or `redirect`) and
 * header names, in a virtual host with these domains.
 */
function attributeRoute(
  index: RouteIndex,
  path: string,
  target: string,
  headers: string,
  domains: readonly string[],
): SourceRef[] {
  const byTarget = index.get(path);
  let candidates = byTarget?.get(target) ?? [];
  if (candidates.length === 0 && target === 'redirect' && byTarget !== undefined) {
    // A Host's insecure action (redirect to HTTPS, reject) replaces the route's action: look the
    // route up by its path condition among every cluster (by path: scanning every key here was
    // quadratic, 10,000 routes × 10,000 keys on a cleartext listener that redirects).
    candidates = [...byTarget.values()].flat();
  }
  // One candidate is named whether or not it narrows (most routes have exactly one).
  if (candidates.length === 1) return (candidates[0] as IndexedRoute).sources;
  const narrowed = candidates.filter(
    (c) =>
      c.headers === headers &&
      (c.group.hostRegex || domains.some((d) => hostGlobsOverlap(d, c.group.hostname || '*'))),
  );
  return (narrowed.length > 0 ? narrowed : candidates).flatMap((c) => c.sources);
}
