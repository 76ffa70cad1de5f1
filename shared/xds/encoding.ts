/**
 * Canonical protobuf encoding of xDS resources. The same plain object always yields the same
 * bytes: protobufjs writes fields in field-number order, and we sort the keys of every plain
 * object first so that map fields (Struct, typed_per_filter_config, …) are written in a fixed order.
 * A resource's identity is the sha256 of its type URL and bytes.
 */
import { createHash } from 'node:crypto';
import protobuf from 'protobufjs';
import { messageType } from '../../proto/root.ts';
import { encodePlain } from './plain-encoder.ts';
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
  const bytes = encodePlain(type, message);
  if (bytes === undefined) return encodeWithProtobufjs(type, message);
  if (plainEncoderCheck) plainEncoderCheck(type, message, bytes);
  return bytes;
}

let plainEncoderCheck: ((type: protobuf.Type, message: object, bytes: Uint8Array) => void) | undefined;

/**
 * Tests: calls `check` with every message the plain encoder (plain-encoder.ts) encoded, so a test
 * can compare its bytes with protobufjs's; undefined stops.
 */
export function onPlainEncode(
  check: ((type: protobuf.Type, message: object, bytes: Uint8Array) => void) | undefined,
): void {
  plainEncoderCheck = check;
}

/** The reference encoding: protobufjs from a copy with sorted map keys (plain-encoder.ts matches it). */
export function encodeWithProtobufjs(type: protobuf.Type, message: object): Uint8Array {
  return type.encode(type.fromObject(sortedMaps(type, message) as Record<string, unknown>)).finish();
}

/**
 * `message` with the keys of its map fields (at any depth: typed_per_filter_config, Struct
 * fields, metadata) sorted and their undefined entries dropped: the only place key order reaches
 * the bytes, since protobufjs writes fields in field-number order and map entries in key order.
 * The bytes are those of `canonicalize` before encoding; unlike it, this copies only the objects
 * on a path to a map (most messages have none), where a deep copy of every message was a fifth of
 * encoding's cost and much of its garbage.
 */
function sortedMaps(type: protobuf.Type, message: object): object {
  const p = planOf(type);
  if (p.length === 0) return message;
  const m = message as Record<string, unknown>;
  let out: Record<string, unknown> | undefined;
  for (const f of p) {
    const v = m[f.name];
    if (v === null || typeof v !== 'object') continue;
    let w: unknown;
    if (f.map) w = sortedMap(f.type, v as Record<string, unknown>);
    else if (Array.isArray(v)) {
      let copy: unknown[] | undefined;
      for (let i = 0; i < v.length; i++) {
        const e = v[i];
        const c = e !== null && typeof e === 'object' && f.type ? sortedMaps(f.type, e) : e;
        if (c !== e) {
          copy ??= v.slice();
          copy[i] = c;
        }
      }
      w = copy ?? v;
    } else w = f.type ? sortedMaps(f.type, v) : v;
    if (w !== v) {
      out ??= { ...m };
      out[f.name] = w;
    }
  }
  return out ?? message;
}

function sortedMap(valueType: protobuf.Type | null, map: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(map).sort()) {
    const v = map[key];
    if (v === undefined) continue;
    out[key] = valueType && v !== null && typeof v === 'object' ? sortedMaps(valueType, v) : v;
  }
  return out;
}

/** Per message type: its fields that are maps or (directly or below) may hold one. */
interface PlanField {
  name: string;
  map: boolean;
  /** The message type of the field (of a map's values), or null for scalars. */
  type: protobuf.Type | null;
}
const plans = new Map<protobuf.Type, PlanField[]>();

function planOf(type: protobuf.Type): PlanField[] {
  let p = plans.get(type);
  if (p) return p;
  p = [];
  // Set before filling, so recursive types (Struct → Value → Struct) terminate.
  plans.set(type, p);
  for (const field of type.fieldsArray) {
    field.resolve();
    const t = field.resolvedType instanceof protobuf.Type ? field.resolvedType : null;
    if (field.map) p.push({ name: field.name, map: true, type: t });
    else if (t && mayHoldMap(t)) p.push({ name: field.name, map: false, type: t });
  }
  return p;
}

/** Whether a message of this type can hold a map field at any depth (exact; memoised). */
function mayHoldMap(type: protobuf.Type): boolean {
  let r = holdsMap.get(type);
  if (r === undefined) {
    r = searchMap(type, new Set());
    holdsMap.set(type, r);
  }
  return r;
}
const holdsMap = new Map<protobuf.Type, boolean>();

/** Depth-first; only `true` is recorded on the way (a `false` below a cycle may be partial). */
function searchMap(type: protobuf.Type, seen: Set<protobuf.Type>): boolean {
  const known = holdsMap.get(type);
  if (known !== undefined) return known;
  if (seen.has(type)) return false;
  seen.add(type);
  for (const field of type.fieldsArray) {
    field.resolve();
    if (field.map || (field.resolvedType instanceof protobuf.Type && searchMap(field.resolvedType, seen))) {
      holdsMap.set(type, true);
      return true;
    }
  }
  return false;
}

/** Packs a message into an `Any`, encoding it immediately (so a missing type fails loudly here). */
export function packAny(fullName: string, message: object): PackedAny {
  return { type_url: TYPE_PREFIX + fullName, value: encodeMessage(fullName, message) };
}

/** How decoded resources become plain objects: proto field names, enums by name, Anys with "@type". */
export const RESOURCE_JSON_OPTIONS: protobuf.IConversionOptions = {
  longs: String,
  enums: String,
  bytes: String,
  defaults: false,
  oneofs: false,
  json: true,
};

/** Decodes resource bytes into a plain object with proto field names (for diffs, dumps and tests). */
export function decodeResource(typeUrl: string, bytes: Uint8Array): Record<string, unknown> {
  const type = messageType(messageNameOf(typeUrl));
  return type.toObject(type.decode(bytes), RESOURCE_JSON_OPTIONS) as Record<string, unknown>;
}

/** Content hash of one encoded resource: sha256 over its type URL and bytes, lowercase hex. */
export function resourceHash(typeUrl: string, bytes: Uint8Array): string {
  return createHash('sha256').update(typeUrl).update('\0').update(bytes).digest('hex');
}

/** sha256 of arbitrary bytes or text, lowercase hex. */
export function sha256Hex(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}
