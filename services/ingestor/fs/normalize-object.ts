/**
 * Turns one parsed YAML document into the {@link SourceObject} an event carries, or says what is
 * wrong with it. The object must be a mapping with `apiVersion`, `kind` and `metadata.name`;
 * namespaced kinds default to namespace `default` (as `kubectl apply` would), cluster-scoped kinds
 * carry no namespace; `metadata.managedFields` is dropped; keys are put in canonical order.
 */
import type { SourceObject } from '../../../shared/events/envelope.ts';
import { canonicalize } from '../../../shared/xds/encoding.ts';

/**
 * Kinds that Kubernetes stores without a namespace. Every other kind is treated as namespaced,
 * which holds for every Emissary (getambassador.io) kind and for Service, Ingress, Secret,
 * Endpoints and EndpointSlice.
 */
export const CLUSTER_SCOPED_KINDS: ReadonlySet<string> = new Set([
  'APIService',
  'CertificateSigningRequest',
  'ClusterIssuer',
  'ClusterRole',
  'ClusterRoleBinding',
  'CustomResourceDefinition',
  'GatewayClass',
  'IngressClass',
  'MutatingWebhookConfiguration',
  'Namespace',
  'Node',
  'PersistentVolume',
  'PriorityClass',
  'RuntimeClass',
  'StorageClass',
  'ValidatingWebhookConfiguration',
]);

export const DEFAULT_NAMESPACE = 'default';

export type NormalizeResult =
  | { ok: true; object: SourceObject }
  | { ok: false; message: string; kind?: string; name?: string };

export function normalizeObject(value: unknown): NormalizeResult {
  if (!isMapping(value)) return { ok: false, message: `document is not a mapping (got ${describe(value)})` };
  const kind = nonEmptyString(value.kind);
  const meta = isMapping(value.metadata) ? value.metadata : undefined;
  const name = nonEmptyString(meta?.name);
  const problems: string[] = [];
  const missing: string[] = [];
  if (!nonEmptyString(value.apiVersion)) missing.push('apiVersion');
  if (!kind) missing.push('kind');
  if (!name) missing.push('metadata.name');
  if (missing.length > 0) problems.push(`missing ${missing.join(', ')} (each must be a non-empty string)`);
  if (meta?.namespace !== undefined && meta.namespace !== null && typeof meta.namespace !== 'string') {
    problems.push('metadata.namespace must be a string');
  }
  for (const field of ['labels', 'annotations'] as const) {
    const bad = badStringMap(meta?.[field]);
    if (bad) problems.push(`metadata.${field}${bad}`);
  }
  if (problems.length > 0 || !meta) {
    return { ok: false, message: problems.join('; '), ...(kind ? { kind } : {}), ...(name ? { name } : {}) };
  }

  const metadata: Record<string, unknown> = { ...meta };
  delete metadata.managedFields;
  if (CLUSTER_SCOPED_KINDS.has(kind as string)) delete metadata.namespace;
  else metadata.namespace = nonEmptyString(meta.namespace) ?? DEFAULT_NAMESPACE;
  return { ok: true, object: canonicalize({ ...value, metadata }) as unknown as SourceObject };
}

function isMapping(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function nonEmptyString(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/** Why `v` is not absent or a map of string values, as a suffix of the field path; undefined if fine. */
function badStringMap(v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isMapping(v)) return ` must be a mapping (got ${describe(v)})`;
  for (const [k, x] of Object.entries(v)) {
    if (typeof x !== 'string') return `.${k} must be a string (got ${describe(x)}; quote it)`;
  }
  return undefined;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a sequence';
  return `a ${typeof v}`;
}
