/**
 * Protobuf encoding straight from the plain objects translate builds, without protobufjs's
 * `fromObject` (a message instance per nested message) and its Writer (an operation list per
 * field, a fork per nested message): at 10,000 Mappings those were most of encoding's time and
 * garbage. One reusable buffer; a nested message reserves one length byte and moves its body when
 * the length needs more.
 *
 * Contract: for every input it accepts, the bytes are exactly those of protobufjs's
 * `type.encode(type.fromObject(obj))` with the keys of every map field sorted (what
 * encoding.ts `encodeMessage` defines): fields in field-number order, present when not
 * null/undefined (default values included), packed repeated scalars, map entries in sorted key
 * order, protobufjs's value conversions (`String`, `Number`, `|0`, `>>>0`, enum names). Input it
 * cannot prove it encodes the same way (an Any given as `"@type"` JSON, an unknown enum name,
 * integer-like map keys, strings with lone surrogates, 64-bit values outside exact range, a
 * non-object where a message belongs, …) makes it return `undefined`, and the caller encodes that
 * message with protobufjs as before. `plain-encoder.test.ts` compares the two on the golden
 * outputs and on random messages.
 */
import protobuf from 'protobufjs';

/** Thrown inside an encode: this input is not one the fast path is proven to match. */
class Unsupported extends Error {}
const UNSUPPORTED = new Unsupported('unsupported by the plain encoder');

type Scalar =
  | 'double'
  | 'float'
  | 'int32'
  | 'uint32'
  | 'sint32'
  | 'fixed32'
  | 'sfixed32'
  | 'int64'
  | 'uint64'
  | 'sint64'
  | 'fixed64'
  | 'sfixed64'
  | 'bool'
  | 'string'
  | 'bytes';

interface FieldPlan {
  name: string;
  /** The field's tag as written before a non-packed value (number << 3 | wire type). */
  tag: number;
  /** The tag of a length-delimited occurrence (packed arrays, maps). */
  tagLd: number;
  repeated: boolean;
  packed: boolean;
  /** For a map: its key's scalar type. */
  mapKey: Scalar | null;
  /** Scalar type of the value (the enum's int32 for enums), or null for a message. */
  scalar: Scalar | null;
  /** Enum values by name, for enum fields. */
  enumValues: Record<string, number> | null;
  /** The message type (of a map's values), resolved lazily to its plan. */
  type: protobuf.Type | null;
}

interface MessagePlan {
  /** In field-number order. */
  fields: FieldPlan[];
  /** Field name → its index in `fields`. */
  index: Map<string, number>;
  isAny: boolean;
}

const WIRE: Record<Scalar, number> = {
  double: 1,
  float: 5,
  int32: 0,
  uint32: 0,
  sint32: 0,
  fixed32: 5,
  sfixed32: 5,
  int64: 0,
  uint64: 0,
  sint64: 0,
  fixed64: 1,
  sfixed64: 1,
  bool: 0,
  string: 2,
  bytes: 2,
};

const plans = new Map<protobuf.Type, MessagePlan>();

function planOf(type: protobuf.Type): MessagePlan {
  let plan = plans.get(type);
  if (plan) return plan;
  const fields: FieldPlan[] = [];
  for (const f of [...type.fieldsArray].sort((a, b) => a.id - b.id)) {
    f.resolve();
    if (f.required) throw new Error(`${f.fullName}: required fields are not supported`);
    const resolved = f.resolvedType;
    const isEnum = resolved instanceof protobuf.Enum;
    const isMessage = resolved instanceof protobuf.Type;
    const scalar: Scalar | null = isEnum ? 'int32' : isMessage ? null : (f.type as Scalar);
    if (scalar !== null && WIRE[scalar] === undefined) throw new Error(`${f.fullName}: type ${f.type}`);
    const mapKey = f.map ? ((f as unknown as protobuf.MapField).keyType as Scalar) : null;
    fields.push({
      name: f.name,
      tag: ((f.id << 3) | (scalar === null ? 2 : WIRE[scalar])) >>> 0,
      tagLd: ((f.id << 3) | 2) >>> 0,
      repeated: f.repeated && !f.map,
      packed:
        f.repeated && !f.map && f.packed && scalar !== null && scalar !== 'string' && scalar !== 'bytes',
      mapKey,
      scalar,
      enumValues: isEnum ? (resolved as protobuf.Enum).values : null,
      type: isMessage ? (resolved as protobuf.Type) : null,
    });
  }
  plan = {
    fields,
    index: new Map(fields.map((f, i) => [f.name, i])),
    isAny: type.fullName === '.google.protobuf.Any',
  };
  plans.set(type, plan);
  return plan;
}

