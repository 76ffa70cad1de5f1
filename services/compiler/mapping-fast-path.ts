/**
 * The Mapping fast path of the incremental compiler: when the only objects that changed since the
 * previous compile are Mappings whose changes stay inside their route group — same group key,
 * same clusters route by route, same labels, the same number of routes wherever the group is
 * routed (a timeout, a rewrite, a header to add, a weight, a retry policy) — the output is the
 * previous one with those groups' routes replaced:
 *
 * - IR: buildIR runs on the changed groups alone (every member, plus any Mapping whose
 *   diagnostics read a member's name: its Argo `-canary` partner), and their groups replace the
 *   old ones in place (same key, so same position); clusters, endpoints and the edge are kept.
 * - Translate: the same translators run on those groups alone, and their routes replace the old
 *   ones where translate recorded them (translate/listener.ts RouteLayout).
 * - Encode: only the new routes are encoded, and spliced into the bytes of the previous route
 *   configurations (encode.ts spliceRoutes), whose changed chunks are hashed again (route-chunks.ts); validation decodes only the new routes
 *   (validate-output.ts validateRouteSplice); the size limits check what can have grown.
 * - Provenance: routes are attributed by path, header names and cluster, all unchanged, so only
 *   the changed objects' entries (their sequence and resourceVersion) are replaced.
 * - Diagnostics: those of the groups' Mappings are recomputed, the rest kept.
 *
 * Anything else — a new or deleted Mapping, a Mapping moving to another group or cluster, any
 * Host, Listener, Module, Service or endpoint change, Mappings from several source clusters,
 * cluster settings variants, objects derived from annotations or Ingresses — returns null and
 * the caller compiles in full. The output is the one a full compile gives, byte for byte:
 * incremental.test.ts compares the two after every step of ≥ 1,000 random change sequences.
 */
import type { VirtualHost } from '../../proto/gen/envoy/config/route/v3/VirtualHost.ts';
import { ENDPOINT_KINDS } from '../../shared/events/envelope.ts';
import { noteObjectsChanged, objectId, type Provenance } from '../../shared/snapshot/provenance.ts';
import { ROUTE_TYPE } from '../../shared/xds/type-urls.ts';
import type { CompiledResource, CompileResult, Diagnostic, SourceRecord } from './contracts.ts';
import { compareDiagnostics } from './diagnostic-order.ts';
import { type EncodeCache, spliceRoutes } from './encode.ts';
import type { buildEdge, edgeLookups } from './ir/build-edge.ts';
import { buildIR } from './ir/build-ir.ts';
import { hostSelectorLabels } from './ir/host-selection.ts';
import { groupKey } from './ir/route-order.ts';
import type { IR, RouteGroup, UpstreamCluster } from './ir/types.ts';
import { provenanceObject } from './provenance.ts';
import { identifyResource, type ResourceIdentity } from './route-chunks.ts';
import { RESOURCE_LIMIT, RESPONSE_LIMIT, ROUTE_LIMIT } from './size-limits.ts';
import type { ParseCache } from './sources/parse-sources.ts';
import type { ParsedSources } from './sources/parsed-sources.ts';
import type { KubeEndpoints, KubeService, MappingSpec } from './sources/types.ts';
import { mappingKey } from './sources/types-edge.ts';
import type { EnvoyResource } from './translate/common.ts';
import { API_ROUTE_CONFIG_PREFIX } from './translate/common.ts';
import { apiVirtualHostKey, type RouteLayout, socketVirtualHostKey } from './translate/listener.ts';
import { translate } from './translate/translate.ts';
import { type RouteSplice, validateOutput, validateRouteSplice } from './validate-output.ts';

/** What a full compile's passes produced (compile.ts fills it in for an incremental compiler). */
export interface CompileState {
  records: readonly SourceRecord[];
  sources: ParsedSources;
  lookups: ReturnType<typeof edgeLookups>;
  edge: ReturnType<typeof buildEdge>;
  /** The IR translate read (edge endpoint sets added, endpoint policy applied). */
  policyIr: IR;
  translated: { resources: EnvoyResource[]; diagnostics: Diagnostic[] };
  layout: RouteLayout;
  result: CompileResult;
}

