/**
 * Pass 1: source records → validated, group-filtered resources. Pure: records are read, never
 * mutated. Unknown kinds are ignored. One record's failure, even an unexpected exception, becomes
 * a diagnostic for that record and never affects the others.
 *
 * Objects can stand for other objects: the `getambassador.io/config` annotation of a Service or
 * Ingress holds Emissary objects (sources/annotations.ts), and an Ingress of class `ambassador`
 * becomes Hosts and Mappings (sources/ingress.ts). Those are expanded here, before the kind
 * dispatch, and parsed exactly like objects read from the cluster.
 */
import {
  INGEST_ERROR_API_VERSION,
  INGEST_ERROR_KIND,
  type IngestErrorSpec,
  type SourceObject,
} from '../../../shared/events/envelope.ts';
import type { Diagnostic, SourceRecord } from '../contracts.ts';
import { matchAmbassadorId } from './ambassador-id.ts';
import { annotationObjects } from './annotations.ts';
import { parseAuthService } from './auth-service.ts';
import { conflictIdentity, pickClusterWinners } from './cluster-conflicts.ts';
import { isPlainObject, own } from './fields.ts';
import { parseHost } from './host.ts';
import { INGRESS_VERSIONS, ingressObjects, isAmbassadorIngressClass } from './ingress.ts';
import { parseEndpointSlice, parseEndpoints, parseService } from './kube.ts';
import { parseListener } from './listener.ts';
import { parseMapping } from './mapping.ts';
import { addModuleRecord } from './module.ts';
import type { ParsedSources } from './parsed-sources.ts';
import { parseRateLimitService } from './rate-limit-service.ts';
import { parseResolver, RESOLVER_KINDS } from './resolver.ts';
import { parseTcpMapping } from './tcp-mapping.ts';
import { parseTlsContext } from './tls-context.ts';
import { parseTlsSecret } from './tls-context-secret.ts';
import type { SourceRef } from './types.ts';
import { emptyEdgeSources, mappingKey } from './types-edge.ts';

/** apiVersion → accepted kind names for HTTP Mappings. */
const MAPPING_VERSIONS: Readonly<Record<string, readonly string[]>> = {
  'getambassador.io/v2': ['Mapping'],
  'getambassador.io/v3alpha1': ['Mapping'],
  'x.getambassador.io/v3alpha1': ['AmbassadorMapping'],
};

/** Emissary kinds other than Mapping and Module, by the API versions that serve them. */
const EDGE_KINDS = new Set([
  'Host',
  'Listener',
  'TLSContext',
  'TCPMapping',
  'AuthService',
  'RateLimitService',
  ...Object.keys(RESOLVER_KINDS),
]);

/**
 * What one record contributes to one group's ParsedSources, before the Ingress pass: a pure
 * function of the record (and the group), so an incremental compiler reuses it while the record
 * object is the same (see {@link ParseCache}).
 */
export interface RecordPart {
  /** The record's objects, problems and Mapping labels (only the record's own). */
  sources: ParsedSources;
  /** Set when the record is an Ingress the Ingress pass reads. */
  ingress?: SourceRef;
  /** Set when the record is an IngressClass of this group. */
  ingressClass?: string;
  /** Set when the record stands for other objects (its `getambassador.io/config` annotation). */
  derived?: true;
}

/**
 * Per-record parse results of one group, by record object: world state replaces a record when its
 * object changes and keeps it otherwise, so an unchanged record is not parsed again. Records
 * must never be mutated (no pass does). Weak: a record no longer live is forgotten.
 */
export class ParseCache {
  private readonly parts = new WeakMap<SourceRecord, RecordPart>();
  constructor(readonly group: string) {}

  /**
   * Whether `record` takes no part in this group's compile: it contributes nothing when parsed
   * (no object, no diagnostic, not an Ingress or IngressClass of the group) and takes part in no
   * cross-cluster conflict. Objects of another group (`ambassador_id`) are the usual case.
   */
  outside(record: SourceRecord): boolean {
    if (record.rejected !== undefined || conflictIdentity(record, this.group) !== undefined) return false;
    const part = this.partOf(record);
    if (part.ingress || part.ingressClass !== undefined) return false;
    const s = part.sources;
    if (
      s.mappings.length + s.services.length + s.endpoints.length + s.modules.length + s.diagnostics.length >
      0
    )
      return false;
    for (const value of Object.values(s.edge)) {
      if (Array.isArray(value) ? value.length > 0 : (value as Map<string, unknown>).size > 0) return false;
    }
    return true;
  }

