/**
 * `TLSContext` and the TLS settings shared with Host `spec.tls`. Secret references follow Emissary
 * (irtlscontext.py `resolve_secret`): a name containing `.` is `<name>.<namespace>` unless
 * `secret_namespacing: false`; otherwise the Secret lives in the referring object's namespace.
 */
import type { Diagnostic } from '../contracts.ts';
import { diagnosticSink } from './diagnostic-sink.ts';
import { describeType, hasControlChars, isPlainObject, own } from './fields.ts';
import type { SourceRef } from './types.ts';
import type { SecretRef, TlsContextSpec, TlsSettings } from './types-edge.ts';

export type ErrorSink = (field: string, message: string) => void;

export const TLS_VERSIONS = ['v1.0', 'v1.1', 'v1.2', 'v1.3'] as const;

/** Host `spec.tls` spells the TLSContext keys in camelCase; both spellings are accepted. */
const CAMEL: Readonly<Record<string, string>> = {
  alpnProtocols: 'alpn_protocols',
  cipherSuites: 'cipher_suites',
  ecdhCurves: 'ecdh_curves',
  certRequired: 'cert_required',
  minTlsVersion: 'min_tls_version',
  maxTlsVersion: 'max_tls_version',
  caSecret: 'ca_secret',
  crlSecret: 'crl_secret',
  redirectCleartextFrom: 'redirect_cleartext_from',
  certChainFile: 'cert_chain_file',
  privateKeyFile: 'private_key_file',
  cacertChainFile: 'cacert_chain_file',
};

/** Keys that name files inside Emissary's pod; a control plane cannot read them. */
const FILE_KEYS = ['cert_chain_file', 'private_key_file', 'cacert_chain_file', 'crl_file'];

/** Resolves a Secret name against Emissary's `<name>.<namespace>` convention. */
export function secretRef(name: string, namespace: string, namespacing: boolean): SecretRef {
  const dot = name.lastIndexOf('.');
  if (namespacing && dot > 0 && dot < name.length - 1) {
    return { name: name.slice(0, dot), namespace: name.slice(dot + 1), referrerNamespace: namespace };
  }
  return { name, namespace, referrerNamespace: namespace };
}