// The output buffer, reused across encodes (each result is copied out of it).
let buf = new Uint8Array(1 << 16);
let view = new DataView(buf.buffer);
let pos = 0;
let active = false;
// Field indexes of the messages being written, innermost last (see writeMessage).
let order = new Int32Array(256);
let top = 0;

function ensure(n: number): void {
  if (pos + n <= buf.length) return;
  let size = buf.length * 2;
  while (size < pos + n) size *= 2;
  const next = new Uint8Array(size);
  next.set(buf.subarray(0, pos));
  buf = next;
  view = new DataView(buf.buffer);
}

/**
 * `message` encoded as `type`, or undefined when the input is outside what this encoder is
 * proven to encode exactly as protobufjs does (the caller then uses protobufjs).
 */
export function encodePlain(type: protobuf.Type, message: object): Uint8Array | undefined {
  if (active) return undefined; // not re-entrant; never expected
  active = true;
  pos = 0;
  top = 0;
  try {
    writeMessage(planOf(type), message);
    // A Buffer, as protobufjs returns in Node (callers and tests compare and store it as one).
    const out = Buffer.allocUnsafe(pos);
    out.set(buf.subarray(0, pos));
    return out;
  } catch (err) {
    if (err instanceof Unsupported) return undefined;
    throw err;
  } finally {
    active = false;
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !ArrayBuffer.isView(v);
}

function writeMessage(plan: MessagePlan, m: object): void {
  const o = m as Record<string, unknown>;
  // A message instance reads defaults through its prototype, where protobufjs checks own fields.
  const proto = Object.getPrototypeOf(o);
  if (proto !== Object.prototype && proto !== null) throw UNSUPPORTED;
  if (plan.isAny && o['@type'] !== undefined) throw UNSUPPORTED;
  // The message's own keys (a few) rather than its type's fields (dozens), in field-number order:
  // insertion-sorted into this message's slice [base, end) of the shared `order` stack (nested
  // messages use the slice above it), so no array is allocated per message.
  const base = top;
  for (const key in o) {
    const i = plan.index.get(key);
    if (i === undefined) continue;
    if (top === order.length) {
      const grown = new Int32Array(order.length * 2);
      grown.set(order);
      order = grown;
    }
    let j = top++;
    while (j > base && (order[j - 1] as number) > i) {
      order[j] = order[j - 1] as number;
      j--;
    }
    order[j] = i;
  }
  const end = top;
  for (let k = base; k < end; k++) {
    const f = plan.fields[order[k] as number] as FieldPlan;
    const v = o[f.name];
    if (v === undefined || v === null) continue;
    if (f.mapKey !== null) writeMap(f, v);
    else if (f.repeated) writeRepeated(f, v);
    else if (f.scalar === null) {
      if (!isObject(v)) throw UNSUPPORTED;
      varint32(f.tag);
      nested(planOf(f.type as protobuf.Type), v);
    } else if (f.enumValues !== null) {
      const n = enumValue(f, v);
      if (n === undefined) continue; // protobufjs drops an unknown name on a singular field
      varint32(f.tag);
      writeInt32(n);
    } else {
      varint32(f.tag);
      writeScalar(f.scalar, v);
    }
  }
  top = base;
}

/** A nested message, length-delimited ({@link reserveLength}). */
function nested(plan: MessagePlan, v: object): void {
  const start = reserveLength();
  writeMessage(plan, v);
  writeLength(start);
}

/** Starts a length-delimited body: one length byte reserved; returns where it is. */
function reserveLength(): number {
  ensure(1);
  return pos++;
}

/** Ends the body begun at `start`: writes its length there, moving the body right if it needs more bytes. */
function writeLength(start: number): void {
  const len = pos - start - 1;
  const extra = varintLength(len) - 1;
  if (extra > 0) {
    ensure(extra);
    buf.copyWithin(start + 1 + extra, start + 1, pos);
    pos += extra;
  }
  const end = pos;
  pos = start;
  varint32(len);
  pos = end;
}

function enumValue(f: FieldPlan, v: unknown): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v !== 'string') return undefined;
  const values = f.enumValues as Record<string, number>;
  return Object.hasOwn(values, v) ? values[v] : undefined;
}

