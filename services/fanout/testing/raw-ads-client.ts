/**
 * A bare SotW xDS client for protocol tests: sends DiscoveryRequests exactly as given and queues
 * every decoded DiscoveryResponse, so a test can script ACKs, NACKs, stale nonces and resumes.
 * By default it opens ADS on its own channel; a per-type method path, TLS credentials or a
 * shared grpc-js Client (many streams over one HTTP/2 connection) can be given instead.
 */
import * as grpc from '@grpc/grpc-js';
import { messageType } from '../../../proto/root.ts';
import { SOTW_METHOD_PATH } from '../server/ads-service.ts';
import { type DiscoveryRequestInit, encodeDiscoveryRequest } from '../server/discovery-codec.ts';

export interface RawClientOptions {
  /** Full method path (default: ADS StreamAggregatedResources / DeltaAggregatedResources). */
  path?: string;
  /** Channel credentials (default insecure). */
  credentials?: grpc.ChannelCredentials;
  /** Channel options, e.g. `grpc.ssl_target_name_override`. */
  channelOptions?: grpc.ChannelOptions;
  /** Open the stream on this client's channel instead of a new one (not closed by close()). */
  shared?: grpc.Client;
}

const passThrough = (b: Buffer): Buffer => b;

/** Opens a raw bidi call (Buffers both ways) per {@link RawClientOptions}. */
export function openRawCall(
  port: number,
  defaultPath: string,
  o: RawClientOptions,
): { client: grpc.Client; owned: boolean; call: grpc.ClientDuplexStream<Buffer, Buffer> } {
  const client =
    o.shared ??
    new grpc.Client(
      `127.0.0.1:${port}`,
      o.credentials ?? grpc.credentials.createInsecure(),
      o.channelOptions,
    );
  const call = client.makeBidiStreamRequest(o.path ?? defaultPath, passThrough, passThrough);
  return { client, owned: !o.shared, call };
}

export interface ReceivedResponse {
  version_info: string;
  type_url: string;
  nonce: string;
  /** Names of the resources, decoded from their `Any` values, in wire order. */
  names: string[];
  /** The decoded resources. */
  resources: Array<Record<string, unknown>>;
}

export class RawAdsClient {
  private readonly client: grpc.Client;
  private readonly owned: boolean;
  private readonly call: grpc.ClientDuplexStream<Buffer, Buffer>;
  private readonly queue: ReceivedResponse[] = [];
  private waiter?: () => void;
  /** Set once the server ended the stream or it failed. */
  ended?: { code: number; details: string };

  constructor(port: number, opts: RawClientOptions = {}) {
    ({ client: this.client, owned: this.owned, call: this.call } = openRawCall(port, SOTW_METHOD_PATH, opts));
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

  /** Stops reading responses (HTTP/2 flow control then holds the server back: a slow client). */
  pause(): void {
    this.call.pause();
  }

  resume(): void {
    this.call.resume();
  }

  /** Waits until the server ended the stream; returns its status. */
  async closed(timeoutMs = 3000): Promise<{ code: number; details: string }> {
    const deadline = Date.now() + timeoutMs;
    while (!this.ended) {
      if (Date.now() > deadline) throw new Error(`stream not ended within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 10));
    }
    return this.ended;
  }

  close(): void {
    this.call.cancel();
    if (this.owned) this.client.close();
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
