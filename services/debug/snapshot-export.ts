/**
 * The snapshot as the admin API serves it. `/snapshot` (operators only) is the whole view;
 * `/snapshot-external` is safe to hand to anyone: every secret payload (inline bytes/strings of
 * SDS Secrets, and any private key field anywhere) is replaced by its size, and source objects
 * with errors are reduced to their identity and the errors (never their spec), as Emissary
 * scrubs its snapshots.
 */
import { SECRET_TYPE } from '../../shared/xds/type-urls.ts';
import type { SnapshotView } from './snapshot-view.ts';

const SECRET_FIELDS = new Set(['inline_bytes', 'inline_string', 'private_key', 'password', 'key']);

export function internalSnapshot(view: SnapshotView): unknown {
  return {
    group: view.group,
    version: view.version,
    manifest: view.manifest,
    resources: view.resources.map((r) => ({
      typeUrl: r.typeUrl,
      name: r.name,
      hash: r.hash,
      resource: r.json,
    })),
    diagnostics: view.diagnostics,
    provenance: view.provenance,
  };
}

export function externalSnapshot(view: SnapshotView): unknown {
  const invalid = new Map<
    string,
    { cluster: string; kind: string; namespace: string; name: string; errors: string[] }
  >();
  for (const d of view.diagnostics) {
    if (d.severity !== 'error') continue;
    const s = d.source;
    const id = `${s.cluster}/${s.kind}/${s.namespace}/${s.name}`;
    const entry = invalid.get(id) ?? {
      cluster: s.cluster,
      kind: s.kind,
      namespace: s.namespace,
      name: s.name,
      errors: [],
    };
    entry.errors.push(`${d.field ? `${d.field}: ` : ''}${d.message}`);
    invalid.set(id, entry);
  }
  return {
    group: view.group,
    version: view.version,
    resources: view.resources.map((r) => ({
      typeUrl: r.typeUrl,
      name: r.name,
      hash: r.hash,
      resource: r.typeUrl === SECRET_TYPE ? scrub(r.json, true) : scrub(r.json, false),
    })),
    warnings: view.diagnostics
      .filter((d) => d.severity === 'warning')
      .map((d) => ({
        ...d,
        source: {
          cluster: d.source.cluster,
          kind: d.source.kind,
          namespace: d.source.namespace,
          name: d.source.name,
        },
      })),
    invalid: [...invalid.values()],
    provenance: view.provenance,
  };
}

/** Replaces secret payloads by `[redacted: N bytes]`; in a Secret every string leaf under a secret field goes. */
function scrub(value: unknown, inSecret: boolean, key = ''): unknown {
  if (Array.isArray(value)) return value.map((v) => scrub(v, inSecret, key));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, scrub(v, inSecret, k)]));
  }
  if (
    typeof value === 'string' &&
    (SECRET_FIELDS.has(key) || (inSecret && /key|secret|password/i.test(key)))
  ) {
    const bytes = key === 'inline_bytes' ? Buffer.from(value, 'base64').length : Buffer.byteLength(value);
    return `[redacted: ${bytes} bytes]`;
  }
  return value;
}
