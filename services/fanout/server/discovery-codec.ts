/**
 * Wire encoding for SotW and delta xDS. Requests are decoded by hand, field by field (nested
 * messages with the shared Envoy proto root).
 * Responses are assembled from bytes: a SotW body (fields 1 `version_info`, 2 `resources`,
 * 4 `type_url`) is built once per served set and shared by every stream; a delta body is the
 * concatenation of `Resource` messages each encoded once per resource, plus `removed_resources`;
 * each stream appends only field 5 `nonce` (the same number in both response messages).
 * Protobuf parsers accept fields in any order, so concatenating fields is a valid message.
 *
 * The fleet simulator imports these helpers: names here are stable (add, never rename).
 */
import protobuf from 'protobufjs';
import type {
  DeltaDiscoveryRequest__Output,
  DeltaDiscoveryRequest as DeltaDiscoveryRequestFields,
} from '../../../proto/gen/envoy/service/discovery/v3/DeltaDiscoveryRequest.ts';
import type {
  DiscoveryRequest__Output,
  DiscoveryRequest as DiscoveryRequestFields,
} from '../../../proto/gen/envoy/service/discovery/v3/DiscoveryRequest.ts';
import { messageType } from '../../../proto/root.ts';

/** A decoded request: every field present, proto defaults filled in. */
export type DiscoveryRequest = DiscoveryRequest__Output;
/** A request to encode: any subset of the fields. */
export type DiscoveryRequestInit = DiscoveryRequestFields;

/** A decoded delta request: every field present, proto defaults filled in. */
export type DeltaDiscoveryRequest = DeltaDiscoveryRequest__Output;
/** A delta request to encode: any subset of the fields. */
export type DeltaDiscoveryRequestInit = DeltaDiscoveryRequestFields;

const REQUEST_TYPE = 'envoy.service.discovery.v3.DiscoveryRequest';
const DELTA_REQUEST_TYPE = 'envoy.service.discovery.v3.DeltaDiscoveryRequest';
const RESPONSE_TYPE = 'envoy.service.discovery.v3.DiscoveryResponse';
const DELTA_RESPONSE_TYPE = 'envoy.service.discovery.v3.DeltaDiscoveryResponse';
const DECODE_OPTIONS = {
  defaults: true,
  arrays: true,
  objects: true,
  longs: String,
  enums: String,
  oneofs: true,
};

const TAG_VERSION_INFO = (1 << 3) | 2;
const TAG_RESOURCES = (2 << 3) | 2;
const TAG_TYPE_URL = (4 << 3) | 2;
const TAG_NONCE = (5 << 3) | 2;
/** DeltaDiscoveryResponse.removed_resources */
const TAG_REMOVED = (6 << 3) | 2;
/** Resource fields: 1 version, 2 resource (Any), 3 name. */
const TAG_RESOURCE_VERSION = (1 << 3) | 2;
const TAG_RESOURCE_ANY = (2 << 3) | 2;
const TAG_RESOURCE_NAME = (3 << 3) | 2;
const TAG_RESOURCE_ALIASES = (4 << 3) | 2;

/**
 * Decodes a DiscoveryRequest into a plain object with every field present (proto defaults), as
 * protobufjs's `toObject` with {@link DECODE_OPTIONS} would. Read field by field by hand: every
 * ACK of every stream comes through here (10,000 per push), and the generic decoder plus
 * `toObject` cost several times more. Nested messages that are rare on the hot path (`node`,
 * only on a stream's first request; `error_detail`, only on NACKs; locators) still go through
 * protobufjs. Unknown fields are skipped; a malformed message throws.
 */
