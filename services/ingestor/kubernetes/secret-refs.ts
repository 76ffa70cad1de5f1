/**
 * Which Secrets the ingestor publishes: only those a Host or TLSContext refers to, so unrelated
 * secrets (service-account tokens, application credentials) never enter the event log.
 *
 * References, as Emissary resolves them:
 * - Host `spec.tlsSecret` `{name, namespace?}` (namespace defaults to the Host's);
 * - Host `spec.tls.ca_secret` and `spec.tls.crl_secret`, and TLSContext `spec.secret`,
 *   `spec.ca_secret`, `spec.crl_secret`: a name in the referrer's namespace, or `name.namespace`
 *   unless `secret_namespacing: false`. A dotted name is ambiguous (Secret names may contain dots),
 *   so both readings are kept: publishing one secret too many is harmless, missing one breaks TLS.
 */

/** The part of a Host or TLSContext references are read from. */
interface Referrer {
  metadata: { namespace?: string };
  [field: string]: unknown;
}

/** `namespace/name` of a Secret. */
export type SecretKey = string;

function record(v: unknown): Record<string, unknown> | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v)
    ? (v as Record<string, unknown>)
    : undefined;
}

function addByName(out: Set<SecretKey>, value: unknown, namespace: string, namespacing: boolean): void {
  if (typeof value !== 'string' || value === '') return;
  out.add(`${namespace}/${value}`);
  const dot = value.lastIndexOf('.');
  if (namespacing && dot > 0 && dot < value.length - 1)
    out.add(`${value.slice(dot + 1)}/${value.slice(0, dot)}`);
}

/** Secret keys referred to by the given Hosts and TLSContexts. */
export function referencedSecrets(
  hosts: Iterable<Referrer>,
  tlsContexts: Iterable<Referrer>,
): Set<SecretKey> {
  const out = new Set<SecretKey>();
  for (const host of hosts) {
    const ns = host.metadata.namespace ?? 'default';
    const spec = record(host.spec);
    const tlsSecret = record(spec?.tlsSecret);
    if (typeof tlsSecret?.name === 'string' && tlsSecret.name !== '') {
      const secretNs =
        typeof tlsSecret.namespace === 'string' && tlsSecret.namespace !== '' ? tlsSecret.namespace : ns;
      out.add(`${secretNs}/${tlsSecret.name}`);
    }
    const tls = record(spec?.tls);
    addByName(out, tls?.ca_secret, ns, true);
    addByName(out, tls?.crl_secret, ns, true);
  }
  for (const ctx of tlsContexts) {
    const ns = ctx.metadata.namespace ?? 'default';
    const spec = record(ctx.spec);
    const namespacing = spec?.secret_namespacing !== false;
    addByName(out, spec?.secret, ns, namespacing);
    addByName(out, spec?.ca_secret, ns, namespacing);
    addByName(out, spec?.crl_secret, ns, namespacing);
  }
  return out;
}
