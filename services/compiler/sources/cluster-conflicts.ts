/**
 * One configuration object per (kind, namespace, name) across source clusters. When several source
 * clusters hold a configuration object with the same kind, namespace and name (and, for
 * getambassador.io kinds, the same group), the copy from the source cluster whose name sorts first
 * (byte order) is used and the others are ignored:
 *
 * - a copy whose content equals the winner's (apiVersion, spec and every other top-level field,
 *   labels and annotations; not uid/resourceVersion/generation) is the same object mirrored to
 *   several clusters and is dropped silently;
 * - a copy with different content gets a warning naming both clusters.
 *
 * Services, Endpoints and EndpointSlices are exempt: they describe each cluster's own backends and
 * are merged across clusters by endpoint resolution. Pure; input order never matters.
 */
import { canonicalize } from '../../../shared/xds/encoding.ts';
import type { Diagnostic, SourceRecord } from '../contracts.ts';
import { matchAmbassadorId } from './ambassador-id.ts';
import { isPlainObject, own } from './fields.ts';
import type { SourceRef } from './types.ts';

/** Kinds that are per-cluster by nature and never conflict. */
const PER_CLUSTER_KINDS: ReadonlySet<string> = new Set(['Service', 'Endpoints', 'EndpointSlice']);

/** The records that take part in compiling `group`, with cross-cluster duplicates removed. */
export function pickClusterWinners(
  records: readonly SourceRecord[],
  group: string,
  diagnostics: Diagnostic[],
): SourceRecord[] {
  const winners = new Map<string, SourceRecord>();
  const ids = records.map((r) => identity(r, group));
  records.forEach((r, i) => {
    const id = ids[i];
    if (id === undefined) return;
    const held = winners.get(id);
    if (!held || r.cluster < held.cluster) winners.set(id, r);
  });
  const out: SourceRecord[] = [];
  for (let i = 0; i < records.length; i++) {
    const r = records[i] as SourceRecord;
    const id = ids[i];
    const winner = id === undefined ? undefined : winners.get(id);
    // Duplicates inside one source (two YAML files) are not a cross-cluster question: kept as they are.
    if (!winner || winner.cluster === r.cluster) {
      out.push(r);
      continue;
    }
    if (content(winner) === content(r)) continue;
    const ref = refOf(r);
    diagnostics.push({
      severity: 'warning',
      source: ref,
      message:
        `${ref.kind} ${ref.namespace}/${ref.name} also exists in source cluster ${winner.cluster} with ` +
        `different content; the copy from ${winner.cluster} (first source cluster by name) is used and ` +
        `this copy from ${r.cluster} is ignored`,
    });
  }
  return out;
}

/**
 * The conflict identity of a record, or undefined when it never conflicts: per-cluster kinds,
 * objects without a name, and getambassador.io objects outside `group` or with an unreadable
 * ambassador_id (parsing reports those).
 */
export function conflictIdentity(r: SourceRecord, group: string): string | undefined {
  return identity(r, group);
}

function identity(r: SourceRecord, group: string): string | undefined {
  const obj = r.object as unknown;
  const kind = own(obj, 'kind');
  const name = own(own(obj, 'metadata'), 'name');
  if (typeof kind !== 'string' || PER_CLUSTER_KINDS.has(kind)) return undefined;
  if (typeof name !== 'string' || name === '') return undefined;
  const apiVersion = own(obj, 'apiVersion');
  if (typeof apiVersion === 'string' && /^(x\.)?getambassador\.io\//.test(apiVersion)) {
    const id = matchAmbassadorId(own(own(obj, 'spec'), 'ambassador_id'), group);
    if (!id.ok || !id.matches) return undefined;
  }
  return JSON.stringify([kind, namespaceOf(obj), name]);
}

/** What makes two copies the same object: everything but status and server-assigned metadata. */
function content(r: SourceRecord): string {
  const obj = r.object as unknown;
  if (!isPlainObject(obj)) return '';
  const { metadata, status: _status, ...rest } = obj;
  const labels = own(metadata, 'labels') ?? {};
  const annotations = own(metadata, 'annotations') ?? {};
  return JSON.stringify(canonicalize({ ...rest, labels, annotations })) ?? '';
}

function namespaceOf(obj: unknown): string {
  const ns = own(own(obj, 'metadata'), 'namespace');
  return typeof ns === 'string' && ns !== '' ? ns : 'default';
}

function refOf(r: SourceRecord): SourceRef {
  const obj = r.object as unknown;
  const ref: SourceRef = {
    cluster: r.cluster,
    kind: String(own(obj, 'kind')),
    namespace: namespaceOf(obj),
    name: String(own(own(obj, 'metadata'), 'name')),
  };
  if (r.origin) {
    ref.file = r.origin.file;
    ref.document = r.origin.document;
  }
  return ref;
}
