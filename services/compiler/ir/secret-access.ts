/**
 * Which Secrets a group may use. Emissary lets any Host or TLSContext name a Secret in any
 * namespace (`name.namespace`); across groups that would hand one team's private key to another
 * team's fleet, so Attaché decides per Secret, in this order:
 *
 *   1. The Secret's `attache.io/groups` annotation (comma-separated group names), when present,
 *      is the whole answer: exactly the groups it lists may use the Secret. Whoever may write the
 *      Secret decides whom it is shared with.
 *   2. Otherwise, when the compiler's configuration assigns the Secret's namespace to groups
 *      (`attache compile --secret-namespace GROUP=NAMESPACE`), exactly those groups may use it.
 *   3. Otherwise the Secret may be used only by objects in its own namespace: Kubernetes RBAC
 *      makes the namespace the unit of trust, and whoever can create a Host there can already
 *      create Secrets there.
 *
 * A refused reference is reported on the referring object's field and treated like a missing
 * Secret: the referrer loses its TLS, nothing else changes, and no byte of the Secret reaches the
 * group's snapshot. Pure.
 */
import type { SecretData, SecretRef } from '../sources/types-edge.ts';

/** Annotation on a Secret listing the groups (Emissary `ambassador_id`s) that may use it. */
export const SECRET_GROUPS_ANNOTATION = 'attache.io/groups';

/** The group being compiled and the namespace assignments from configuration. */
export interface SecretAccess {
  group: string;
  /** Namespace → groups its Secrets belong to (`--secret-namespace GROUP=NAMESPACE`). */
  namespaceGroups: Readonly<Record<string, readonly string[]>>;
}

/** Why `ref` may not use `secret` in this group, or undefined when it may. Never shows content. */
export function secretAccessProblem(
  secret: SecretData,
  ref: SecretRef,
  access: SecretAccess,
): string | undefined {
  const key = `${secret.source.namespace}/${secret.source.name}`;
  if (secret.groups) {
    if (secret.groups.includes(access.group)) return undefined;
    return `Secret ${key} is not shared with group ${access.group} (its ${SECRET_GROUPS_ANNOTATION} annotation lists ${secret.groups.length > 0 ? secret.groups.join(', ') : 'no group'}); TLS cannot be served`;
  }
  const owners = access.namespaceGroups[secret.source.namespace];
  if (owners && owners.length > 0) {
    if (owners.includes(access.group)) return undefined;
    return `Secret ${key} belongs to group ${owners.join(', ')} (namespace ${secret.source.namespace} is assigned by --secret-namespace), not to group ${access.group}; TLS cannot be served`;
  }
  if (ref.referrerNamespace === secret.source.namespace) return undefined;
  return `Secret ${key} is in another namespace than this object (${ref.referrerNamespace}); share it with group ${access.group} through its ${SECRET_GROUPS_ANNOTATION} annotation or --secret-namespace ${access.group}=${secret.source.namespace}; TLS cannot be served`;
}
