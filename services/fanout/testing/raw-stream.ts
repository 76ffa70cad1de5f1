/**
 * The plumbing the bare SotW and delta test clients share: one raw bidi ADS call (Buffers both
 * ways) whose responses are decoded and queued, so a test can await them one by one, check that
 * nothing came, hold the stream back (a slow client) or wait for the server to end it.
 * By default the call opens on its own channel; a method path, TLS credentials or a shared
 * grpc-js Client (many streams over one HTTP/2 connection) can be given instead.
 */
import * as grpc from '@grpc/grpc-js';

export interface RawClientOptions {
  /** Full method path (default: ADS StreamAggregatedResources / DeltaAggregatedResources). */
  path?: string;
  /** Channel credentials (default insecure). */
  credentials?: grpc.ChannelCredentials;
  /** Channel options, e.g. `grpc.ssl_target_name_override`. */
  channelOptions?: grpc.ChannelOptions;
  /** Open the stream on this client's channel instead of a new one (not closed by close()). */
  shared?: grpc.Client;
  /** Sent as `authorization: Bearer <token>` in the stream's metadata. */
  token?: string;
  /** Extra metadata (e.g. a malformed `authorization`). */
  metadata?: Record<string, string>;
}

const passThrough = (b: Buffer): Buffer => b;

export class RawStream<Res> {
  private readonly client: grpc.Client;
  private readonly owned: boolean;
  private readonly call: grpc.ClientDuplexStream<Buffer, Buffer>;
  private readonly queue: Res[] = [];
  private waiter?: () => void;
  /** Set once the server ended the stream or it failed. */
  ended?: { code: number; details: string };

  /**
   * @param defaultPath method path used unless `opts.path` is given.
   * @param responseName message name used in timeout errors (e.g. `DiscoveryResponse`).
   */
  constructor(
    port: number,
    defaultPath: string,
    opts: RawClientOptions,
    decode: (bytes: Buffer) => Res,
    private readonly responseName: string,
  ) {
    this.client =
      opts.shared ??
      new grpc.Client(
        `127.0.0.1:${port}`,
        opts.credentials ?? grpc.credentials.createInsecure(),
        opts.channelOptions,
      );
    this.owned = !opts.shared;
    const md = new grpc.Metadata();
    if (opts.token !== undefined) md.set('authorization', `Bearer ${opts.token}`);
    for (const [k, v] of Object.entries(opts.metadata ?? {})) md.set(k, v);
    this.call = this.client.makeBidiStreamRequest(opts.path ?? defaultPath, passThrough, passThrough, md);
    this.call.on('data', (bytes: Buffer) => {
      this.queue.push(decode(bytes));
      this.waiter?.();
    });
    this.call.on('status', (s: grpc.StatusObject) => {
      this.ended = { code: s.code, details: s.details };
      this.waiter?.();
    });
    this.call.on('error', () => {});
  }

  /** Writes one already-encoded request. */
  protected write(bytes: Buffer): void {
    this.call.write(bytes);
  }

  /** Writes arbitrary bytes as one request message (garbage, for hostile-client tests). */
  writeRaw(bytes: Buffer): void {
    this.call.write(bytes);
  }

  /** The next response, waiting up to `timeoutMs`. */
  async next(timeoutMs = 3000): Promise<Res> {
    const deadline = Date.now() + timeoutMs;
    while (this.queue.length === 0) {
      const left = deadline - Date.now();
      if (left <= 0 || this.ended) throw new Error(`no ${this.responseName} within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.waiter = undefined;
    }
    return this.queue.shift() as Res;
  }

  /** Resolves with every response received within `ms` (for asserting that nothing was sent). */
  async drain(ms = 300): Promise<Res[]> {
    await new Promise((r) => setTimeout(r, ms));
    return this.queue.splice(0);
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