/** Changed groups beyond this many Mappings are compiled in full. */
const MAX_SUBSET = 4_000;
const MAPPING_KINDS = new Set(['Mapping', 'AmbassadorMapping']);

/** Indexes over a state's Mappings, built once per full compile and kept up to date by the fast path. */
interface Index {
  keyOf: Map<MappingSpec, string>;
  byKey: Map<string, MappingSpec[]>;
  byName: Map<string, MappingSpec[]>;
  recordOf: Map<MappingSpec, SourceRecord>;
  labels: Map<string, Record<string, string>>;
  groupAt: Map<string, number>;
  clusters: Map<string, UpstreamCluster>;
  services: Map<string, KubeService[]>;
  endpoints: Map<string, KubeEndpoints[]>;
  /** Position of each route configuration in the translated and the compiled resources. */
  routeConfigs: Map<string, { translated: number; compiled: number }>;
}

/** The fast path of one group's incremental compiler; `state` is its latest full or fast compile. */
export class MappingFastPath {
  private index: Index | undefined;
  /**
   * The provenance object map this path's results share: copied from a full compile's once and
   * updated in place after, so an earlier result's map shows later changes. Results are read
   * before the next compile (the runner builds its snapshot at once); nothing keeps an old one.
   */
  private objects: Provenance['objects'] | undefined;

  constructor(
    private state: CompileState,
    private readonly parse: ParseCache,
    private readonly encode: EncodeCache,
  ) {}

