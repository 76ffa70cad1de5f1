/**
 * Wire encoding for SotW and delta xDS. Requests are decoded with the shared Envoy proto root.
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

/** Decodes a DiscoveryRequest into a plain object with every field present (proto defaults). */
export function decodeDiscoveryRequest(bytes: Uint8Array): DiscoveryRequest {
  const type = messageType(REQUEST_TYPE);
  return type.toObject(type.decode(bytes), DECODE_OPTIONS) as DiscoveryRequest;
}

/** Decodes a DeltaDiscoveryRequest; `initial_resource_versions` is always an object. */
export function decodeDeltaDiscoveryRequest(bytes: Uint8Array): DeltaDiscoveryRequest {
  const type = messageType(DELTA_REQUEST_TYPE);
  return type.toObject(type.decode(bytes), DECODE_OPTIONS) as DeltaDiscoveryRequest;
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