export function decodeDiscoveryRequest(bytes: Uint8Array): DiscoveryRequest {
  const out: DiscoveryRequest = {
    version_info: '',
    node: null,
    resource_names: [],
    type_url: '',
    response_nonce: '',
    error_detail: null,
    resource_locators: [],
  };
  const r = protobuf.Reader.create(bytes);
  while (r.pos < r.len) {
    const tag = r.uint32();
    switch (tag) {
      case (1 << 3) | 2:
        out.version_info = str(r);
        break;
      case (2 << 3) | 2:
        out.node = nested(NODE_TYPE, r) as DiscoveryRequest['node'];
        break;
      case (3 << 3) | 2:
        out.resource_names.push(str(r));
        break;
      case (4 << 3) | 2:
        out.type_url = str(r);
        break;
      case (5 << 3) | 2:
        out.response_nonce = str(r);
        break;
      case (6 << 3) | 2:
        out.error_detail = nested(STATUS_TYPE, r) as DiscoveryRequest['error_detail'];
        break;
      case (7 << 3) | 2:
        out.resource_locators.push(nested(LOCATOR_TYPE, r) as DiscoveryRequest['resource_locators'][number]);
        break;
      default:
        r.skipType(tag & 7);
    }
  }
  return out;
}

/**
 * Decodes a DeltaDiscoveryRequest (as {@link decodeDiscoveryRequest}, by hand); the map
 * `initial_resource_versions` is always an object, without a prototype, so no key (`__proto__`)
 * can reach one.
 */
export function decodeDeltaDiscoveryRequest(bytes: Uint8Array): DeltaDiscoveryRequest {
  return decodeDelta(bytes, undefined);
}

/**
 * Interns `initial_resource_versions` entries by their encoded bytes as a request is decoded
 * (delta-diff.ts): an entry seen before is neither decoded nor allocated again.
 */
export interface VersionEntryInterner<E> {
  /** The entry encoded in `buf[start, end)` (a `map<string, string>` entry's fields). */
  entry(buf: Uint8Array, start: number, end: number): E;
}

/** A delta request whose declared versions were interned while decoding, not decoded. */
export interface InternedDeltaRequest<E> extends DeltaDiscoveryRequest {
  /** The `initial_resource_versions` entries in request order; `initial_resource_versions` is left empty. */
  declaredEntries: E[];
}

/**
 * {@link decodeDeltaDiscoveryRequest} for the server: the map entries of `initial_resource_versions`
 * go to `interner` as byte ranges instead of being decoded into an object (a reconnecting fleet
 * declares the same few hundred entries, stream after stream, in any order).
 */
export function decodeDeltaRequestInterning<E>(
  bytes: Uint8Array,
  interner: VersionEntryInterner<E>,
): InternedDeltaRequest<E> {
  return decodeDelta(bytes, interner) as InternedDeltaRequest<E>;
}

/** One `map<string, string>` entry's fields in `buf[start, end)`: [key, value] (missing ones ''). */
export function decodeVersionEntry(buf: Uint8Array, start: number, end: number): [string, string] {
  // A reader over the entry alone: a field that overruns the entry throws.
  const r = protobuf.Reader.create(buf.subarray(start, end));
  let key = '';
  let value = '';
  while (r.pos < r.len) {
    const tag = r.uint32();
    if (tag === ((1 << 3) | 2)) key = str(r);
    else if (tag === ((2 << 3) | 2)) value = str(r);
    else r.skipType(tag & 7);
  }
  return [key, value];
}