function writeRepeated(f: FieldPlan, v: unknown): void {
  if (!Array.isArray(v)) throw UNSUPPORTED;
  if (v.length === 0) return;
  if (f.scalar === null) {
    const plan = planOf(f.type as protobuf.Type);
    for (const e of v) {
      if (!isObject(e)) throw UNSUPPORTED;
      varint32(f.tag);
      nested(plan, e);
    }
    return;
  }
  const values: unknown[] = [];
  for (const e of v) {
    if (e === null || e === undefined) throw UNSUPPORTED;
    if (f.enumValues !== null) {
      const n = enumValue(f, e);
      if (n === undefined) throw UNSUPPORTED; // protobufjs substitutes the default: not mirrored
      values.push(n);
    } else values.push(e);
  }
  if (f.packed) {
    varint32(f.tagLd);
    const start = reserveLength();
    for (const e of values) writeScalar(f.scalar, e);
    writeLength(start);
    return;
  }
  for (const e of values) {
    varint32(f.tag);
    writeScalar(f.scalar, e);
  }
}

/** Integer-like keys would be ordered numerically by the object protobufjs encodes from. */
const INDEX_KEY = /^(?:0|[1-9][0-9]*)$/;

function writeMap(f: FieldPlan, v: unknown): void {
  if (!isObject(v)) throw UNSUPPORTED;
  const keys = Object.keys(v).sort();
  const valuePlan = f.scalar === null ? planOf(f.type as protobuf.Type) : null;
  for (const key of keys) {
    const value = v[key];
    if (value === undefined) continue;
    if (value === null || key === '__proto__' || INDEX_KEY.test(key) || f.mapKey !== 'string')
      throw UNSUPPORTED;
    varint32(f.tagLd);
    const start = reserveLength();
    varint32(10); // key: field 1, length-delimited
    writeString(key);
    if (valuePlan !== null) {
      if (!isObject(value)) throw UNSUPPORTED;
      varint32(18);
      nested(valuePlan, value);
    } else {
      let n: unknown = value;
      if (f.enumValues !== null) {
        n = enumValue(f, value);
        if (n === undefined) throw UNSUPPORTED;
      }
      varint32(16 | WIRE[f.scalar as Scalar]);
      writeScalar(f.scalar as Scalar, n);
    }
    writeLength(start);
  }
}

