/**
 * A bare delta xDS client for protocol tests: sends DeltaDiscoveryRequests exactly as given and
 * queues every decoded DeltaDiscoveryResponse (resource names, versions and removed names), so a
 * test can script subscriptions, ACKs, NACKs and reconnects with initial_resource_versions.
 */
import { DELTA_METHOD_PATH } from '../server/ads-service.ts';
import {
  type DecodedDeltaDiscoveryResponse,
  type DeltaDiscoveryRequestInit,
  decodeDeltaDiscoveryResponse,
  encodeDeltaDiscoveryRequest,
} from '../server/discovery-codec.ts';
import { type RawClientOptions, RawStream } from './raw-stream.ts';

export interface ReceivedDelta {
  system_version_info: string;
  type_url: string;
  nonce: string;
  /** Resource names carried, in wire order. */
  names: string[];
  /** name → version (the content hash) of every carried resource. */
  versions: Record<string, string>;
  removed: string[];
  raw: DecodedDeltaDiscoveryResponse;
}

export class RawDeltaClient extends RawStream<ReceivedDelta> {
  constructor(port: number, opts: RawClientOptions = {}) {
    super(port, DELTA_METHOD_PATH, opts, decodeDelta, 'DeltaDiscoveryResponse');
  }

  send(req: DeltaDiscoveryRequestInit): void {
    this.write(encodeDeltaDiscoveryRequest(req));
  }

  /** ACKs a response (same type, its nonce). */
  ack(res: ReceivedDelta): void {
    this.send({ type_url: res.type_url, response_nonce: res.nonce });
  }
}

function decodeDelta(bytes: Buffer): ReceivedDelta {
  const raw = decodeDeltaDiscoveryResponse(bytes);
  return {
    system_version_info: raw.system_version_info,
    type_url: raw.type_url,
    nonce: raw.nonce,
    names: raw.resources.map((r) => r.name),
    versions: Object.fromEntries(raw.resources.map((r) => [r.name, r.version])),
    removed: raw.removed_resources,
    raw,
  };
}