  /**
   * The compile of `records` (the state's records with the ones at `changed` positions
   * replaced), or null when the change is not one this path handles. After null the fast path
   * must not be used again (its indexes may be half updated).
   */
  compile(records: readonly SourceRecord[], changed: readonly number[]): CompileResult | null {
    const before = this.state.records;
    if (records.length !== before.length || changed.length === 0) return null;
    const pairs: { was: MappingSpec; is: MappingSpec; record: SourceRecord }[] = [];
    for (const i of changed) {
      const pair = this.mappingUpdate(before[i] as SourceRecord, records[i] as SourceRecord);
      if (!pair) return null;
      pairs.push(pair);
    }
    const index = this.indexed();
    if (!index) return null;
    const { sources } = this.state;

    // 1. The changed groups, whole, and the Mappings whose diagnostics read their members' names.
    for (const { was, is, record } of pairs) {
      const key = index.keyOf.get(was);
      if (key === undefined) return null;
      const labels = this.parse.partOf(record).sources.edge.mappingLabels.get(mappingKey(is.source));
      if (labels) index.labels.set(mappingKey(is.source), labels);
      else index.labels.delete(mappingKey(is.source));
      if (groupKey(is, hostSelectorLabels(is, sources.edge.hosts, index.labels)) !== key) return null;
      replace(index.byKey.get(key), was, is);
      replace(index.byName.get(nameOf(was)), was, is);
      index.keyOf.delete(was);
      index.keyOf.set(is, key);
      index.recordOf.delete(was);
      index.recordOf.set(is, record);
    }
    const keys = new Set<string>();
    const subset: MappingSpec[] = [];
    const addKey = (key: string): boolean => {
      if (keys.has(key)) return true;
      keys.add(key);
      for (const m of index.byKey.get(key) ?? []) subset.push(m);
      return subset.length <= MAX_SUBSET;
    };
    for (const { is } of pairs) if (!addKey(index.keyOf.get(is) as string)) return null;
    for (let i = 0; i < subset.length; i++) {
      const m = subset[i] as MappingSpec;
      if (m.source.name.length > 240) return null;
      // Its Argo partners, and any other Mapping of the same name (a duplicate YAML document).
      const partners = [m.source.name, `${m.source.name}-canary`];
      if (m.source.name.endsWith('-canary')) partners.push(m.source.name.slice(0, -'-canary'.length));
      for (const name of partners) {
        for (const p of index.byName.get(`${m.source.namespace}/${name}`) ?? [])
          if (!addKey(index.keyOf.get(p) as string)) return null;
      }
    }
    const ids = new Set(subset.map((m) => sourceId(m.source)));
    for (const { was } of pairs) ids.add(sourceId(was.source));

    // 2. Their IR, once for the clusters it names, then with those clusters' Services and endpoints.
    const partial = (services: KubeService[], endpoints: KubeEndpoints[]): ParsedSources => ({
      ...sources,
      mappings: subset,
      services,
      endpoints,
      diagnostics: [],
      edge: { ...sources.edge, mappingLabels: index.labels },
    });
    const planned = buildIR(partial([], []), this.state.lookups).ir;
    const services = new Set<KubeService>();
    const endpoints = new Set<KubeEndpoints>();
    for (const c of planned.clusters) {
      if (c.target.kind !== 'kubernetes') continue;
      const id = `${c.target.namespace}/${c.target.name}`;
      for (const s of index.services.get(id) ?? []) services.add(s);
      for (const e of index.endpoints.get(id) ?? []) endpoints.add(e);
    }
    const sub = buildIR(partial([...services], [...endpoints]), this.state.lookups);
    if (!this.sameShape(sub.ir, keys, index)) return null;
    if (sub.diagnostics.some((d) => d.message.includes('gets its own cluster'))) return null;

    // 3. The new IR: the changed groups in place.
    const prevIr = this.state.policyIr;
    const groups = [...prevIr.groups];
    for (const g of sub.ir.groups) groups[index.groupAt.get(g.key) as number] = g;
    const policyIr: IR = { ...prevIr, groups };
    const edge = { ...this.state.edge, ir: { ...this.state.edge.ir, groups } };

    // 4. Their routes, translated alone, replace the old ones in every virtual host.
    const layout: RouteLayout = new Map();
    const mini = translate(
      { ...prevIr, groups: sub.ir.groups, clusters: sub.ir.clusters, endpointSets: [] },
      { ...this.state.edge.edge, clusters: [], secrets: [] },
      layout,
    );
    const miniRoutes = new Map<string, VirtualHost['routes']>();
    for (const r of mini.resources) {
      if (r.typeUrl !== ROUTE_TYPE) continue;
      const api = r.name.startsWith(API_ROUTE_CONFIG_PREFIX);
      for (const vh of (r.message as { virtual_hosts?: VirtualHost[] }).virtual_hosts ?? []) {
        miniRoutes.set(
          api ? apiVirtualHostKey(vh.name ?? '') : socketVirtualHostKey(vh.name ?? ''),
          vh.routes,
        );
      }
    }
    const spliced = new Map<string, { vh: VirtualHost; splices: { start: number; routes: object[] }[] }>();
    const vhostOf = (ctx: string, vh: VirtualHost) => {
      const done = spliced.get(ctx);
      if (done) return done;
      const prev = this.state.layout.get(ctx);
      const now = layout.get(ctx);
      const splices: { start: number; routes: object[] }[] = [];
      let routes = vh.routes;
      for (const g of sub.ir.groups) {
        const was = prev?.spans.get(g.key);
        const is = now?.spans.get(g.key);
        if (!was && !is) continue;
        if (!was || !is || was[1] !== is[1]) return undefined;
        const fresh = (miniRoutes.get(ctx) ?? []).slice(is[0], is[0] + is[1]);
        if (fresh.length !== was[1]) return undefined;
        if (routes === vh.routes) routes = [...(vh.routes ?? [])];
        (routes as object[]).splice(was[0], was[1], ...fresh);
        splices.push({ start: was[0], routes: fresh });
      }
      const out = { vh: routes === vh.routes ? vh : { ...vh, routes }, splices };
      spliced.set(ctx, out);
      return out;
    };
    // Every context the groups are (or were) routed in must be one this output has.
    for (const ctx of layout.keys()) {
      if (!this.state.layout.has(ctx) && [...(layout.get(ctx)?.spans.keys() ?? [])].length > 0) return null;
    }
    const translatedResources = [...this.state.translated.resources];
    const resources = [...this.state.result.resources];
    const changedConfigs: {
      before: CompiledResource;
      index: number;
      splices: { virtualHost: number; start: number; routes: object[] }[];
    }[] = [];
    for (const [name, at] of index.routeConfigs) {
      const r = translatedResources[at.translated] as EnvoyResource;
      const api = name.startsWith(API_ROUTE_CONFIG_PREFIX);
      const vhosts = (r.message as { virtual_hosts?: VirtualHost[] }).virtual_hosts ?? [];
      const splices: { virtualHost: number; start: number; routes: object[] }[] = [];
      const next: VirtualHost[] = [];
      for (const vh of vhosts) {
        const ctx = api ? apiVirtualHostKey(vh.name ?? '') : socketVirtualHostKey(vh.name ?? '');
        const done = vhostOf(ctx, vh);
        if (!done) return null;
        for (const s of done.splices)
          splices.push({ virtualHost: next.length, start: s.start, routes: s.routes });
        next.push(done.vh);
      }
      if (splices.length === 0) continue;
      const message = { ...(r.message as object), virtual_hosts: next };
      translatedResources[at.translated] = { ...r, message };
      changedConfigs.push({
        before: resources[at.compiled] as CompiledResource,
        index: at.compiled,
        splices,
      });
    }

    // 5. Encode, validate and size-check what changed: a route configuration's new bytes are its
    // old ones with the new routes spliced in (encode.ts spliceRoutes), not an encoding of the whole.
    let revalidate = false;
    for (const c of changedConfigs) {
      const t = translatedResources[
        index.routeConfigs.get(c.before.name)?.translated as number
      ] as EnvoyResource;
      const splices: RouteSplice[] = [];
      for (const s of c.splices) {
        const routes: Uint8Array[] = [];
        for (const o of s.routes) {
          let bytes: Uint8Array;
          try {
            bytes = this.encode.routeBytes(o);
          } catch {
            return null; // a full compile reports it
          }
          if (bytes.length > ROUTE_LIMIT) return null;
          routes.push(bytes);
        }
        splices.push({ virtualHost: s.virtualHost, start: s.start, routes });
      }
      let bytes = spliceRoutes(c.before.bytes, splices);
      let id: ResourceIdentity;
      // Chunks the splice left alone keep their hashes (compared, not hashed again).
      if (bytes) id = identifyResource(c.before.typeUrl, bytes, c.before);
      else {
        try {
          this.encode.rotate();
          ({ bytes, ...id } = this.encode.resource(t));
        } catch {
          return null;
        }
      }
      const after: CompiledResource = {
        typeUrl: c.before.typeUrl,
        name: c.before.name,
        bytes,
        hash: id.hash,
        ...(id.chunks ? { chunks: id.chunks } : {}),
        message: t.message,
        ...(c.before.onDemand ? { onDemand: true as const } : {}),
      };
      resources[c.index] = after;
      if (after.bytes.length > RESOURCE_LIMIT) return null;
      if (validateRouteSplice(c.before, after, splices) !== 'same') revalidate = true;
    }
    let total = 0;
    for (const r of resources)
      if (r.typeUrl === ROUTE_TYPE && !r.onDemand && !r.name.startsWith('api:')) total += r.bytes.length;
    if (total > RESPONSE_LIMIT) return null;
    // The previous output was valid; with every new route checked and referring as the old one did,
    // so is this one. Otherwise it is checked whole (from cached results, but for the new bytes).
    if (revalidate && validateOutput(resources).length > 0) return null;

    // 6. Diagnostics of the changed groups' Mappings, recomputed; provenance of the changed objects.
    const prev = this.state.result;
    const mine = (d: Diagnostic) => ids.has(sourceId(d.source));
    const fresh: Diagnostic[] = [];
    for (const m of subset)
      for (const d of this.parse.partOf(index.recordOf.get(m) as SourceRecord).sources.diagnostics)
        if (mine(d)) fresh.push(d);
    for (const d of sub.diagnostics) if (mine(d)) fresh.push(d);
    for (const d of mini.diagnostics) if (mine(d)) fresh.push(d);
    const kept = prev.diagnostics.filter((d) => !mine(d));
    const diagnostics =
      kept.length === prev.diagnostics.length && fresh.length === 0
        ? prev.diagnostics
        : [...kept, ...fresh].sort(compareDiagnostics);
    let provenance: Provenance = prev.provenance;
    const changedIds: string[] = [];
    for (const { record } of pairs) {
      const o = provenanceObject(record);
      if (!o) return null;
      const id = objectId(o);
      if (!(id in prev.provenance.objects)) continue;
      if (provenance === prev.provenance) {
        // Copied once, then updated in place (copying 10,000 entries was most of this path's time).
        if (this.objects !== prev.provenance.objects) this.objects = { ...prev.provenance.objects };
        provenance = { ...prev.provenance, objects: this.objects };
      }
      provenance.objects[id] = o;
      changedIds.push(id);
    }
    // Its split (runner-snapshot.ts) then rebuilds only those entries' pieces.
    if (provenance !== prev.provenance) noteObjectsChanged(provenance, prev.provenance, changedIds);

    const result: CompileResult = { resources, diagnostics, provenance };
    this.state = {
      ...this.state,
      records,
      edge,
      policyIr,
      translated: { resources: translatedResources, diagnostics: this.state.translated.diagnostics },
      result,
    };
    return result;
  }