function writeScalar(type: Scalar, v: unknown): void {
  switch (type) {
    case 'string':
      writeString(typeof v === 'string' ? v : String(v));
      return;
    case 'bool':
      ensure(1);
      buf[pos++] = v ? 1 : 0;
      return;
    case 'uint32':
      varint32((v as number) >>> 0);
      return;
    case 'int32':
      writeInt32((v as number) | 0);
      return;
    case 'sint32': {
      const n = (v as number) | 0;
      varint32(((n << 1) ^ (n >> 31)) >>> 0);
      return;
    }
    case 'fixed32':
      ensure(4);
      view.setUint32(pos, (v as number) >>> 0, true);
      pos += 4;
      return;
    case 'sfixed32':
      ensure(4);
      view.setInt32(pos, (v as number) | 0, true);
      pos += 4;
      return;
    case 'double':
      ensure(8);
      view.setFloat64(pos, Number(v), true);
      pos += 8;
      return;
    case 'float':
      ensure(4);
      view.setFloat32(pos, Number(v), true);
      pos += 4;
      return;
    case 'int64':
    case 'uint64':
    case 'sint64':
    case 'fixed64':
    case 'sfixed64':
      writeLong(type, v);
      return;
    case 'bytes':
      writeBytes(v);
      return;
  }
}

/** protobufjs's int32: a negative value is sign-extended to ten bytes. */
function writeInt32(n: number): void {
  if (typeof n !== 'number' || !Number.isInteger(n) || n < -(2 ** 31) || n >= 2 ** 31) {
    // Enum numbers pass through protobufjs unconverted; only plain int32 values are mirrored.
    throw UNSUPPORTED;
  }
  if (n >= 0) varint32(n);
  else varint64(BigInt.asUintN(64, BigInt(n)));
}

const SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const DECIMAL = /^-?[0-9]+$/;

/**
 * 64-bit values protobufjs reads exactly with or without the `long` package: safe integers, as
 * numbers or decimal strings.
 */
function writeLong(type: Scalar, v: unknown): void {
  let n: bigint;
  if (typeof v === 'number' && Number.isSafeInteger(v)) n = BigInt(v);
  else if (typeof v === 'string' && DECIMAL.test(v) && v.length <= 17) n = BigInt(v);
  else throw UNSUPPORTED;
  const unsigned = type === 'uint64' || type === 'fixed64';
  if (n < (unsigned ? 0n : -SAFE) || n > SAFE) throw UNSUPPORTED;
  if (type === 'fixed64' || type === 'sfixed64') {
    ensure(8);
    view.setBigUint64(pos, BigInt.asUintN(64, n), true);
    pos += 8;
  } else if (type === 'sint64') varint64(BigInt.asUintN(64, (n << 1n) ^ (n >> 63n)));
  else varint64(BigInt.asUintN(64, n));
}

function writeBytes(v: unknown): void {
  // protobufjs decodes base64 strings: not mirrored.
  if (!(v instanceof Uint8Array)) throw UNSUPPORTED;
  varint32(v.length);
  ensure(v.length);
  buf.set(v, pos);
  pos += v.length;
}

const encoder = new TextEncoder();
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function writeString(s: string): void {
  const n = s.length;
  // ASCII, the common case: one byte per character.
  ensure(n + 5);
  const start = pos;
  if (n < 128) buf[pos++] = n;
  else varint32(n);
  const body = pos;
  let i = 0;
  for (; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) break;
    buf[body + i] = c;
  }
  if (i === n) {
    pos = body + n;
    return;
  }
  // protobufjs writes lone surrogates differently in short and long strings: not mirrored.
  if (LONE_SURROGATE.test(s)) throw UNSUPPORTED;
  pos = start;
  const bytes = encoder.encode(s);
  varint32(bytes.length);
  ensure(bytes.length);
  buf.set(bytes, pos);
  pos += bytes.length;
}

function varintLength(n: number): number {
  return n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x200000 ? 3 : n < 0x10000000 ? 4 : 5;
}

/** An unsigned 32-bit varint. */
function varint32(n: number): void {
  ensure(5);
  while (n > 0x7f) {
    buf[pos++] = (n & 0x7f) | 0x80;
    n >>>= 7;
  }
  buf[pos++] = n;
}

function varint64(n: bigint): void {
  ensure(10);
  while (n > 0x7fn) {
    buf[pos++] = Number(n & 0x7fn) | 0x80;
    n >>= 7n;
  }
  buf[pos++] = Number(n);
}
