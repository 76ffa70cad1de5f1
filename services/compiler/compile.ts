/**
 * The compiler's pure core: source objects → Envoy resources for one group.
 *
 *   records ─ parseSources ─► validated objects of every kind, per group   (sources/)
 *           ─ buildIR ──────► Mapping groups, routes, clusters, endpoints  (ir/build-ir.ts)
 *           ─ buildEdge ────► Listeners, Hosts, TLS, TCP, auth, rate limit  (ir/build-edge.ts)
 *           ─ endpoint policy ► local/remote cluster priorities            (ir/endpoint-policy.ts)
 *           ─ translate ────► Envoy messages, one translator per feature   (translate/)
 *           ─ encode ───────► canonical bytes + content hashes, sorted     (encode.ts)
 *           ─ validate ─────► consistency + protoc-gen-validate rules      (validate-output.ts, validate/)
 *           ─ provenance ───► source objects behind every resource and route (provenance.ts; side output)
 *
 * No I/O, no clock, inputs never mutated; the same records (in any order) always give
 * byte-identical output. User errors become diagnostics naming the object and field, and only
 * that object is skipped. InvalidOutputError means the generated output is inconsistent (a
 * compiler bug): the caller publishes nothing.
 */
import type { SourceObject } from '../../shared/events/envelope.ts';
import { InvalidOutputError } from '../../shared/runtime/errors.ts';
import type { Provenance } from '../../shared/snapshot/provenance.ts';
import type { TypeUrl } from '../../shared/xds/type-urls.ts';
import { encodeResources } from './encode.ts';
import { buildEdge, edgeLookups } from './ir/build-edge.ts';
import { buildIR } from './ir/build-ir.ts';
import { applyEndpointPolicy, type RemoteEndpointsMode } from './ir/endpoint-policy.ts';
import { buildProvenance } from './provenance.ts';
import { type SizeRejection, safeId, sizeRejections } from './size-limits.ts';
import { parseSources } from './sources/parse-sources.ts';
import { translate } from './translate/translate.ts';
import { validateOutput } from './validate-output.ts';

/** One live source object, as folded from the event log. */
export interface SourceRecord {
  /** The source it came from (Kubernetes cluster or YAML directory name). */
  cluster: string;
  object: SourceObject;
  /** Where a YAML-sourced object was defined, for diagnostics. */
  origin?: { file: string; document: number };
  /** The event's resourceVersion (provenance only; compile output never depends on it). */
  resourceVersion?: string;
  /** Sequence of the event that last changed the object (provenance only). */
  seq?: number;
  /**
   * Why the object's latest version could not be ingested (a `reject` event); compile reports it
   * as an error on the object. `object` is then the last version that could, if any.
   */
  rejected?: string;
  /** True when `object` only names the object (no version was ever ingested); it is not parsed. */
  stub?: true;
}

export interface CompileOptions {
  /** The configuration group: the Emissary `ambassador_id` this output is for, e.g. `default`. */
  group: string;
  /** Source clusters local to this group's clients: their endpoints are priority 0 (ir/endpoint-policy.ts). */
  localClusters?: readonly string[];
  /** How other clusters' endpoints are used; default `prefer-local` (ir/endpoint-policy.ts). */
  remoteEndpoints?: RemoteEndpointsMode;
  /**
   * Namespace → the groups its Secrets belong to (`--secret-namespace GROUP=NAMESPACE`); a
   * namespace absent here keeps its Secrets to objects in that namespace (ir/secret-access.ts).
   */
  secretNamespaces?: Readonly<Record<string, readonly string[]>>;
}

/** One encoded Envoy resource of the output. */
export interface CompiledResource {
  typeUrl: TypeUrl;
  /** xDS resource name, unique per type. */
  name: string;
  /** Canonical protobuf encoding. */
  bytes: Uint8Array;
  /** resourceHash(typeUrl, bytes): the resource's identity in the snapshot store. */
  hash: string;
  /** Served only when asked for by name (API listeners for proxyless gRPC clients). */
  onDemand?: true;
  /** The plain object that was encoded (proto field names), for JSON dumps. */
  message: object;
}

/** A problem with one source object: an error skips the object, a warning only reports. */
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
  /** Which source objects produced each resource, virtual host and route. */
  provenance: Provenance;
  /** Set when objects were left out to fit the size limits: the endpoint fast path cannot build on it. */
  sizeRejected?: true;
}

/** Rounds of size-limit rejection before the output is declared unpublishable. */
const MAX_SIZE_ROUNDS = 8;

export function compile(records: readonly SourceRecord[], opts: CompileOptions): CompileResult {
  // Size limits (size-limits.ts): while the output is larger than clients accept, reject its
  // largest contributors and compile the rest again. Output under the limits takes one round.
  const rejected: SizeRejection[] = [];
  let input = records;
  for (let round = 0; ; round++) {
    const result = compileOnce(input, opts);
    const more = sizeRejections(result.resources, result.provenance, input);
    if (more.length === 0) {
      if (rejected.length === 0) return result;
      return {
        ...result,
        diagnostics: [...result.diagnostics, ...rejected.map((r) => r.diagnostic)].sort(compareDiagnostics),
        sizeRejected: true,
      };
    }
    if (round + 1 >= MAX_SIZE_ROUNDS) {
      throw new InvalidOutputError(
        `group ${opts.group}: the output stays over the xDS size limits after rejecting ${rejected.length + more.length} objects; nothing is published`,
      );
    }
    rejected.push(...more);
    const drop = new Set(more.map((r) => r.id));
    input = input.filter((r) => !drop.has(safeId(r) ?? ''));
  }
}

function compileOnce(records: readonly SourceRecord[], opts: CompileOptions): CompileResult {
  const sources = parseSources(records, opts.group);
  const access = { group: opts.group, namespaceGroups: opts.secretNamespaces ?? {} };
  const lookups = edgeLookups(sources, access);
  const { ir, diagnostics: irDiagnostics } = buildIR(sources, lookups);
  const edge = buildEdge(sources, ir, access, lookups);
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
  const provenance = buildProvenance(records, edge.ir, edge.edge, translated.resources);
  return { resources, diagnostics, provenance };
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