  /**
   * Takes `result`, the endpoint fast path's output for `records` (endpoint-fast-path.ts: the
   * state's records with endpoint objects updated, only ClusterLoadAssignments changed), as the
   * new base, so the next Mapping change is patched rather than compiled in full. False when the
   * changes are not endpoint-object updates (the caller then drops this fast path).
   */
  adoptEndpoints(records: readonly SourceRecord[], result: CompileResult): boolean {
    const before = this.state.records;
    if (records.length !== before.length) return false;
    const index = this.indexed();
    if (!index) return false;
    // No closure in this loop's body: one capturing its variables made V8 allocate a context on
    // every one of the ~14,000 iterations (~0.4 MB per endpoint commit, the most of any function).
    for (let i = 0; i < records.length; i++) {
      const was = before[i] as SourceRecord;
      const is = records[i] as SourceRecord;
      if (was !== is && !this.adoptEndpointRecord(index, was, is)) return false;
    }
    this.state = { ...this.state, records, result };
    return true;
  }

  /** Replaces an endpoint record's endpoints in the index; false when `was` → `is` is not one. */
  private adoptEndpointRecord(index: Index, was: SourceRecord, is: SourceRecord): boolean {
    if (!ENDPOINT_KINDS.has(was.object?.kind) || was.object.kind !== is.object?.kind) return false;
    const old = this.parse.partOf(was).sources.endpoints;
    const now = this.parse.partOf(is).sources.endpoints;
    if (old.length !== now.length) return false;
    old.forEach((e, j) => {
      const n = now[j] as KubeEndpoints;
      replace(index.endpoints.get(`${e.namespace}/${e.service}`), e, n);
    });
    return !old.some((e, j) => `${e.namespace}/${e.service}` !== `${now[j]?.namespace}/${now[j]?.service}`);
  }

