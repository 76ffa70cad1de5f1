/**
 * Host TLS resolution (irhost.py, irtlscontext.py): a Host terminates TLS when its `tlsSecret`
 * resolves to a usable certificate; settings come from `tls`, the named `tlsContext`, the
 * implicit `<host>-context` TLSContext or a TLSContext whose `hosts` list the Host's hostname.
 * Secrets become SDS resources named `tls/<ns>/<name>` (certificate) and `ca/<ns>/<name>`
 * (validation, `+crl/<ns>/<name>` when a CRL is added); names depend only on the references.
 */
import type { Diagnostic } from '../contracts.ts';
import { caProblem, certificateProblem } from '../sources/tls-context-secret.ts';
import type { HostSpec, SecretData, SecretRef, TlsContextSpec, TlsSettings } from '../sources/types-edge.ts';
import { type SecretAccess, secretAccessProblem } from './secret-access.ts';
import type { DownstreamTls, TlsSecret } from './types-edge.ts';

/** Secrets by `<namespace>/<name>`; contexts by `<namespace>/<name>` and by bare name. */
export interface TlsIndex {
  secrets: Map<string, SecretData>;
  contexts: TlsContextSpec[];
  /** SDS secrets produced so far, by name (shared between Hosts and TCPMappings). */
  served: Map<string, TlsSecret>;
  /** Secret problems already reported, so each broken Secret is reported once per referrer. */
  checked: Map<string, string | undefined>;
  /** Which Secrets this group may use (ir/secret-access.ts). */
  access: SecretAccess;
}

export function indexTls(
  secrets: readonly SecretData[],
  contexts: readonly TlsContextSpec[],
  access: SecretAccess,
): TlsIndex {
  const byKey = new Map<string, SecretData>();
  const sorted = [...secrets].sort((a, b) => cmp(a.source.cluster, b.source.cluster));
  for (const s of sorted) {
    const key = `${s.source.namespace}/${s.source.name}`;
    if (!byKey.has(key)) byKey.set(key, s);
  }
  const ctxs = [...contexts].sort(
    (a, b) => cmp(a.source.namespace, b.source.namespace) || cmp(a.source.name, b.source.name),
  );
  return { secrets: byKey, contexts: ctxs, served: new Map(), checked: new Map(), access };
}

/** A TLSContext by name, preferring the referrer's namespace (Emissary names contexts globally). */
export function findContext(index: TlsIndex, name: string, namespace: string): TlsContextSpec | undefined {
  return (
    index.contexts.find((c) => c.source.name === name && c.source.namespace === namespace) ??
    index.contexts.find((c) => c.source.name === name)
  );
}

const sameRef = (a: SecretRef | undefined, b: SecretRef | undefined) =>
  a?.name === b?.name && a?.namespace === b?.namespace;

type Report = (field: string, message: string) => void;

/** The Host's TLS, `undefined` for a cleartext Host, or `false` when the Host must be dropped. */
export function resolveHostTls(
  host: HostSpec,
  index: TlsIndex,
  diagnostics: Diagnostic[],
): DownstreamTls | undefined | false {
  const error: Report = (field, message) =>
    diagnostics.push({ severity: 'error', source: host.source, field, message });
  if (!host.tlsSecret) return undefined;
  const ns = host.source.namespace;
  let settings: TlsSettings = host.tls ?? {};
  if (host.tlsContextName) {
    const ctx = findContext(index, host.tlsContextName, ns);
    if (!ctx) {
      error('tlsContext.name', `TLSContext ${host.tlsContextName} does not exist; Host ignored`);
      return false;
    }
    if (ctx.secret && !sameRef(ctx.secret, host.tlsSecret)) {
      error(
        'tlsContext.name',
        `TLSContext ${host.tlsContextName} uses Secret ${ctx.secret.namespace}/${ctx.secret.name}, not the Host's tlsSecret; Host ignored`,
      );
      return false;
    }
    settings = ctx.settings;
  } else if (!host.tls) {
    const implicit = findContext(index, `${host.source.name}-context`, ns);
    const byHosts = index.contexts.find(
      (c) => c.hosts.includes(host.hostname) && (!c.secret || sameRef(c.secret, host.tlsSecret)),
    );
    const ctx = implicit ?? byHosts;
    if (ctx) settings = ctx.settings;
  }
  return downstreamTls(host.tlsSecret, settings, index, error, 'tlsSecret');
}

