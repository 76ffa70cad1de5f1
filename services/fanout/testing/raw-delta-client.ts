/**
 * A bare delta xDS client for protocol tests: sends DeltaDiscoveryRequests exactly as given and
 * queues every decoded DeltaDiscoveryResponse (resource names, versions and removed names), so a
 * test can script subscriptions, ACKs, NACKs and reconnects with initial_resource_versions.
 */
import type * as grpc from '@grpc/grpc-js';
import { DELTA_METHOD_PATH } from '../server/ads-service.ts';
import {
  type DecodedDeltaDiscoveryResponse,
  type DeltaDiscoveryRequestInit,
  decodeDeltaDiscoveryResponse,
  encodeDeltaDiscoveryRequest,
} from '../server/discovery-codec.ts';
import { openRawCall, type RawClientOptions } from './raw-ads-client.ts';

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

export class RawDeltaClient {
  private readonly client: grpc.Client;
  private readonly owned: boolean;
  private readonly call: grpc.ClientDuplexStream<Buffer, Buffer>;
  private readonly queue: ReceivedDelta[] = [];
  private waiter?: () => void;
  /** Set once the server ended the stream or it failed. */
  ended?: { code: number; details: string };

  constructor(port: number, opts: RawClientOptions = {}) {
    ({
      client: this.client,
      owned: this.owned,
      call: this.call,
    } = openRawCall(port, DELTA_METHOD_PATH, opts));
    this.call.on('data', (bytes: Buffer) => {
      const raw = decodeDeltaDiscoveryResponse(bytes);
      this.queue.push({
        system_version_info: raw.system_version_info,
        type_url: raw.type_url,
        nonce: raw.nonce,
        names: raw.resources.map((r) => r.name),
        versions: Object.fromEntries(raw.resources.map((r) => [r.name, r.version])),
        removed: raw.removed_resources,
        raw,
      });
      this.waiter?.();
    });
    this.call.on('status', (s: grpc.StatusObject) => {
      this.ended = { code: s.code, details: s.details };
      this.waiter?.();
    });
    this.call.on('error', () => {});
  }

  send(req: DeltaDiscoveryRequestInit): void {
    this.call.write(encodeDeltaDiscoveryRequest(req));
  }

  /** ACKs a response (same type, its nonce). */
  ack(res: ReceivedDelta): void {
    this.send({ type_url: res.type_url, response_nonce: res.nonce });
  }

  /** The next response, waiting up to `timeoutMs`. */
  async next(timeoutMs = 3000): Promise<ReceivedDelta> {
    const deadline = Date.now() + timeoutMs;
    while (this.queue.length === 0) {
      const left = deadline - Date.now();
      if (left <= 0 || this.ended) throw new Error(`no DeltaDiscoveryResponse within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.waiter = undefined;
    }
    return this.queue.shift() as ReceivedDelta;
  }

  /** Every response received within `ms` (for asserting that nothing was sent). */
  async drain(ms = 300): Promise<ReceivedDelta[]> {
    await new Promise((r) => setTimeout(r, ms));
    return this.queue.splice(0);
  }

  close(): void {
    this.call.cancel();
    if (this.owned) this.client.close();
  }
}
