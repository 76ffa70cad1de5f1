/**
 * The compiler's pure core: source objects → Envoy resources for one group.
 *
 *   records ─ parseSources ─► validated Mappings, Services, endpoints   (sources/)
 *           ─ buildIR ──────► groups, routes, clusters, endpoint sets   (ir/)
 *           ─ translate ────► Envoy messages, one translator per feature (translate/)
 *           ─ encode ───────► canonical bytes + content hashes, sorted   (encode.ts)
 *           ─ validate ─────► consistency checks on the bytes            (validate-output.ts)
 *
 * No I/O, no clock, inputs never mutated; the same records (in any order) always give
 * byte-identical output. User errors become diagnostics naming the object and field, and only
 * that object is skipped. InvalidOutputError means the generated output is inconsistent (a
 * compiler bug): the caller publishes nothing.
 */
import type { SourceObject } from '../../shared/events/envelope.ts';
import { InvalidOutputError } from '../../shared/runtime/errors.ts';
import type { TypeUrl } from '../../shared/xds/type-urls.ts';
import { encodeResources } from './encode.ts';
import { buildEdge, edgeLookups } from './ir/build-edge.ts';
import { buildIR } from './ir/build-ir.ts';
import { applyEndpointPolicy, type RemoteEndpointsMode } from './ir/endpoint-policy.ts';
import { parseSources } from './sources/parse-sources.ts';
import { translate } from './translate/translate.ts';
import { validateOutput } from './validate-output.ts';

export interface SourceRecord {
  cluster: string;
  object: SourceObject;
  origin?: { file: string; document: number };
}

export interface CompileOptions {
  group: string /* ambassador_id of this configuration, e.g. 'default' */;
  /** Source clusters local to this group's clients: their endpoints are priority 0 (ir/endpoint-policy.ts). */
  localClusters?: readonly string[];
  /** How other clusters' endpoints are used; default `prefer-local` (ir/endpoint-policy.ts). */
  remoteEndpoints?: RemoteEndpointsMode;
}

export interface CompiledResource {
  typeUrl: TypeUrl;
  name: string;
  bytes: Uint8Array;
  hash: string;
  onDemand?: true;
  /** the plain object that was encoded (proto field names), for JSON dumps */
  message: object;
}

export interface Diagnostic {
  severity: 'error' | 'warning';
  source: {
    cluster: string;
    kind: string;
    namespace: string;
    name: string;
    file?: string;
    document?: number;
  };
  field?: string;
  message: string;
}

export interface CompileResult {
  resources: CompiledResource[];
  diagnostics: Diagnostic[];
}

export function compile(records: readonly SourceRecord[], opts: CompileOptions): CompileResult {
  const sources = parseSources(records, opts.group);
  const lookups = edgeLookups(sources);
  const { ir, diagnostics: irDiagnostics } = buildIR(sources, lookups);
  const edge = buildEdge(sources, ir, lookups);
  const translated = translate(applyEndpointPolicy(edge.ir, opts), edge.edge);
  const resources = encodeResources(translated.resources);
  const problems = validateOutput(resources);
  if (problems.length > 0) {
    throw new InvalidOutputError(
      `group ${opts.group}: generated Envoy configuration is inconsistent (${problems.slice(0, 5).join('; ')}` +
        `${problems.length > 5 ? `; and ${problems.length - 5} more` : ''}); nothing is published`,
    );
  }
  const diagnostics = [
    ...sources.diagnostics,
    ...irDiagnostics,
    ...edge.diagnostics,
    ...translated.diagnostics,
  ].sort(compareDiagnostics);
  return { resources, diagnostics };
}

/** Diagnostics sort by source identity, then field, severity and message, so status output is stable. */
function compareDiagnostics(a: Diagnostic, b: Diagnostic): number {
  const x = a.source;
  const y = b.source;
  return (
    cmp(x.cluster, y.cluster) ||
    cmp(x.kind, y.kind) ||
    cmp(x.namespace, y.namespace) ||
    cmp(x.name, y.name) ||
    cmp(x.file ?? '', y.file ?? '') ||
    (x.document ?? -1) - (y.document ?? -1) ||
    cmp(a.field ?? '', b.field ?? '') ||
    cmp(a.severity, b.severity) ||
    cmp(a.message, b.message)
  );
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