function decodeDelta<E>(
  bytes: Uint8Array,
  interner: VersionEntryInterner<E> | undefined,
): DeltaDiscoveryRequest {
  let declared: E[] | undefined;
  const out: DeltaDiscoveryRequest = {
    node: null,
    type_url: '',
    resource_names_subscribe: [],
    resource_names_unsubscribe: [],
    initial_resource_versions: Object.create(null) as Record<string, string>,
    response_nonce: '',
    error_detail: null,
    resource_locators_subscribe: [],
    resource_locators_unsubscribe: [],
  };
  const r = protobuf.Reader.create(bytes);
  while (r.pos < r.len) {
    const tag = r.uint32();
    switch (tag) {
      case (1 << 3) | 2:
        out.node = nested(NODE_TYPE, r) as DeltaDiscoveryRequest['node'];
        break;
      case (2 << 3) | 2:
        out.type_url = str(r);
        break;
      case (3 << 3) | 2:
        out.resource_names_subscribe.push(str(r));
        break;
      case (4 << 3) | 2:
        out.resource_names_unsubscribe.push(str(r));
        break;
      case (5 << 3) | 2:
        if (interner) {
          const len = r.uint32();
          const end = r.pos + len;
          if (end > r.len)
            throw new RangeError(`a map entry of ${len} bytes at ${r.pos} overruns the message`);
          declared ??= [];
          declared.push(interner.entry(r.buf, r.pos, end));
          r.pos = end;
        } else mapEntry(r, out.initial_resource_versions);
        break;
      case (6 << 3) | 2:
        out.response_nonce = str(r);
        break;
      case (7 << 3) | 2:
        out.error_detail = nested(STATUS_TYPE, r) as DeltaDiscoveryRequest['error_detail'];
        break;
      case (8 << 3) | 2:
        out.resource_locators_subscribe.push(
          nested(LOCATOR_TYPE, r) as DeltaDiscoveryRequest['resource_locators_subscribe'][number],
        );
        break;
      case (9 << 3) | 2:
        out.resource_locators_unsubscribe.push(
          nested(LOCATOR_TYPE, r) as DeltaDiscoveryRequest['resource_locators_unsubscribe'][number],
        );
        break;
      default:
        r.skipType(tag & 7);
    }
  }
  if (interner) (out as InternedDeltaRequest<E>).declaredEntries = declared ?? [];
  return out;
}

const NODE_TYPE = 'envoy.config.core.v3.Node';
const STATUS_TYPE = 'google.rpc.Status';
const LOCATOR_TYPE = 'envoy.service.discovery.v3.ResourceLocator';

/** The length-delimited sub-message at the reader's position, decoded by protobufjs. */
function nested(typeName: string, r: protobuf.Reader): unknown {
  const type = messageType(typeName);
  const bytes = r.bytes();
  return type.toObject(type.decode(bytes), DECODE_OPTIONS);
}

/**
 * A string field. protobufjs's Buffer reader clamps a length that overruns the message, so a
 * truncated request decoded a cut-short string (5 bytes of a request gave type_url 'typ'); here an
 * overrun throws, as a malformed message must. Node's UTF-8 decoding, as protobufjs's Buffer reader.
 */
function str(r: protobuf.Reader): string {
  const len = r.uint32();
  const end = r.pos + len;
  if (end > r.len)
    throw new RangeError(`a string of ${len} bytes at ${r.pos} overruns the ${r.len}-byte message`);
  const buf = r.buf;
  const text = Buffer.isBuffer(buf)
    ? buf.toString('utf8', r.pos, end)
    : Buffer.from(buf.buffer, buf.byteOffset + r.pos, len).toString('utf8');
  r.pos = end;
  return text;
}

/** One `map<string, string>` entry (key 1, value 2; missing ones are ''); a later key wins. */
function mapEntry(r: protobuf.Reader, into: Record<string, string>): void {
  const end = r.uint32() + r.pos;
  let key = '';
  let value = '';
  while (r.pos < end) {
    const tag = r.uint32();
    if (tag === ((1 << 3) | 2)) key = str(r);
    else if (tag === ((2 << 3) | 2)) value = str(r);
    else r.skipType(tag & 7);
  }
  if (r.pos !== end) throw new Error('map entry overruns its length');
  into[key] = value;
}

/** Encodes a DeltaDiscoveryRequest (clients: tests and the fleet simulator). */
export function encodeDeltaDiscoveryRequest(req: DeltaDiscoveryRequestInit): Buffer {
  const type = messageType(DELTA_REQUEST_TYPE);
  return Buffer.from(type.encode(type.fromObject(req as Record<string, unknown>)).finish());
}

/** Encodes a DiscoveryRequest (used by clients: tests and the fleet simulator). */
export function encodeDiscoveryRequest(req: DiscoveryRequestInit): Buffer {
  const type = messageType(REQUEST_TYPE);
  return Buffer.from(type.encode(type.fromObject(req as Record<string, unknown>)).finish());
}