  /** Whether any of `records` stands for objects of its own (annotations, Ingresses). */
  derivesObjects(records: readonly SourceRecord[]): boolean {
    for (const r of records) {
      const part = this.partOf(r);
      if (part.derived || part.ingress) return true;
    }
    return false;
  }

  partOf(record: SourceRecord): RecordPart {
    let part = this.parts.get(record);
    if (!part) {
      part = parseRecordPart(record, this.group);
      part.sources = compactSources(part.sources);
      this.parts.set(record, part);
    }
    return part;
  }
}

/**
 * Shared stand-ins for a cached part's empty lists: a record contributes to one or two of the
 * sources' 13 lists, and 10,000 records' empty lists and label maps were ~10 MB the compiler kept.
 * Frozen, and the map refuses writes, so a pass that wrongly mutated a part fails loudly instead
 * of changing every part.
 */
const NO_ITEMS: readonly never[] = Object.freeze([]);
class NoLabels extends Map<string, Record<string, string>> {
  override set(): this {
    throw new Error('a cached parse part is read-only');
  }
}
const NO_LABELS: Map<string, Record<string, string>> = new NoLabels();

/**
 * `sources` as a cached part keeps it: empty lists and an empty label map replaced by the shared
 * read-only ones, other lists copied to their exact length (a list pushed to once holds room for
 * 17). The same content; parts are only ever read (appended to a group's sources, or looked up).
 */
function compactSources(sources: ParsedSources): ParsedSources {
  const list = <T>(xs: T[]): T[] => (xs.length === 0 ? (NO_ITEMS as unknown as T[]) : xs.slice());
  const e = sources.edge;
  return {
    mappings: list(sources.mappings),
    services: list(sources.services),
    endpoints: list(sources.endpoints),
    modules: list(sources.modules),
    edge: {
      listeners: list(e.listeners),
      hosts: list(e.hosts),
      tlsContexts: list(e.tlsContexts),
      tcpMappings: list(e.tcpMappings),
      authServices: list(e.authServices),
      rateLimitServices: list(e.rateLimitServices),
      resolvers: list(e.resolvers),
      secrets: list(e.secrets),
      mappingLabels: e.mappingLabels.size === 0 ? NO_LABELS : e.mappingLabels,
    },
    diagnostics: list(sources.diagnostics),
  };
}

export function parseSources(
  records: readonly SourceRecord[],
  group: string,
  cache?: ParseCache,
): ParsedSources {
  if (cache && cache.group !== group)
    throw new Error(`parse cache of group ${cache.group} used for ${group}`);
  const out = emptyParsedSources();
  const ingresses: { record: SourceRecord; source: SourceRef }[] = [];
  const classes = new Map<string, Set<string>>();
  for (const record of pickClusterWinners(records, group, out.diagnostics)) {
    // Without a cache a record's part is parsed straight into the group's sources: appending
    // its own lists afterwards gives the same lists in the same order, one allocation later.
    const part = cache ? cache.partOf(record) : parseRecordPart(record, group, out);
    if (cache) appendPart(out, part.sources);
    if (part.ingress) ingresses.push({ record, source: part.ingress });
    if (part.ingressClass !== undefined)
      classes.set(record.cluster, (classes.get(record.cluster) ?? new Set()).add(part.ingressClass));
  }
  // Ingresses need every IngressClass and Service of their source cluster, so they come last.
  for (const { record, source } of ingresses) {
    guarded(out, source, () => {
      const ctx = {
        group,
        classes: classes.get(record.cluster) ?? new Set<string>(),
        namedPort: (namespace: string, service: string, port: string) =>
          out.services
            .find((s) => s.cluster === record.cluster && s.namespace === namespace && s.name === service)
            ?.ports.find((p) => p.name === port)?.port,
      };
      const objects = ingressObjects(record.object as Record<string, unknown>, source, ctx, out.diagnostics);
      for (const o of objects) parseDerived(o, source, group, out, true);
    });
  }
  return out;
}

