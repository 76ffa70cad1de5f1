/**
 * The endpoint fast path: after a batch of EndpointSlice / Endpoints changes only, recompute the
 * ClusterLoadAssignments of the Services they belong to and reuse everything else of the previous
 * full compile. The result is the one `compile()` gives for the same state, byte for byte
 * (endpoint-fast-path.test.ts compares them), because endpoint objects reach the output only
 * through endpoint resolution (ir/endpoints.ts) → endpoint policy → translateEndpoints:
 *
 * - every ClusterLoadAssignment named `k8s/<namespace>/<service>/<port>` is
 *   `prioritize(resolveEndpoints(target, index))` for that target, whether an HTTP or an edge
 *   cluster asked for it, and resolution only reads that Service's objects;
 * - nothing else in the output depends on endpoint objects, except diagnostics: the endpoint
 *   objects' own parse warnings, and "Service … was not found in any source cluster", which
 *   depends on whether endpoint objects exist.
 *
 * - provenance (provenance.ts) names endpoint objects by identity only, so it stays the same as
 *   long as the set of endpoint objects, their Services and their YAML origins do not change.
 *
 * - size limits (size-limits.ts) reject objects only when the output is over a limit: the fast
 *   path declines when the new ClusterLoadAssignments are (endpointsWithinLimits), or when the
 *   previous build had rejected objects.
 *
 * So the fast path is only for updates of existing endpoint objects that keep their Service and
 * origin (the caller checks that, see {@link isFastPathUpdate}), and it declines (returns null, and
 * the caller compiles in full) whenever a diagnostic could change: a changed endpoint object that
 * has or had a diagnostic, or a Service id with no Service object in any source cluster. Pure: no
 * I/O, inputs never mutated.
 */
import { ENDPOINT_KINDS } from '../../shared/events/envelope.ts';
import { InvalidOutputError } from '../../shared/runtime/errors.ts';
import { ENDPOINT_TYPE } from '../../shared/xds/type-urls.ts';
import type {
  CompiledResource,
  CompileOptions,
  CompileResult,
  Diagnostic,
  SourceRecord,
} from './contracts.ts';
import { encodeResources } from './encode.ts';
import { prioritize } from './ir/endpoint-policy.ts';
import { indexKube, resolveEndpoints } from './ir/endpoints.ts';
import { endpointsWithinLimits } from './size-limits.ts';
import { own } from './sources/fields.ts';
import { parseEndpointSlice, parseEndpoints, parseService, SERVICE_NAME_LABEL } from './sources/kube.ts';
import type { KubeEndpoints, KubeService, SourceRef } from './sources/types.ts';
import { translateEndpoints } from './translate/endpoint.ts';
import { validateOutput } from './validate-output.ts';

/** An endpoint object (or Service) identified as in the event log. */
export interface ObjectIdentity {
  cluster: string;
  kind: string;
  namespace: string;
  name: string;
}

export interface EndpointChanges {
  /** `namespace/service` of every Service whose endpoint objects changed (before and after). */
  services: ReadonlySet<string>;
  /** The endpoint objects that changed (upserted or deleted). */
  objects: readonly ObjectIdentity[];
}

/**
 * The `namespace/service` an endpoint object belongs to (its EndpointSlice label, or the Endpoints
 * object's own name), as parse-sources reads it; undefined for objects that belong to none.
 */
export function endpointServiceId(
  kind: string,
  namespace: string,
  name: string,
  object: unknown,
): string | undefined {
  const ns = namespace === '' ? 'default' : namespace;
  if (kind === 'Endpoints') return name ? `${ns}/${name}` : undefined;
  if (kind !== 'EndpointSlice') return undefined;
  const service = own(own(own(object, 'metadata'), 'labels'), SERVICE_NAME_LABEL);
  return typeof service === 'string' && service !== '' ? `${ns}/${service}` : undefined;
}

/**
 * Whether replacing `before` by `after` (the same object key) may take the fast path: both are
 * endpoint objects of the same Service, from the same YAML position.
 */
export function isFastPathUpdate(before: SourceRecord | undefined, after: SourceRecord | undefined): boolean {
  if (!before || !after || !ENDPOINT_KINDS.has(after.object.kind)) return false;
  const m = after.object.metadata;
  const id = endpointServiceId(after.object.kind, m.namespace ?? '', m.name, after.object);
  const b = before.object.metadata;
  return (
    id !== undefined &&
    id === endpointServiceId(before.object.kind, b.namespace ?? '', b.name, before.object) &&
    before.origin?.file === after.origin?.file &&
    before.origin?.document === after.origin?.document
  );
}

/**
 * Recomputes the ClusterLoadAssignments of `changes.services` on top of `previous` (a full
 * compile, or a fast-path result, of the state before the changes). `objectsOf(id)` returns the
 * current Services and endpoint objects of one `namespace/service` across source clusters. Returns
 * null when the change needs a full compile; throws InvalidOutputError like `compile()`.
 */