/** Builds a DownstreamTls from a certificate Secret and settings; `false` when unusable. */
export function downstreamTls(
  cert: SecretRef,
  settings: TlsSettings,
  index: TlsIndex,
  error: Report,
  field: string,
): DownstreamTls | false {
  const certSecret = certificateSecret(cert, index, error, field);
  if (!certSecret) return false;
  const out: DownstreamTls = { certSecret };
  if (settings.caSecret) {
    const validation = validationSecret(settings.caSecret, settings.crlSecret, index, error);
    if (!validation) return false;
    out.validationSecret = validation.name;
    const required = settings.certRequired ?? validation.certRequired;
    if (required !== undefined) out.requireClientCert = required;
  } else if (settings.certRequired !== undefined) {
    out.requireClientCert = settings.certRequired;
  }
  if (settings.alpnProtocols) out.alpnProtocols = settings.alpnProtocols;
  if (settings.minTlsVersion) out.minTlsVersion = settings.minTlsVersion;
  if (settings.maxTlsVersion) out.maxTlsVersion = settings.maxTlsVersion;
  if (settings.cipherSuites) out.cipherSuites = settings.cipherSuites;
  if (settings.ecdhCurves) out.ecdhCurves = settings.ecdhCurves;
  return out;
}

function certificateSecret(
  ref: SecretRef,
  index: TlsIndex,
  error: Report,
  field: string,
): string | undefined {
  const key = `${ref.namespace}/${ref.name}`;
  const name = `tls/${key}`;
  const data = index.secrets.get(key);
  if (!data) {
    error(field, `Secret ${key} was not found (or holds no TLS material); TLS cannot be served`);
    return undefined;
  }
  const denied = secretAccessProblem(data, ref, index.access);
  if (denied) {
    error(field, denied);
    return undefined;
  }
  if (!index.checked.has(name)) index.checked.set(name, certificateProblem(data.cert, data.key));
  const problem = index.checked.get(name);
  if (problem) {
    error(field, `Secret ${key} cannot be served: ${problem}`);
    return undefined;
  }
  if (!index.served.has(name))
    index.served.set(name, { name, certificate: { chain: data.cert!, key: data.key! } });
  return name;
}

function validationSecret(
  ca: SecretRef,
  crl: SecretRef | undefined,
  index: TlsIndex,
  error: Report,
): { name: string; certRequired?: boolean } | undefined {
  const caKey = `${ca.namespace}/${ca.name}`;
  const caData = index.secrets.get(caKey);
  const bundle = caData?.ca ?? caData?.cert;
  if (!caData || !bundle) {
    error('ca_secret', `CA Secret ${caKey} was not found or has no ca.crt / tls.crt`);
    return undefined;
  }
  const caDenied = secretAccessProblem(caData, ca, index.access);
  if (caDenied) {
    error('ca_secret', caDenied);
    return undefined;
  }
  const problem = caProblem(bundle);
  if (problem) {
    error('ca_secret', `CA Secret ${caKey} ${problem}`);
    return undefined;
  }
  let name = `ca/${caKey}`;
  let crlBytes: Uint8Array | undefined;
  if (crl) {
    const crlKey = `${crl.namespace}/${crl.name}`;
    const crlData = index.secrets.get(crlKey);
    crlBytes = crlData?.crl;
    if (!crlData || !crlBytes) {
      error('crl_secret', `CRL Secret ${crlKey} was not found or has no crl.pem`);
      return undefined;
    }
    const crlDenied = secretAccessProblem(crlData, crl, index.access);
    if (crlDenied) {
      error('crl_secret', crlDenied);
      return undefined;
    }
    name += `+crl/${crlKey}`;
  }
  if (!index.served.has(name)) {
    index.served.set(name, { name, validation: { ca: bundle, ...(crlBytes ? { crl: crlBytes } : {}) } });
  }
  return { name, ...(caData.certRequired !== undefined ? { certRequired: caData.certRequired } : {}) };
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
