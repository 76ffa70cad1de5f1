/**
 * Canonical protobuf encoding of xDS resources. The same plain object always yields the same
 * bytes: protobufjs writes fields in field-number order, and we sort the keys of every plain
 * object first so that map fields (Struct, typed_per_filter_config, …) are written in a fixed order.
 * A resource's identity is the sha256 of its type URL and bytes.
 */
import { createHash } from 'node:crypto';
import { messageType } from '../../proto/root.ts';
import { messageNameOf, TYPE_PREFIX } from './type-urls.ts';

/** An `Any` ready for encoding: the type URL and the already-encoded message bytes. */
export interface PackedAny {
  type_url: string;
  value: Uint8Array;
}

/** Returns a deep copy of `value` with the keys of every plain object sorted. */
export function canonicalize<T>(value: T): T {
  if (Array.isArray(value)) return value.map((v) => canonicalize(v)) as T;
  if (value === null || typeof value !== 'object' || value instanceof Uint8Array) return value;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort()) {
    const v = (value as Record<string, unknown>)[key];
    if (v !== undefined) out[key] = canonicalize(v);
  }
  return out as T;
}

/** Encodes `message` as the protobuf message `fullName` (e.g. `envoy.config.cluster.v3.Cluster`). */
export function encodeMessage(fullName: string, message: object): Uint8Array {
  const type = messageType(fullName);
  return type.encode(type.fromObject(canonicalize(message) as Record<string, unknown>)).finish();
}

/** Packs a message into an `Any`, encoding it immediately (so a missing type fails loudly here). */
export function packAny(fullName: string, message: object): PackedAny {
  return { type_url: TYPE_PREFIX + fullName, value: encodeMessage(fullName, message) };
}

/** Decodes resource bytes into a plain object with proto field names (for diffs, dumps and tests). */
export function decodeResource(typeUrl: string, bytes: Uint8Array): Record<string, unknown> {
  const type = messageType(messageNameOf(typeUrl));
  return type.toObject(type.decode(bytes), {
    longs: String,
    enums: String,
    bytes: String,
    defaults: false,
    oneofs: false,
    json: true,
  }) as Record<string, unknown>;
}

/** Content hash of one encoded resource: sha256 over its type URL and bytes, lowercase hex. */
export function resourceHash(typeUrl: string, bytes: Uint8Array): string {
  return createHash('sha256').update(typeUrl).update('\0').update(bytes).digest('hex');
}

/** sha256 of arbitrary bytes or text, lowercase hex. */
export function sha256Hex(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}
