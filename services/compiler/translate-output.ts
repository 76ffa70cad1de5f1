/**
 * The files `attache translate` (and golden tests) write: one JSON array per resource type, each
 * resource as proto-field-name JSON with a leading "@type", plus status.json with the
 * diagnostics. Two-space indent and a trailing newline; resources keep the compile order
 * (sorted by name), so the same result always gives the same text.
 */
import { decodeResource } from '../../shared/xds/encoding.ts';
import {
  CLUSTER_TYPE,
  ENDPOINT_TYPE,
  LISTENER_TYPE,
  ROUTE_TYPE,
  type TypeUrl,
} from '../../shared/xds/type-urls.ts';
import type { CompileResult } from './compile.ts';

export type TranslateFileName =
  | 'listeners.json'
  | 'routes.json'
  | 'clusters.json'
  | 'endpoints.json'
  | 'status.json';

const FILES: readonly [Exclude<TranslateFileName, 'status.json'>, TypeUrl][] = [
  ['listeners.json', LISTENER_TYPE],
  ['routes.json', ROUTE_TYPE],
  ['clusters.json', CLUSTER_TYPE],
  ['endpoints.json', ENDPOINT_TYPE],
];

export function toTranslateFiles(result: CompileResult): Record<TranslateFileName, string> {
  const out = {} as Record<TranslateFileName, string>;
  for (const [file, typeUrl] of FILES) {
    const docs = result.resources
      .filter((r) => r.typeUrl === typeUrl)
      .map((r) => typeFirst({ '@type': typeUrl, ...decodeResource(typeUrl, r.bytes) }));
    out[file] = render(docs);
  }
  out['status.json'] = render(result.diagnostics);
  return out;
}

/** Puts "@type" first in every object (protobufjs appends it to nested Anys), for readable files. */
function typeFirst(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(typeFirst);
  if (value === null || typeof value !== 'object') return value;
  const entries = Object.entries(value).map(([k, v]): [string, unknown] => [k, typeFirst(v)]);
  entries.sort(([a], [b]) => (a === '@type' ? -1 : b === '@type' ? 1 : 0));
  return Object.fromEntries(entries);
}

function render(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}
