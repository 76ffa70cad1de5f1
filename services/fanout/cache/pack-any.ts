/**
 * Packs an already-encoded resource into `google.protobuf.Any` bytes. Written by hand (two
 * length-delimited fields: 1 `type_url`, 2 `value`) so the resource bytes are copied, never
 * decoded and re-encoded: what the compiler hashed is exactly what goes on the wire.
 */
import protobuf from 'protobufjs';
import { joinChunks } from '../../../shared/snapshot/resource-chunks.ts';

export function packAnyBytes(typeUrl: string, value: Uint8Array): Uint8Array {
  return protobuf.Writer.create()
    .uint32((1 << 3) | 2)
    .string(typeUrl)
    .uint32((2 << 3) | 2)
    .bytes(value)
    .finish();
}

/**
 * {@link packAnyBytes} of the concatenation of `parts` (a resource stored in chunks), written
 * with one copy of each part.
 */
export function packAnyParts(typeUrl: string, parts: readonly Uint8Array[]): Uint8Array {
  let length = 0;
  for (const p of parts) length += p.byteLength;
  const head = protobuf.Writer.create()
    .uint32((1 << 3) | 2)
    .string(typeUrl)
    .uint32((2 << 3) | 2)
    .uint32(length)
    .finish();
  return joinChunks([head, ...parts]);
}