function emptyParsedSources(): ParsedSources {
  return {
    mappings: [],
    services: [],
    endpoints: [],
    modules: [],
    edge: emptyEdgeSources(),
    diagnostics: [],
  };
}

/**
 * Parses one record for `group`: its objects and problems, in the order they arise, appended to
 * `out` (by default its own sources).
 */
function parseRecordPart(record: SourceRecord, group: string, out = emptyParsedSources()): RecordPart {
  const part: RecordPart = { sources: out };
  const source = sourceRefOf(record);
  if (!source) return part;
  if (record.rejected !== undefined) {
    out.diagnostics.push({
      severity: 'error',
      source,
      message:
        `its latest version could not be ingested: ${record.rejected}; ` +
        (record.stub ? 'it is not served' : 'the previous version keeps serving'),
    });
    if (record.stub) return part;
  }
  guarded(out, source, () => {
    const obj = record.object as unknown;
    parseRecord(obj, source, group, out, false);
    const apiVersion = own(obj, 'apiVersion');
    if (source.kind === 'Ingress' && INGRESS_VERSIONS.includes(String(apiVersion))) part.ingress = source;
    if (source.kind === 'IngressClass' && isAmbassadorIngressClass(obj, group))
      part.ingressClass = source.name;
    if ((source.kind === 'Service' && apiVersion === 'v1') || source.kind === 'Ingress') {
      for (const o of annotationObjects(obj, source, out.diagnostics)) {
        part.derived = true;
        parseDerived(o, source, group, out, false);
      }
    }
  });
  return part;
}

/**
 * Appends one record's part to the group's sources, as parsing it in place would have: every
 * list in order, Mapping labels set in order (generic over the fields, so a new kind of source
 * cannot be left out).
 */
function appendPart(out: ParsedSources, part: ParsedSources): void {
  for (const key of ['mappings', 'services', 'endpoints', 'modules', 'diagnostics'] as const)
    pushAll<unknown>(out[key], part[key]);
  const edge = out.edge as unknown as Record<string, unknown>;
  for (const [key, value] of Object.entries(part.edge)) {
    if (Array.isArray(value)) pushAll<unknown>(edge[key] as unknown[], value);
    else for (const [k, v] of value as Map<string, Record<string, string>>) out.edge.mappingLabels.set(k, v);
  }
}

function pushAll<T>(to: T[], from: readonly T[]): void {
  for (const x of from) to.push(x);
}

/**
 * The path of the first value below `value` that is one of its own ancestors, if any. Objects
 * decoded from YAML or an event are trees; one built in memory may not be, and every later pass
 * would recurse into it without end. The path is spelled only when a cycle is found (this runs
 * on every record of every compile; a string per visited object was megabytes of garbage).
 */
function cyclePath(value: object): string | undefined {
  const ancestors: object[] = [];
  const keys: (string | number)[] = [];
  if (!findCycle(value, ancestors, keys)) return undefined;
  let path = '';
  for (let i = 0; i < keys.length; i++) {
    path += Array.isArray(ancestors[i]) ? `[${keys[i]}]` : `.${keys[i]}`;
  }
  return path;
}

/** Whether a cycle is below `value`; if so `ancestors` and `keys` hold the way to it. */
function findCycle(value: object, ancestors: object[], keys: (string | number)[]): boolean {
  ancestors.push(value);
  if (Array.isArray(value)) {
    // By index: `for…in` over an array spells every index as a string first.
    for (let i = 0; i < value.length; i++) {
      const v: unknown = value[i];
      if (v === null || typeof v !== 'object' || ArrayBuffer.isView(v)) continue;
      keys.push(i);
      if (ancestors.includes(v)) return true;
      if (findCycle(v, ancestors, keys)) return true;
      keys.pop();
    }
  } else {
    for (const key in value) {
      const v = (value as Record<string, unknown>)[key];
      if (v === null || typeof v !== 'object' || ArrayBuffer.isView(v)) continue;
      keys.push(key);
      if (ancestors.includes(v)) return true;
      if (findCycle(v, ancestors, keys)) return true;
      keys.pop();
    }
  }
  ancestors.pop();
  return false;
}

