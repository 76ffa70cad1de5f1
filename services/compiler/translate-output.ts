/**
 * The files `attache translate` (and golden tests) write: one JSON array per resource type, each
 * resource as proto-field-name JSON with a leading "@type" (Secrets redacted), plus status.json with the
 * diagnostics. Two-space indent and a trailing newline; resources keep the compile order
 * (sorted by name), so the same result always gives the same text.
 */
import { decodeResource } from '../../shared/xds/encoding.ts';
import {
  CLUSTER_TYPE,
  ENDPOINT_TYPE,
  LISTENER_TYPE,
  ROUTE_TYPE,
  SECRET_TYPE,
  type TypeUrl,
} from '../../shared/xds/type-urls.ts';
import type { CompileResult } from './contracts.ts';

export type TranslateFileName =
  | 'listeners.json'
  | 'routes.json'
  | 'clusters.json'
  | 'endpoints.json'
  | 'secrets.json'
  | 'status.json';

const FILES: readonly [Exclude<TranslateFileName, 'status.json'>, TypeUrl][] = [
  ['listeners.json', LISTENER_TYPE],
  ['routes.json', ROUTE_TYPE],
  ['clusters.json', CLUSTER_TYPE],
  ['endpoints.json', ENDPOINT_TYPE],
  ['secrets.json', SECRET_TYPE],
];

/**
 * `decoded` holds resources' plain forms already decoded from their bytes (validation's, see
 * validate-output.ts `keepingDecoded`); the others are decoded here.
 */
export function toTranslateFiles(
  result: Pick<CompileResult, 'resources' | 'diagnostics'>,
  decoded?: ReadonlyMap<Uint8Array, Record<string, unknown>>,
): Record<TranslateFileName, string> {
  const out = {} as Record<TranslateFileName, string>;
  for (const [file, typeUrl] of FILES) {
    const docs = result.resources
      .filter((r) => r.typeUrl === typeUrl)
      .map((r) =>
        typeFirst({ '@type': typeUrl, ...(decoded?.get(r.bytes) ?? decodeResource(typeUrl, r.bytes)) }),
      )
      .map((doc) => (typeUrl === SECRET_TYPE ? redact(doc) : doc));
    out[file] = render(docs);
  }
  out['status.json'] = render(result.diagnostics);
  return out;
}

/** SDS Secrets are dumped with every byte/string payload replaced by its size: key material never leaves the compiler. */
function redact(value: unknown, key = ''): unknown {
  if (Array.isArray(value)) return value.map((v) => redact(v));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redact(v, k)]));
  }
  if ((key === 'inline_bytes' || key === 'inline_string') && typeof value === 'string') {
    const bytes = key === 'inline_bytes' ? Buffer.from(value, 'base64').length : Buffer.byteLength(value);
    return `[redacted: ${bytes} bytes]`;
  }
  return value;
}

/**
 * Puts "@type" first in every object (protobufjs appends it to nested Anys), for readable files.
 * Copies only the objects on a path to one that needs it: a snapshot is mostly routes without Anys.
 */
function typeFirst(value: unknown): unknown {
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const v = value[i];
      const w = typeFirst(v);
      if (w !== v) {
        copy ??= value.slice();
        copy[i] = w;
      }
    }
    return copy ?? value;
  }
  if (value === null || typeof value !== 'object') return value;
  const o = value as Record<string, unknown>;
  const keys = Object.keys(o);
  let out: Record<string, unknown> | undefined =
    keys.indexOf('@type') > 0 ? { '@type': o['@type'] } : undefined;
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i] as string;
    const v = o[k];
    const w = typeFirst(v);
    if (w !== v && out === undefined) {
      out = {};
      for (let j = 0; j < i; j++) out[keys[j] as string] = o[keys[j] as string];
    }
    if (out !== undefined) out[k] = w;
  }
  return out ?? value;
}

function render(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}
