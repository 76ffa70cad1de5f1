/**
 * Wire encoding for SotW ADS. Requests are decoded with the shared Envoy proto root. Responses are
 * assembled from bytes: the body (fields 1 `version_info`, 2 `resources`, 4 `type_url`) is built
 * once per served set and shared by every stream; each stream appends only field 5 `nonce`.
 * Protobuf parsers accept fields in any order, so concatenating fields is a valid message.
 */
import protobuf from 'protobufjs';
import type {
  DiscoveryRequest__Output,
  DiscoveryRequest as DiscoveryRequestFields,
} from '../../../proto/gen/envoy/service/discovery/v3/DiscoveryRequest.ts';
import { messageType } from '../../../proto/root.ts';

/** A decoded request: every field present, proto defaults filled in. */
export type DiscoveryRequest = DiscoveryRequest__Output;
/** A request to encode: any subset of the fields. */
export type DiscoveryRequestInit = DiscoveryRequestFields;

const REQUEST_TYPE = 'envoy.service.discovery.v3.DiscoveryRequest';

const TAG_VERSION_INFO = (1 << 3) | 2;
const TAG_RESOURCES = (2 << 3) | 2;
const TAG_TYPE_URL = (4 << 3) | 2;
const TAG_NONCE = (5 << 3) | 2;

/** Decodes a DiscoveryRequest into a plain object with every field present (proto defaults). */
export function decodeDiscoveryRequest(bytes: Uint8Array): DiscoveryRequest {
  const type = messageType(REQUEST_TYPE);
  return type.toObject(type.decode(bytes), {
    defaults: true,
    arrays: true,
    longs: String,
    enums: String,
    oneofs: true,
  }) as DiscoveryRequest;
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