export function recompileEndpoints(
  previous: CompileResult,
  changes: EndpointChanges,
  objectsOf: (serviceId: string) => readonly SourceRecord[],
  opts: CompileOptions,
): CompileResult | null {
  if (previous.sizeRejected || touchesDiagnostics(previous.diagnostics, changes.objects)) return null;
  // The changed Services' ClusterLoadAssignments, `k8s/<namespace>/<service>/<port>`, by their
  // positions in the output (sorted by type and name): found by binary search, not by reading
  // every resource's name.
  const claAt = new Map<string, number[]>();
  for (const id of changes.services) {
    const at = claPositions(previous.resources, id);
    if (at.length > 0) claAt.set(id, at);
  }
  const replaced = new Map<number, CompiledResource>();
  for (const id of changes.services) {
    const at = claAt.get(id);
    if (!at) continue;
    const parsed = parseServiceObjects(objectsOf(id));
    if (!parsed || parsed.services.length === 0) return null;
    const index = indexKube(parsed.services, parsed.endpoints);
    const [namespace = '', name = ''] = id.split('/');
    for (const i of at) {
      const claName = (previous.resources[i] as CompiledResource).name;
      const port = Number(claName.slice(claName.lastIndexOf('/') + 1));
      const target = { kind: 'kubernetes', namespace, name, port, portExplicit: true, tls: false } as const;
      const set = prioritize(resolveEndpoints(target, index).set, opts);
      const [encoded] = encodeResources([translateEndpoints(set)]);
      if (encoded && encoded.hash !== (previous.resources[i] as CompiledResource).hash)
        replaced.set(i, encoded);
    }
  }
  if (replaced.size === 0) return previous;
  const fresh = [...replaced].sort((a, b) => a[0] - b[0]).map(([, r]) => r);
  const problems = validateOutput(fresh);
  if (problems.length > 0) {
    throw new InvalidOutputError(
      `group ${opts.group}: generated endpoints are inconsistent (${problems.slice(0, 5).join('; ')}); nothing is published`,
    );
  }
  const resources = previous.resources.slice();
  for (const [i, r] of replaced) resources[i] = r;
  // Over a size limit, a full compile rejects objects (size-limits.ts): let it. The previous
  // build rejected nothing and only endpoints changed, so the endpoint limits are all to check.
  if (!endpointsWithinLimits(resources)) return null;
  return { ...previous, resources };
}

/**
 * Positions of the ClusterLoadAssignments of Service `id` (`namespace/service`) in `resources`,
 * sorted by type URL then name (encode.ts): those named `k8s/<id>/…`, which sort together, and
 * one named `k8s/<id>` exactly, if any.
 */
function claPositions(resources: readonly CompiledResource[], id: string): number[] {
  const exact = `k8s/${id}`;
  const prefix = `${exact}/`;
  const out: number[] = [];
  const e = lowerBound(resources, exact);
  if (resources[e]?.typeUrl === ENDPOINT_TYPE && resources[e]?.name === exact) out.push(e);
  for (let i = lowerBound(resources, prefix); i < resources.length; i++) {
    const r = resources[i] as CompiledResource;
    if (r.typeUrl !== ENDPOINT_TYPE || !r.name.startsWith(prefix)) break;
    out.push(i);
  }
  return out;
}

/** The first position whose (type URL, name) is not below (ENDPOINT_TYPE, `name`). */
function lowerBound(resources: readonly CompiledResource[], name: string): number {
  let lo = 0;
  let hi = resources.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const r = resources[mid] as CompiledResource;
    if (r.typeUrl < ENDPOINT_TYPE || (r.typeUrl === ENDPOINT_TYPE && r.name < name)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Whether any diagnostic of the previous output is about one of the changed objects. */
function touchesDiagnostics(diagnostics: readonly Diagnostic[], objects: readonly ObjectIdentity[]): boolean {
  if (diagnostics.length === 0) return false;
  const keys = new Set(objects.map((o) => `${o.cluster}\0${o.kind}\0${o.namespace || 'default'}\0${o.name}`));
  return diagnostics.some(
    (d) =>
      ENDPOINT_KINDS.has(d.source.kind) &&
      keys.has(`${d.source.cluster}\0${d.source.kind}\0${d.source.namespace}\0${d.source.name}`),
  );
}

/**
 * Parses one Service id's objects exactly as parse-sources does (same API versions, same
 * functions). Null when an endpoint object yields a diagnostic or cannot be read: the full
 * compile reports it.
 */
function parseServiceObjects(
  records: readonly SourceRecord[],
): { services: KubeService[]; endpoints: KubeEndpoints[] } | null {
  const services: KubeService[] = [];
  const endpoints: KubeEndpoints[] = [];
  for (const record of records) {
    const obj = record.object as unknown as Record<string, unknown>;
    const meta = own(obj, 'metadata');
    const name = own(meta, 'name');
    const namespace = own(meta, 'namespace');
    const kind = own(obj, 'kind');
    if (typeof name !== 'string' || name === '' || typeof kind !== 'string') continue;
    const source: SourceRef = {
      cluster: record.cluster,
      kind,
      namespace: typeof namespace === 'string' && namespace !== '' ? namespace : 'default',
      name,
    };
    if (record.origin) {
      source.file = record.origin.file;
      source.document = record.origin.document;
    }
    const apiVersion = own(obj, 'apiVersion');
    const diagnostics: Diagnostic[] = [];
    try {
      if (kind === 'Service' && apiVersion === 'v1') services.push(parseService(obj, source, []));
      else if (kind === 'Endpoints' && apiVersion === 'v1')
        endpoints.push(parseEndpoints(obj, source, diagnostics));
      else if (kind === 'EndpointSlice' && apiVersion === 'discovery.k8s.io/v1') {
        const slice = parseEndpointSlice(obj, source, diagnostics);
        if (slice) endpoints.push(slice);
      }
    } catch {
      return null;
    }
    if (diagnostics.length > 0) return null;
  }
  return { services, endpoints };
}
