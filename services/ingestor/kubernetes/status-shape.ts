/**
 * What the compiler's per-object status looks like on a Kubernetes object (pure).
 *
 * - Mapping, AmbassadorMapping (to its own x.getambassador.io resource) (and the other getambassador.io kinds that have a status subresource and no richer
 *   status of their own): Emissary's Mapping status, `{state: Running}` when accepted and
 *   `{state: Inactive, reason}` when rejected.
 * - Host: Emissary's Host status, `{state: Ready}` or `{state: Error, errorReason}`; the other
 *   Host status fields (ACME phases, tlsCertificateSource) are kept as observed.
 *
 * Only the fields above are owned: any other status field is preserved, so a write never fights
 * another controller over fields it does not own.
 */
import type { ObjectStatus } from '../../../shared/events/status-keys.ts';

/** API coordinates of the kinds whose status is written back. */
export const STATUS_KINDS: Readonly<Record<string, { group: string; plural: string }>> = {
  Mapping: { group: 'getambassador.io', plural: 'mappings' },
  AmbassadorMapping: { group: 'x.getambassador.io', plural: 'ambassadormappings' },
  Host: { group: 'getambassador.io', plural: 'hosts' },
};

type Status = Record<string, unknown>;

/** The full `.status` to store, given the observed one; undefined for kinds without write-back. */
export function desiredStatus(kind: string, observed: unknown, s: ObjectStatus): Status | undefined {
  const base: Status =
    observed && typeof observed === 'object' && !Array.isArray(observed) ? { ...observed } : {};
  if (kind === 'Host') {
    delete base.errorReason;
    return s.state === 'accepted'
      ? { ...base, state: 'Ready' }
      : { ...base, state: 'Error', errorReason: s.reason };
  }
  if (kind in STATUS_KINDS) {
    delete base.reason;
    return s.state === 'accepted'
      ? { ...base, state: 'Running' }
      : { ...base, state: 'Inactive', reason: s.reason };
  }
  return undefined;
}

/** Structural equality of JSON values, ignoring key order. */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b))
    return a.length === b.length && a.every((x, i) => jsonEqual(x, b[i]));
  const ka = Object.keys(a).filter((k) => (a as Status)[k] !== undefined);
  const kb = Object.keys(b).filter((k) => (b as Status)[k] !== undefined);
  return ka.length === kb.length && ka.every((k) => jsonEqual((a as Status)[k], (b as Status)[k]));
}
