/**
 * Per-object status, published by the compiler to the NATS KV bucket `ATTACHE_STATUS` and written
 * back to Kubernetes by each cluster's ingestor.
 *
 *   key   <cluster>.<kind>.<namespace>.<name>   each token escaped with escapeToken, then `%` → `=`
 *   value JSON {@link ObjectStatus}
 *
 * KV keys only allow `[-/=.\w]`, so the `%XX` escapes of escapeToken are written `=XX`; escapeToken
 * never emits `=` itself (it becomes `%3D`), so the mapping stays reversible. A key is deleted
 * when the object no longer exists or no longer belongs to any compiled group.
 */
import { escapeToken, unescapeToken } from './subjects.ts';

export const STATUS_BUCKET = 'ATTACHE_STATUS';

/** The compiler's verdict on one source object. */
export interface ObjectStatus {
  /** `accepted`: the object is in the served configuration; `error`: it was rejected (see reason). */
  state: 'accepted' | 'error';
  /** Empty when accepted; the error diagnostics (`field: message`, joined by `; `) otherwise. */
  reason: string;
  /** Snapshot version (event sequence) of the commit that first produced this state and reason. */
  version: number;
}

export interface StatusKeyParts {
  cluster: string;
  kind: string;
  namespace: string;
  name: string;
}

function kvToken(s: string): string {
  return escapeToken(s).replace(/%/g, '=');
}

export function statusKey(p: StatusKeyParts): string {
  return [p.cluster, p.kind, p.namespace, p.name].map(kvToken).join('.');
}

/** The KV filter matching every status of one source cluster. */
export function clusterStatusFilter(cluster: string): string {
  return `${kvToken(cluster)}.>`;
}

export function parseStatusKey(key: string): StatusKeyParts | undefined {
  const t = key.split('.');
  if (t.length !== 4) return undefined;
  const [cluster, kind, namespace, name] = t.map((x) => unescapeToken(x.replace(/=/g, '%')));
  return { cluster: cluster!, kind: kind!, namespace: namespace!, name: name! };
}

export function encodeStatus(s: ObjectStatus): string {
  return JSON.stringify({ state: s.state, reason: s.reason, version: s.version });
}

/** Decodes a value, or undefined when it is not a well-formed status. */
export function decodeStatus(text: string): ObjectStatus | undefined {
  try {
    const v = JSON.parse(text) as Partial<ObjectStatus>;
    if ((v.state !== 'accepted' && v.state !== 'error') || typeof v.reason !== 'string') return undefined;
    return { state: v.state, reason: v.reason, version: typeof v.version === 'number' ? v.version : 0 };
  } catch {
    return undefined;
  }
}
