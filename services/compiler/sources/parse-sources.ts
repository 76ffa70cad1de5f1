/**
 * Pass 1: source records → validated, group-filtered resources. Pure: records are read, never
 * mutated. Unknown kinds are ignored (later issues add them). One record's failure, even an
 * unexpected exception, becomes a diagnostic for that record and never affects the others.
 */
import { canonicalize, sha256Hex } from '../../../shared/xds/encoding.ts';
import type { SourceRecord } from '../compile.ts';
import { matchAmbassadorId } from './ambassador-id.ts';
import { isPlainObject, own } from './fields.ts';
import { parseEndpointSlice, parseEndpoints, parseService } from './kube.ts';
import { parseMapping } from './mapping.ts';
import type { ParsedSources, SourceRef } from './types.ts';

/** apiVersion → accepted kind names for HTTP Mappings. */
const MAPPING_VERSIONS: Readonly<Record<string, readonly string[]>> = {
  'getambassador.io/v2': ['Mapping'],
  'getambassador.io/v3alpha1': ['Mapping'],
  'x.getambassador.io/v3alpha1': ['AmbassadorMapping'],
};

export function parseSources(records: readonly SourceRecord[], group: string): ParsedSources {
  const out: ParsedSources = { mappings: [], services: [], endpoints: [], diagnostics: [] };
  for (const record of records) {
    const source = sourceRefOf(record);
    if (!source) continue;
    try {
      parseRecord(record, source, group, out);
    } catch (err) {
      out.diagnostics.push({
        severity: 'error',
        source,
        message: `object could not be read and is ignored: ${err instanceof Error ? err.message : String(err)}`,
      });
    }
  }
  return out;
}

/** Content hash of a source object: the key under which per-object results can be reused. */
export function objectHash(object: unknown): string {
  return sha256Hex(JSON.stringify(canonicalize(object)) ?? '');
}

function parseRecord(record: SourceRecord, source: SourceRef, group: string, out: ParsedSources): void {
  const obj = record.object as unknown;
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
    case 'Mapping':
    case 'AmbassadorMapping':
      break;
    default:
      return;
  }

  const isAmbassador = typeof apiVersion === 'string' && /^(x\.)?getambassador\.io\//.test(apiVersion);
  if (!isAmbassador) return;
  const spec = own(obj, 'spec');
  const id = matchAmbassadorId(own(spec, 'ambassador_id'), group);
  if (!id.ok) {
    out.diagnostics.push({ severity: 'error', source, field: 'ambassador_id', message: id.message });
    return;
  }
  if (!id.matches) return;
  if (!MAPPING_VERSIONS[apiVersion]?.includes(kind)) {
    out.diagnostics.push({
      severity: 'warning',
      source,
      field: 'apiVersion',
      message: `${kind} ${apiVersion} is not supported (use getambassador.io/v3alpha1 Mapping); ignored`,
    });
    return;
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
  const result = parseMapping({ spec, apiVersion, source, sourceHash: objectHash(obj) });
  out.diagnostics.push(...result.diagnostics);
  if (result.mapping) out.mappings.push(result.mapping);
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
