/**
 * A bare SotW xDS client for protocol tests: sends DiscoveryRequests exactly as given and queues
 * every decoded DiscoveryResponse, so a test can script ACKs, NACKs, stale nonces and resumes.
 */
import { messageType } from '../../../proto/root.ts';
import { SOTW_METHOD_PATH } from '../server/ads-service.ts';
import { type DiscoveryRequestInit, encodeDiscoveryRequest } from '../server/discovery-codec.ts';
import { type RawClientOptions, RawStream } from './raw-stream.ts';

export interface ReceivedResponse {
  version_info: string;
  type_url: string;
  nonce: string;
  /** Names of the resources, decoded from their `Any` values, in wire order. */
  names: string[];
  /** The decoded resources. */
  resources: Array<Record<string, unknown>>;
}

export class RawAdsClient extends RawStream<ReceivedResponse> {
  constructor(port: number, opts: RawClientOptions = {}) {
    super(port, SOTW_METHOD_PATH, opts, decodeResponse, 'DiscoveryResponse');
  }

  send(req: DiscoveryRequestInit): void {
    this.write(encodeDiscoveryRequest(req));
  }

  /** ACKs a response: same type, its version and nonce, the given names. */
  ack(res: ReceivedResponse, names: string[] = []): void {
    this.send({
      type_url: res.type_url,
      version_info: res.version_info,
      response_nonce: res.nonce,
      resource_names: names,
    });
  }
}

function decodeResponse(bytes: Buffer): ReceivedResponse {
  const T = messageType('envoy.service.discovery.v3.DiscoveryResponse');
  const msg = T.toObject(T.decode(bytes), { defaults: true, arrays: true }) as {
    version_info: string;
    type_url: string;
    nonce: string;
    resources: Array<{ type_url: string; value: Uint8Array }>;
  };
  const resources = msg.resources.map((any) => {
    const R = messageType(any.type_url.replace('type.googleapis.com/', ''));
    return R.toObject(R.decode(any.value), { defaults: false, enums: String }) as Record<string, unknown>;
  });
  return {
    version_info: msg.version_info,
    type_url: msg.type_url,
    nonce: msg.nonce,
    resources,
    names: resources.map((r) => String(r.name ?? r.cluster_name)),
  };
}