  /** Builds the indexes the first change would otherwise build. */
  prepare(): void {
    this.indexed();
  }

  /** The Mappings a record update replaces, when it is one this path handles. */
  private mappingUpdate(
    before: SourceRecord,
    after: SourceRecord,
  ): { was: MappingSpec; is: MappingSpec; record: SourceRecord } | undefined {
    if (before.cluster !== after.cluster || before.rejected !== undefined || after.rejected !== undefined)
      return undefined;
    if (before.stub || after.stub) return undefined;
    if (before.origin?.file !== after.origin?.file || before.origin?.document !== after.origin?.document)
      return undefined;
    if (!MAPPING_KINDS.has(before.object.kind) || before.object.kind !== after.object.kind) return undefined;
    const a = this.parse.partOf(before);
    const b = this.parse.partOf(after);
    if (a.derived || b.derived || a.ingress || b.ingress) return undefined;
    const was = a.sources.mappings;
    const is = b.sources.mappings;
    if (was.length !== 1 || is.length !== 1) return undefined;
    const w = was[0] as MappingSpec;
    const n = is[0] as MappingSpec;
    if (w.tls !== undefined || n.tls !== undefined) return undefined;
    if (sourceId(w.source) !== sourceId(n.source)) return undefined;
    if ((this.index?.byName.get(nameOf(w))?.length ?? 1) !== 1) return undefined;
    return { was: w, is: n, record: after };
  }

