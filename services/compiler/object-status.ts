/**
 * Per-object status from one group's compile. Statuses are kept for:
 *
 * - every getambassador.io object that takes part in the group (its ambassador_id matches, or is
 *   unreadable and so reported): `error` when at least one error diagnostic names it, else
 *   `accepted`;
 * - every object the ingestor could not publish (a `reject`: too large for the log, undecodable),
 *   whatever its kind, in every group: `error` saying why. One never ingested has no version to
 *   read its group from, and is not served anywhere;
 * - every load problem of a YAML directory (an IngestError: YAML that does not parse, bytes that
 *   are not UTF-8, a duplicate identity), under its own identity (`IngestError <file>#<document>`),
 *   in every group: `error` naming the file, document and object. A duplicate's error is the
 *   IngestError's, never the established object's, which keeps serving.
 *
 * Objects of other groups get no status from this group. Pure.
 */
import type { ObjectStatus, StatusKeyParts } from '../../shared/events/status-keys.ts';
import type { Diagnostic, SourceRecord } from './contracts.ts';
import { matchAmbassadorId } from './sources/ambassador-id.ts';
import { own } from './sources/fields.ts';
import { ingestErrorDiagnostic, sourceRefOf } from './sources/parse-sources.ts';

/** Longest reason stored; longer ones are cut (Kubernetes status fields are for people). */
const MAX_REASON = 1024;

export type GroupStatus = Omit<ObjectStatus, 'version'> & { object: StatusKeyParts };

/** Statuses by object identity (`cluster/kind/namespace/name`). */
export function objectStatuses(
  group: string,
  records: readonly SourceRecord[],
  diagnostics: readonly Diagnostic[],
): Map<string, GroupStatus> {
  // The load problems, each under its IngestError's identity; their diagnostics name the object
  // concerned, so they are kept out of that object's own status.
  const loadProblems: { object: StatusKeyParts; reason: string }[] = [];
  const fromLoadProblems = new Set<string>();
  for (const r of records) {
    const source = sourceRefOf(r);
    const d = source && ingestErrorDiagnostic(r.object, source);
    if (!source || !d) continue;
    const reason = describe(d);
    loadProblems.push({ object: parts(source), reason });
    fromLoadProblems.add(`${identity(d.source)}\u0000${reason}`);
  }
  const errors = new Map<string, string[]>();
  for (const d of diagnostics) {
    if (d.severity !== 'error') continue;
    const id = identity(d.source);
    const reason = describe(d);
    if (fromLoadProblems.has(`${id}\u0000${reason}`)) continue;
    errors.set(id, [...(errors.get(id) ?? []), reason]);
  }
  const out = new Map<string, GroupStatus>();
  const put = (object: StatusKeyParts, messages: readonly string[] | undefined) =>
    out.set(
      identity(object),
      messages && messages.length > 0
        ? { object, state: 'error', reason: truncate([...new Set(messages)].join('; ')) }
        : { object, state: 'accepted', reason: '' },
    );
  for (const p of loadProblems) put(p.object, [p.reason]);
  for (const r of records) {
    const source = sourceRefOf(r);
    if (!source || source.name === '') continue;
    const object = parts(source);
    if (r.rejected !== undefined) {
      // Reported whatever its kind or group; its diagnostic says why (parse-sources.ts).
      put(
        object,
        errors.get(identity(object)) ?? [`its latest version could not be ingested: ${r.rejected}`],
      );
      continue;
    }
    const obj = r.object as unknown;
    const apiVersion = own(obj, 'apiVersion');
    if (typeof apiVersion !== 'string' || !/^(x\.)?getambassador\.io\//.test(apiVersion)) continue;
    const member = matchAmbassadorId(own(own(obj, 'spec'), 'ambassador_id'), group);
    if (member.ok && !member.matches) continue;
    put(object, errors.get(identity(object)));
  }
  return out;
}

/** One status for an object compiled in several groups: an error in any group wins. */
export function mergeStatuses(statuses: readonly GroupStatus[]): GroupStatus | undefined {
  if (statuses.length === 0) return undefined;
  const failed = statuses.filter((s) => s.state === 'error');
  if (failed.length === 0) return statuses[0];
  return {
    object: failed[0]!.object,
    state: 'error',
    reason: truncate([...new Set(failed.map((s) => s.reason))].join('; ')),
  };
}

export function identity(o: StatusKeyParts): string {
  return `${o.cluster}/${o.kind}/${o.namespace}/${o.name}`;
}

function parts(s: StatusKeyParts): StatusKeyParts {
  return { cluster: s.cluster, kind: s.kind, namespace: s.namespace, name: s.name };
}

function describe(d: Diagnostic): string {
  return d.field ? `${d.field}: ${d.message}` : d.message;
}

function truncate(s: string): string {
  return s.length <= MAX_REASON ? s : `${s.slice(0, MAX_REASON - 1)}…`;
}