/** The nonce-less body of a DiscoveryResponse: version, every resource `Any`, type URL. */
export function encodeResponseBody(versionInfo: string, typeUrl: string, anys: Iterable<Uint8Array>): Buffer {
  const w = protobuf.Writer.create().uint32(TAG_VERSION_INFO).string(versionInfo);
  for (const any of anys) w.uint32(TAG_RESOURCES).bytes(any);
  w.uint32(TAG_TYPE_URL).string(typeUrl);
  return Buffer.from(w.finish());
}

/** A complete DiscoveryResponse: the shared body followed by this stream's nonce field. */
export function withNonce(body: Buffer, nonce: string): Buffer {
  const field = protobuf.Writer.create().uint32(TAG_NONCE).string(nonce).finish();
  return Buffer.concat([body, field], body.length + field.length);
}

/**
 * One `envoy.service.discovery.v3.Resource{version, resource, name}` message, from the resource's
 * already-packed `Any` bytes. Encoded once per resource and reused by every delta stream.
 */
export function encodeDeltaResource(name: string, version: string, any: Uint8Array): Uint8Array {
  return protobuf.Writer.create()
    .uint32(TAG_RESOURCE_VERSION)
    .string(version)
    .uint32(TAG_RESOURCE_ANY)
    .bytes(any)
    .uint32(TAG_RESOURCE_NAME)
    .string(name)
    .finish();
}

/**
 * A `Resource` carrying only `name` and `aliases: [name]`, no version and no body: how VHDS answers
 * an on-demand request it cannot resolve, so Envoy can match the answer to the request it paused.
 */
export function encodeDeltaAliasResource(name: string): Uint8Array {
  return protobuf.Writer.create()
    .uint32(TAG_RESOURCE_NAME)
    .string(name)
    .uint32(TAG_RESOURCE_ALIASES)
    .string(name)
    .finish();
}

/**
 * The nonce-less body of a DeltaDiscoveryResponse: `system_version_info`, every pre-encoded
 * `Resource`, `type_url` and `removed_resources`.
 */
export function encodeDeltaResponseBody(
  systemVersionInfo: string,
  typeUrl: string,
  resources: Iterable<Uint8Array>,
  removed: Iterable<string>,
): Buffer {
  const w = protobuf.Writer.create().uint32(TAG_VERSION_INFO).string(systemVersionInfo);
  for (const r of resources) w.uint32(TAG_RESOURCES).bytes(r);
  w.uint32(TAG_TYPE_URL).string(typeUrl);
  for (const name of removed) w.uint32(TAG_REMOVED).string(name);
  return Buffer.from(w.finish());
}

/** A decoded SotW response as a client sees it (`resources` are the raw `Any`s). */
export interface DecodedDiscoveryResponse {
  version_info: string;
  type_url: string;
  nonce: string;
  resources: Array<{ type_url: string; value: Uint8Array }>;
}

/** A decoded delta response as a client sees it. */
export interface DecodedDeltaDiscoveryResponse {
  system_version_info: string;
  type_url: string;
  nonce: string;
  resources: Array<{
    name: string;
    version: string;
    resource: { type_url: string; value: Uint8Array } | null;
  }>;
  removed_resources: string[];
}

/** Decodes a DiscoveryResponse (clients: tests and the fleet simulator). */
export function decodeDiscoveryResponse(bytes: Uint8Array): DecodedDiscoveryResponse {
  const type = messageType(RESPONSE_TYPE);
  return type.toObject(type.decode(bytes), DECODE_OPTIONS) as DecodedDiscoveryResponse;
}

/** Decodes a DeltaDiscoveryResponse (clients: tests and the fleet simulator). */
export function decodeDeltaDiscoveryResponse(bytes: Uint8Array): DecodedDeltaDiscoveryResponse {
  const type = messageType(DELTA_RESPONSE_TYPE);
  return type.toObject(type.decode(bytes), DECODE_OPTIONS) as DecodedDeltaDiscoveryResponse;
}