  /** Whether the partial IR's groups replace the old ones route for route (see the file comment). */
  private sameShape(ir: IR, keys: ReadonlySet<string>, index: Index): boolean {
    const prevGroups = this.state.policyIr.groups;
    if (ir.groups.length !== [...keys].filter((k) => index.groupAt.has(k)).length) return false;
    for (const g of ir.groups) {
      const at = index.groupAt.get(g.key);
      if (at === undefined) return false;
      const p = prevGroups[at] as RouteGroup;
      if (p.routes.length !== g.routes.length || !p.redirect !== !g.redirect) return false;
      if (p.hostless !== g.hostless || p.hostname !== g.hostname || p.hostRegex !== g.hostRegex) return false;
      if ((p.policy.cors === undefined) !== (g.policy.cors === undefined)) return false;
      if (p.policy.mirror?.cluster !== g.policy.mirror?.cluster) return false;
      if (JSON.stringify(p.labels) !== JSON.stringify(g.labels)) return false;
      for (let i = 0; i < g.routes.length; i++)
        if (p.routes[i]?.cluster !== g.routes[i]?.cluster) return false;
    }
    for (const c of ir.clusters) {
      const p = index.clusters.get(c.name);
      if (!p) return false;
      const { sources: _a, ...x } = c;
      const { sources: _b, ...y } = p;
      if (JSON.stringify(x) !== JSON.stringify(y)) return false;
    }
    return true;
  }

  private indexed(): Index | undefined {
    if (this.index) return this.index;
    const { records, sources, policyIr, translated, result } = this.state;
    if (result.sizeRejected || result.diagnostics.some((d) => d.message.includes('gets its own cluster')))
      return undefined;
    const index: Index = {
      keyOf: new Map(),
      byKey: new Map(),
      byName: new Map(),
      recordOf: new Map(),
      labels: new Map(sources.edge.mappingLabels),
      groupAt: new Map(policyIr.groups.map((g, i) => [g.key, i])),
      clusters: new Map(policyIr.clusters.map((c) => [c.name, c])),
      services: new Map(),
      endpoints: new Map(),
      routeConfigs: new Map(),
    };
    let cluster: string | undefined;
    for (const r of records) {
      if (!MAPPING_KINDS.has(r.object?.kind)) continue;
      if (cluster !== undefined && r.cluster !== cluster) return undefined;
      cluster = r.cluster;
      const part = this.parse.partOf(r);
      if (part.derived || part.ingress) return undefined;
      for (const m of part.sources.mappings) {
        const key = groupKey(m, hostSelectorLabels(m, sources.edge.hosts, index.labels));
        index.keyOf.set(m, key);
        index.recordOf.set(m, r);
        push(index.byKey, key, m);
        push(index.byName, nameOf(m), m);
      }
    }
    for (const s of sources.services) push(index.services, `${s.namespace}/${s.name}`, s);
    for (const e of sources.endpoints) push(index.endpoints, `${e.namespace}/${e.service}`, e);
    const compiled = new Map(result.resources.map((r, i) => [`${r.typeUrl}\u0000${r.name}`, i]));
    translated.resources.forEach((r, i) => {
      if (r.typeUrl !== ROUTE_TYPE) return;
      const at = compiled.get(`${r.typeUrl}\u0000${r.name}`);
      if (at !== undefined) index.routeConfigs.set(r.name, { translated: i, compiled: at });
    });
    this.index = index;
    return index;
  }
}

function sourceId(s: { cluster: string; kind: string; namespace: string; name: string }): string {
  return `${s.cluster}\u0000${s.kind}\u0000${s.namespace}\u0000${s.name}`;
}

function nameOf(m: MappingSpec): string {
  return `${m.source.namespace}/${m.source.name}`;
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

function replace<T>(list: T[] | undefined, was: T, is: T): void {
  if (!list) return;
  const i = list.indexOf(was);
  if (i >= 0) list[i] = is;
}