function guarded(out: ParsedSources, source: SourceRef, fn: () => void): void {
  try {
    fn();
  } catch (err) {
    out.diagnostics.push({
      severity: 'error',
      source,
      message: `object could not be read and is ignored: ${err instanceof Error ? err.message : String(err)}`,
    });
  }
}

/**
 * The error an IngestError object (a load problem the YAML ingestor found: a document that does
 * not parse, bytes that are not UTF-8, a duplicate identity) stands for, naming the file, the
 * document and, when the problem is about one, the object; undefined when `obj` is not one.
 */
export function ingestErrorDiagnostic(obj: unknown, source: SourceRef): Diagnostic | undefined {
  if (own(obj, 'apiVersion') !== INGEST_ERROR_API_VERSION || own(obj, 'kind') !== INGEST_ERROR_KIND)
    return undefined;
  const spec = own(obj, 'spec') as Partial<IngestErrorSpec> | undefined;
  if (typeof spec?.message !== 'string' || typeof spec.file !== 'string') return undefined;
  return {
    severity: 'error',
    source: {
      cluster: source.cluster,
      kind: typeof spec.kind === 'string' ? spec.kind : 'File',
      namespace: source.namespace,
      name: typeof spec.name === 'string' ? spec.name : spec.file,
      file: spec.file,
      ...(typeof spec.document === 'number' ? { document: spec.document } : {}),
    },
    message: `cannot be ingested${typeof spec.line === 'number' ? ` (line ${spec.line})` : ''}: ${spec.message}`,
  };
}

/** Parses an object another object stands for; it keeps the parent's source cluster and origin. */
function parseDerived(
  o: SourceObject,
  parent: SourceRef,
  group: string,
  out: ParsedSources,
  trusted: boolean,
): void {
  const source: SourceRef = {
    ...parent,
    kind: o.kind,
    namespace: o.metadata.namespace ?? parent.namespace,
    name: o.metadata.name,
  };
  guarded(out, source, () => parseRecord(o, source, group, out, trusted));
}

/**
 * Dispatches one object by kind. `trusted` objects were generated from an object whose group was
 * already checked (Ingress), so their ambassador_id is not looked at.
 */
