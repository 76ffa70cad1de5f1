/**
 * Pass 4: Envoy resources → canonical protobuf bytes and content hashes, sorted by (type URL,
 * name). A message that cannot be encoded is a compiler bug, reported as InvalidOutputError.
 */
import { InvalidOutputError } from '../../shared/runtime/errors.ts';
import { encodeMessage, resourceHash } from '../../shared/xds/encoding.ts';
import { messageNameOf } from '../../shared/xds/type-urls.ts';
import type { CompiledResource } from './compile.ts';
import type { EnvoyResource } from './translate/common.ts';

export function encodeResources(resources: readonly EnvoyResource[]): CompiledResource[] {
  const out = resources.map((r): CompiledResource => {
    let bytes: Uint8Array;
    try {
      bytes = encodeMessage(messageNameOf(r.typeUrl), r.message);
    } catch (err) {
      throw new InvalidOutputError(
        `generated ${r.typeUrl} ${r.name} cannot be encoded; nothing is published`,
        {
          cause: err,
        },
      );
    }
    const compiled: CompiledResource = {
      typeUrl: r.typeUrl,
      name: r.name,
      bytes,
      hash: resourceHash(r.typeUrl, bytes),
      message: r.message,
    };
    if (r.onDemand) compiled.onDemand = true;
    return compiled;
  });
  return out.sort((a, b) => cmp(a.typeUrl, b.typeUrl) || cmp(a.name, b.name));
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
