/**
 * Per-object status from one group's compile: every getambassador.io object that takes part in the
 * group (its ambassador_id matches, or is unreadable and so reported) is `error` when at least one
 * error diagnostic names it, else `accepted`. Objects of other groups get no status from this
 * group. Pure.
 */
import type { ObjectStatus, StatusKeyParts } from '../../shared/events/status-keys.ts';
import type { Diagnostic, SourceRecord } from './compile.ts';
import { matchAmbassadorId } from './sources/ambassador-id.ts';
import { own } from './sources/fields.ts';

/** Longest reason stored; longer ones are cut (Kubernetes status fields are for people). */
const MAX_REASON = 1024;

export type GroupStatus = Omit<ObjectStatus, 'version'> & { object: StatusKeyParts };

/** Statuses by object identity (`cluster/kind/namespace/name`). */
export function objectStatuses(
  group: string,
  records: readonly SourceRecord[],
  diagnostics: readonly Diagnostic[],
): Map<string, GroupStatus> {
  const errors = new Map<string, string[]>();
  for (const d of diagnostics) {
    if (d.severity !== 'error') continue;
    const id = identity(d.source);
    errors.set(id, [...(errors.get(id) ?? []), d.field ? `${d.field}: ${d.message}` : d.message]);
  }
  const out = new Map<string, GroupStatus>();
  for (const r of records) {
    const obj = r.object as unknown;
    const apiVersion = own(obj, 'apiVersion');
    const kind = own(obj, 'kind');
    const name = own(own(obj, 'metadata'), 'name');
    if (typeof apiVersion !== 'string' || !/^(x\.)?getambassador\.io\//.test(apiVersion)) continue;
    if (typeof kind !== 'string' || typeof name !== 'string' || name === '') continue;
    const member = matchAmbassadorId(own(own(obj, 'spec'), 'ambassador_id'), group);
    if (member.ok && !member.matches) continue;
    const ns = own(own(obj, 'metadata'), 'namespace');
    const object = {
      cluster: r.cluster,
      kind,
      namespace: typeof ns === 'string' && ns ? ns : 'default',
      name,
    };
    const id = identity(object);
    const messages = errors.get(id);
    out.set(
      id,
      messages
        ? { object, state: 'error', reason: truncate([...new Set(messages)].join('; ')) }
        : { object, state: 'accepted', reason: '' },
    );
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

function truncate(s: string): string {
  return s.length <= MAX_REASON ? s : `${s.slice(0, MAX_REASON - 1)}…`;
}