function parseRecord(
  obj: unknown,
  source: SourceRef,
  group: string,
  out: ParsedSources,
  trusted: boolean,
): void {
  if (!isPlainObject(obj)) return;
  const cycle = cyclePath(obj);
  if (cycle !== undefined) throw new Error(`it refers to itself at ${cycle.slice(1)}`);
  const apiVersion = own(obj, 'apiVersion');
  const kind = source.kind;
  switch (kind) {
    case 'Service':
      if (apiVersion === 'v1' && source.name) out.services.push(parseService(obj, source, out.diagnostics));
      return;
    case 'Endpoints':
      if (apiVersion === 'v1' && source.name)
        out.endpoints.push(parseEndpoints(obj, source, out.diagnostics));
      return;
    case 'EndpointSlice': {
      if (apiVersion !== 'discovery.k8s.io/v1' || !source.name) return;
      const slice = parseEndpointSlice(obj, source, out.diagnostics);
      if (slice) out.endpoints.push(slice);
      return;
    }
    case INGEST_ERROR_KIND: {
      const d = ingestErrorDiagnostic(obj, source);
      if (d) out.diagnostics.push(d);
      return;
    }
    case 'Secret': {
      if (apiVersion !== 'v1' || !source.name) return;
      const secret = parseTlsSecret(obj, source, out.diagnostics);
      if (secret) out.edge.secrets.push(secret);
      return;
    }
    default:
      break;
  }

  if (typeof apiVersion !== 'string' || !/^(x\.)?getambassador\.io\//.test(apiVersion)) return;
  // x.getambassador.io spells every kind with an `Ambassador` prefix.
  const base =
    apiVersion.startsWith('x.') && kind.startsWith('Ambassador') ? kind.slice('Ambassador'.length) : kind;
  if (base !== 'Mapping' && base !== 'Module' && !EDGE_KINDS.has(base)) return;
  const spec = own(obj, 'spec');
  if (!trusted) {
    const id = matchAmbassadorId(own(spec, 'ambassador_id') ?? own(spec, 'ambassadorId'), group);
    if (!id.ok) {
      out.diagnostics.push({ severity: 'error', source, field: 'ambassador_id', message: id.message });
      return;
    }
    if (!id.matches) return;
  }
  if (!source.name) {
    out.diagnostics.push({
      severity: 'error',
      source,
      field: 'metadata.name',
      message: 'metadata.name is required',
    });
    return;
  }
  if (base === 'Module') {
    addModuleRecord(spec, source, out);
    return;
  }
  if (base !== 'Mapping') {
    parseEdgeObject(base, apiVersion, obj, spec, source, out);
    return;
  }
  if (!MAPPING_VERSIONS[apiVersion]?.includes(kind)) {
    out.diagnostics.push({
      severity: 'warning',
      source,
      field: 'apiVersion',
      message: `${kind} ${apiVersion} is not supported (use getambassador.io/v3alpha1 Mapping); ignored`,
    });
    return;
  }
  const labels = own(own(obj, 'metadata'), 'labels');
  const result = parseMapping({ spec, apiVersion, source, labels });
  out.diagnostics.push(...result.diagnostics);
  if (!result.mapping) return;
  out.mappings.push(result.mapping);
  if (isPlainObject(labels)) out.edge.mappingLabels.set(mappingKey(source), stringMap(labels));
}

function parseEdgeObject(
  kind: string,
  apiVersion: string,
  obj: Record<string, unknown>,
  spec: unknown,
  source: SourceRef,
  out: ParsedSources,
): void {
  const supported =
    apiVersion === 'getambassador.io/v3alpha1' ||
    apiVersion === 'x.getambassador.io/v3alpha1' ||
    (apiVersion === 'getambassador.io/v2' && kind !== 'Listener');
  if (!supported) {
    out.diagnostics.push({
      severity: 'warning',
      source,
      field: 'apiVersion',
      message: `${source.kind} ${apiVersion} is not supported (use getambassador.io/v3alpha1); ignored`,
    });
    return;
  }
  const d = out.diagnostics;
  const edge = out.edge;
  switch (kind) {
    case 'Host': {
      const host = parseHost(spec, stringMap(own(own(obj, 'metadata'), 'labels')), source, d);
      if (host) edge.hosts.push(host);
      return;
    }
    case 'Listener': {
      const listener = parseListener(spec, source, d);
      if (listener) edge.listeners.push(listener);
      return;
    }
    case 'TLSContext': {
      const ctx = parseTlsContext(spec, source, d);
      if (ctx) edge.tlsContexts.push(ctx);
      return;
    }
    case 'TCPMapping': {
      const m = parseTcpMapping(spec, source, d);
      if (m) edge.tcpMappings.push(m);
      return;
    }
    case 'AuthService': {
      const a = parseAuthService(spec, source, d);
      if (a) edge.authServices.push(a);
      return;
    }
    case 'RateLimitService': {
      const r = parseRateLimitService(spec, source, d);
      if (r) edge.rateLimitServices.push(r);
      return;
    }
    default: {
      const r = parseResolver(spec, source, d);
      if (r) edge.resolvers.push(r);
    }
  }
}

function stringMap(v: unknown): Record<string, string> {
  if (!isPlainObject(v)) return {};
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(v)) if (typeof x === 'string') out[k] = x;
  return out;
}

/** The diagnostic identity of a record, or undefined when it has no kind at all (not an object). */
export function sourceRefOf(record: SourceRecord): SourceRef | undefined {
  const obj = record.object as unknown;
  const kind = own(obj, 'kind');
  if (typeof kind !== 'string') return undefined;
  const meta = own(obj, 'metadata');
  const name = own(meta, 'name');
  const namespace = own(meta, 'namespace');
  const ref: SourceRef = {
    cluster: typeof record.cluster === 'string' ? record.cluster : String(record.cluster),
    kind,
    namespace: typeof namespace === 'string' && namespace !== '' ? namespace : 'default',
    name: typeof name === 'string' ? name : '',
  };
  if (record.origin && typeof record.origin.file === 'string') {
    ref.file = record.origin.file;
    ref.document = record.origin.document;
  }
  return ref;
}
