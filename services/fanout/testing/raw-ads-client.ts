/**
 * A bare SotW ADS client for protocol tests: sends DiscoveryRequests exactly as given and queues
 * every decoded DiscoveryResponse, so a test can script ACKs, NACKs, stale nonces and resumes.
 */
import * as grpc from '@grpc/grpc-js';
import { messageType } from '../../../proto/root.ts';
import { rawAdsClientDefinition } from '../server/ads-service.ts';
import { type DiscoveryRequestInit, encodeDiscoveryRequest } from '../server/discovery-codec.ts';

export interface ReceivedResponse {
  version_info: string;
  type_url: string;
  nonce: string;
  /** Names of the resources, decoded from their `Any` values, in wire order. */
  names: string[];
  /** The decoded resources. */
  resources: Array<Record<string, unknown>>;
}

const AdsClient = grpc.makeGenericClientConstructor(rawAdsClientDefinition, 'AggregatedDiscoveryService');

export class RawAdsClient {
  private readonly client: grpc.Client;
  private readonly call: grpc.ClientDuplexStream<Buffer, Buffer>;
  private readonly queue: ReceivedResponse[] = [];
  private waiter?: () => void;
  /** Set once the server ended the stream or it failed. */
  ended?: { code: number; details: string };

  constructor(port: number) {
    this.client = new AdsClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    const open = (this.client as unknown as Record<string, () => grpc.ClientDuplexStream<Buffer, Buffer>>)
      .StreamAggregatedResources;
    if (!open) throw new Error('ADS method missing from client');
    this.call = open.call(this.client);
    this.call.on('data', (bytes: Buffer) => {
      this.queue.push(decodeResponse(bytes));
      this.waiter?.();
    });
    this.call.on('status', (s: grpc.StatusObject) => {
      this.ended = { code: s.code, details: s.details };
      this.waiter?.();
    });
    this.call.on('error', () => {});
  }

  send(req: DiscoveryRequestInit): void {
    this.call.write(encodeDiscoveryRequest(req));
  }

  /** The next response, waiting up to `timeoutMs`. */
  async next(timeoutMs = 3000): Promise<ReceivedResponse> {
    const deadline = Date.now() + timeoutMs;
    while (this.queue.length === 0) {
      const left = deadline - Date.now();
      if (left <= 0 || this.ended) throw new Error(`no DiscoveryResponse within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.waiter = undefined;
    }
    return this.queue.shift() as ReceivedResponse;
  }

  /** Resolves with every response received within `ms` (for asserting that nothing was sent). */
  async drain(ms = 300): Promise<ReceivedResponse[]> {
    await new Promise((r) => setTimeout(r, ms));
    return this.queue.splice(0);
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

  close(): void {
    this.call.cancel();
    this.client.close();
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
