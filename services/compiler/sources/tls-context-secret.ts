/**
 * Kubernetes Secrets holding TLS material (`kubernetes.io/tls`, or any Secret with `tls.crt`,
 * `ca.crt` or `crl.pem`). Values are decoded here and checked only when a Host or TLSContext
 * references them (ir/build-edge.ts). No diagnostic ever includes Secret content.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { REFUSED_ANNOTATION } from '../../../shared/events/sealed-secrets.ts';
import type { Diagnostic } from '../contracts.ts';
import { SECRET_GROUPS_ANNOTATION } from '../ir/secret-access.ts';
import { own } from './fields.ts';
import type { SourceRef } from './types.ts';
import type { SecretData } from './types-edge.ts';

const KEYS = { cert: 'tls.crt', key: 'tls.key', ca: 'ca.crt', crl: 'crl.pem' } as const;

/** Parses a Secret; undefined when it holds no TLS material (service-account tokens and the like). */
export function parseTlsSecret(
  obj: Record<string, unknown>,
  source: SourceRef,
  diagnostics: Diagnostic[],
): SecretData | undefined {
  const refused = own(own(own(obj, 'metadata'), 'annotations'), REFUSED_ANNOTATION);
  if (typeof refused === 'string') {
    diagnostics.push({
      severity: 'error',
      source,
      field: 'data',
      message: `Secret data not available: ${refused}`,
    });
    return undefined;
  }
  const data = own(obj, 'data');
  const stringData = own(obj, 'stringData');
  const read = (key: string): Uint8Array | undefined | false => {
    const s = own(stringData, key);
    if (typeof s === 'string') return Buffer.from(s, 'utf8');
    const b = own(data, key);
    if (b === undefined || b === null) return undefined;
    if (b instanceof Uint8Array) return b;
    if (typeof b !== 'string') return false;
    const compact = b.replace(/\s+/g, '');
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(compact) || compact.length % 4 === 1) return false;
    return Buffer.from(compact, 'base64');
  };
  const out: SecretData = { source };
  let any = false;
  for (const [field, key] of Object.entries(KEYS) as [keyof typeof KEYS, string][]) {
    const v = read(key);
    if (v === false) {
      diagnostics.push({
        severity: 'error',
        source,
        field: `data.${key}`,
        message: `data.${key} is not valid base64; ignored`,
      });
      continue;
    }
    if (v === undefined) continue;
    out[field] = v;
    any = true;
  }
  const required = read('cert_required');
  if (required instanceof Uint8Array) {
    out.certRequired = Buffer.from(required).toString('utf8').trim().toLowerCase() === 'true';
  }
  const groups = secretGroups(obj, source, diagnostics);
  if (groups) out.groups = groups;
  const type = own(obj, 'type');
  if (!any) {
    if (type === 'kubernetes.io/tls') {
      diagnostics.push({
        severity: 'warning',
        source,
        field: 'data',
        message: 'TLS Secret has no tls.crt / tls.key',
      });
    }
    return undefined;
  }
  return out;
}

/**
 * The groups of the `attache.io/groups` annotation (comma-separated), or undefined without it.
 * A malformed value names no group, so the Secret is usable by none (a typo must not widen access).
 */
function secretGroups(
  obj: Record<string, unknown>,
  source: SourceRef,
  diagnostics: Diagnostic[],
): string[] | undefined {
  const value = own(own(own(obj, 'metadata'), 'annotations'), SECRET_GROUPS_ANNOTATION);
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') {
    diagnostics.push({
      severity: 'error',
      source,
      field: `metadata.annotations.${SECRET_GROUPS_ANNOTATION}`,
      message: `${SECRET_GROUPS_ANNOTATION} must be a comma-separated list of group names; no group may use this Secret`,
    });
    return [];
  }
  return [
    ...new Set(
      value
        .split(',')
        .map((g) => g.trim())
        .filter((g) => g !== ''),
    ),
  ].sort();
}

/**
 * Why a certificate/key pair cannot be served, or undefined when it can: both parse as PEM and
 * the key belongs to the certificate. Messages never include the material itself.
 */
export function certificateProblem(
  cert: Uint8Array | undefined,
  key: Uint8Array | undefined,
): string | undefined {
  if (!cert) return 'has no tls.crt';
  if (!key) return 'has no tls.key';
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(Buffer.from(cert));
  } catch {
    return 'tls.crt is not a PEM certificate';
  }
  let pkey: ReturnType<typeof createPrivateKey>;
  try {
    pkey = createPrivateKey(Buffer.from(key));
  } catch {
    return 'tls.key is not a PEM private key';
  }
  if (!x509.checkPrivateKey(pkey)) return 'tls.key does not belong to the certificate in tls.crt';
  return undefined;
}

/** Why a CA bundle cannot be used to validate client certificates, or undefined when it can. */
export function caProblem(ca: Uint8Array): string | undefined {
  try {
    new X509Certificate(Buffer.from(ca));
    return undefined;
  } catch {
    return 'is not a PEM certificate bundle';
  }
}
