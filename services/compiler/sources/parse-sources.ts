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
import { canonicalJson } from '../../../shared/snapshot/manifest.ts';
import { sha256Hex } from '../../../shared/xds/encoding.ts';
import type { SourceRecord } from '../compile.ts';
import { emptyEdgeSources, mappingKey } from '../ir/types-edge.ts';
import { matchAmbassadorId } from './ambassador-id.ts';
import { annotationObjects } from './annotations.ts';
import { parseAuthService } from './auth-service.ts';
import { pickClusterWinners } from './cluster-conflicts.ts';
import { isPlainObject, own } from './fields.ts';
import { parseHost } from './host.ts';
import { INGRESS_VERSIONS, ingressObjects, isAmbassadorIngressClass } from './ingress.ts';
import { parseEndpointSlice, parseEndpoints, parseService } from './kube.ts';
import { parseListener } from './listener.ts';
import { parseMapping } from './mapping.ts';
import { addModuleRecord } from './module.ts';
import { parseRateLimitService } from './rate-limit-service.ts';
import { parseResolver, RESOLVER_KINDS } from './resolver.ts';
import { parseTcpMapping } from './tcp-mapping.ts';
import { parseTlsContext } from './tls-context.ts';
import { parseTlsSecret } from './tls-context-secret.ts';
import type { ParsedSources, SourceRef } from './types.ts';

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

export function parseSources(records: readonly SourceRecord[], group: string): ParsedSources {
  const out: ParsedSources = {
    mappings: [],
    services: [],
    endpoints: [],
    modules: [],
    edge: emptyEdgeSources(),
    diagnostics: [],
  };
  const ingresses: { record: SourceRecord; source: SourceRef }[] = [];
  const classes = new Map<string, Set<string>>();
  for (const record of pickClusterWinners(records, group, out.diagnostics)) {
    const source = sourceRefOf(record);
    if (!source) continue;
    if (record.rejected !== undefined) {
      out.diagnostics.push({
        severity: 'error',
        source,
        message:
          `its latest version could not be ingested: ${record.rejected}; ` +
          (record.stub ? 'it is not served' : 'the previous version keeps serving'),
      });
      if (record.stub) continue;
    }
    guarded(out, source, () => {
      const obj = record.object as unknown;
      parseRecord(obj, source, group, out, false);
      const apiVersion = own(obj, 'apiVersion');
      if (source.kind === 'Ingress' && INGRESS_VERSIONS.includes(String(apiVersion)))
        ingresses.push({ record, source });
      if (source.kind === 'IngressClass' && isAmbassadorIngressClass(obj, group)) {
        classes.set(record.cluster, (classes.get(record.cluster) ?? new Set()).add(source.name));
      }
      if ((source.kind === 'Service' && apiVersion === 'v1') || source.kind === 'Ingress') {
        for (const o of annotationObjects(obj, source, out.diagnostics))
          parseDerived(o, source, group, out, false);
      }
    });
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

/** Content hash of a source object: the key under which per-object results can be reused. */
export function objectHash(object: unknown): string {
  return sha256Hex(canonicalJson(object));
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
      if (apiVersion !== INGEST_ERROR_API_VERSION) return;
      const spec = own(obj, 'spec') as Partial<IngestErrorSpec> | undefined;
      if (typeof spec?.message !== 'string' || typeof spec.file !== 'string') return;
      out.diagnostics.push({
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
      });
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
  const result = parseMapping({ spec, apiVersion, source, sourceHash: objectHash(obj), labels });
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
function sourceRefOf(record: SourceRecord): SourceRef | undefined {
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