/** Reads the TLS settings keys of `obj` (snake_case or camelCase); `namespace` is the referrer's. */
export function parseTlsSettings(
  obj: Record<string, unknown>,
  namespace: string,
  namespacing: boolean,
  err: ErrorSink,
  warn: ErrorSink,
): TlsSettings {
  const spec: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) spec[CAMEL[k] ?? k] = v;
  const out: TlsSettings = {};
  const list = (key: string): string[] | undefined => {
    const v = spec[key];
    if (v === undefined || v === null) return undefined;
    const items = typeof v === 'string' ? v.split(',') : Array.isArray(v) ? v : undefined;
    if (!items?.every((x) => typeof x === 'string' && !hasControlChars(x))) {
      err(key, `${key} must be a list of strings (or a comma-separated string), got ${describeType(v)}`);
      return undefined;
    }
    const clean = items.map((x) => (x as string).trim()).filter((x) => x !== '');
    return clean.length > 0 ? clean : undefined;
  };
  const alpn = list('alpn_protocols');
  if (alpn) out.alpnProtocols = alpn;
  const ciphers = list('cipher_suites');
  if (ciphers) out.cipherSuites = ciphers;
  const curves = list('ecdh_curves');
  if (curves) out.ecdhCurves = curves;
  for (const key of ['min_tls_version', 'max_tls_version'] as const) {
    const v = spec[key];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'string' || !(TLS_VERSIONS as readonly string[]).includes(v)) {
      err(
        key,
        `${key} must be one of ${TLS_VERSIONS.join(', ')}, got ${JSON.stringify(v) ?? describeType(v)}`,
      );
      continue;
    }
    if (key === 'min_tls_version') out.minTlsVersion = v;
    else out.maxTlsVersion = v;
  }
  if (
    out.minTlsVersion &&
    out.maxTlsVersion &&
    TLS_VERSIONS.indexOf(out.minTlsVersion as never) > TLS_VERSIONS.indexOf(out.maxTlsVersion as never)
  ) {
    err(
      'min_tls_version',
      `min_tls_version ${out.minTlsVersion} is above max_tls_version ${out.maxTlsVersion}`,
    );
  }
  const required = spec.cert_required;
  if (required !== undefined && required !== null) {
    if (typeof required !== 'boolean')
      err('cert_required', `cert_required must be a boolean, got ${describeType(required)}`);
    else out.certRequired = required;
  }
  for (const key of ['ca_secret', 'crl_secret'] as const) {
    const v = spec[key];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'string' || v === '' || hasControlChars(v)) {
      err(key, `${key} must be a Secret name, got ${describeType(v)}`);
      continue;
    }
    const ref = secretRef(v, namespace, namespacing);
    if (key === 'ca_secret') out.caSecret = ref;
    else out.crlSecret = ref;
  }
  if (out.crlSecret && !out.caSecret)
    err('crl_secret', 'crl_secret needs ca_secret (a CRL is checked against a CA)');
  for (const key of FILE_KEYS) {
    if (spec[key] !== undefined && spec[key] !== null) {
      warn(
        key,
        `${key} names a file inside Emissary's pod, which a control plane cannot read; use a Secret instead`,
      );
    }
  }
  if (spec.redirect_cleartext_from !== undefined && spec.redirect_cleartext_from !== null) {
    warn(
      'redirect_cleartext_from',
      'redirect_cleartext_from is ignored (as in Emissary 2+); use Host requestPolicy.insecure.action: Redirect',
    );
  }
  if (spec.sni !== undefined && spec.sni !== null)
    warn('sni', 'sni applies to TLS origination, which is not generated yet');
  return out;
}

export function parseTlsContext(
  spec: unknown,
  source: SourceRef,
  diagnostics: Diagnostic[],
): TlsContextSpec | undefined {
  const sink = diagnosticSink(source, diagnostics);
  const { err, warn } = sink;
  if (!isPlainObject(spec)) {
    err('spec', `spec must be a map, got ${describeType(spec)}`);
    return undefined;
  }
  const namespacingValue = own(spec, 'secret_namespacing');
  let namespacing = true;
  if (typeof namespacingValue === 'boolean') namespacing = namespacingValue;
  else if (namespacingValue !== undefined && namespacingValue !== null) {
    err('secret_namespacing', `secret_namespacing must be a boolean, got ${describeType(namespacingValue)}`);
  }
  const hostsValue = own(spec, 'hosts');
  let hosts: string[] = [];
  if (
    Array.isArray(hostsValue) &&
    hostsValue.every((h) => typeof h === 'string' && h !== '' && !hasControlChars(h))
  ) {
    hosts = [...new Set(hostsValue as string[])].sort();
  } else if (hostsValue !== undefined && hostsValue !== null) {
    err('hosts', `hosts must be a list of hostnames, got ${describeType(hostsValue)}`);
  }
  let secret: SecretRef | undefined;
  const secretValue = own(spec, 'secret');
  if (typeof secretValue === 'string' && secretValue !== '' && !hasControlChars(secretValue)) {
    secret = secretRef(secretValue, source.namespace, namespacing);
  } else if (secretValue !== undefined && secretValue !== null) {
    err('secret', `secret must be a Secret name, got ${describeType(secretValue)}`);
  }
  const settings = parseTlsSettings(spec, source.namespace, namespacing, err, warn);
  if (settings.caSecret && !secret && hosts.length > 0) {
    err(
      'ca_secret',
      'a TLSContext cannot validate client certificates without terminating TLS (it has no secret)',
    );
  }
  if (sink.failed) return undefined;
  return { source, hosts, ...(secret ? { secret } : {}), settings };
}
