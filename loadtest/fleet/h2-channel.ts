/**
 * The simulated Envoys' gRPC client: bidi calls over one `node:http2` connection per channel,
 * shaped like Envoy's own gRPC client (envoy_grpc) rather than grpc-js:
 * - no `grpc-accept-encoding`: Envoy's gRPC client does not decompress messages
 *   (envoyproxy/envoy#38482), so the fan-out sends every response uncompressed, as it would to a
 *   real fleet, and a route push is the full ~1 GB the issue counts;
 * - large HTTP/2 windows (Envoy's default is 256 MiB), so flow control stays out of the numbers;
 * - one connection per channel, re-dialled on the next call once it closed or got GOAWAY.
 * Why not grpc-js: its per-message work (filters, retry layer, async zlib, stream decoder) cost
 * the one simulator process several times the fan-out's CPU per push, so the benchmark measured
 * the simulator. A call ends exactly once, with the status of the trailers (or trailers-only
 * response), or UNAVAILABLE when the stream or connection closed without one.
 */
import http2 from 'node:http2';
import { MessageReader } from '../../services/fanout/server/grpc-wire.ts';

const STATUS_UNAVAILABLE = 14;
const STATUS_INTERNAL = 13;

/** Envoy's default initial stream and connection windows are 256 MiB; 64 MiB is ample on loopback. */
const WINDOW = 64 * 1024 * 1024;

export interface CallHandlers {
  /** One response message (the payload, without the 5-byte prefix). */
  message(bytes: Buffer): void;
  /** The call ended (once): gRPC status code and message. */
  end(code: number, details: string): void;
}

export interface SimCall {
  write(message: Uint8Array): void;
  cancel(): void;
}

export class H2Channel {
  private session?: http2.ClientHttp2Session;
  private closed = false;

  constructor(
    private readonly authority: string,
    private readonly headers: Readonly<Record<string, string>> = {},
  ) {}

  /** Opens a bidi call on `path`; connection failures end it with UNAVAILABLE (asynchronously). */
  call(path: string, handlers: CallHandlers): SimCall {
    let ended = false;
    const end = (code: number, details: string) => {
      if (ended) return;
      ended = true;
      handlers.end(code, details);
    };
    let stream: http2.ClientHttp2Stream;
    try {
      stream = this.connection().request(
        {
          ':method': 'POST',
          ':path': path,
          'content-type': 'application/grpc',
          te: 'trailers',
          ...this.headers,
        },
        { endStream: false },
      );
    } catch (err) {
      queueMicrotask(() => end(STATUS_UNAVAILABLE, `cannot open a stream: ${(err as Error).message}`));
      return { write: () => {}, cancel: () => end(1, 'cancelled') };
    }
    const reader = new MessageReader(0, 'identity');
    const statusOf = (h: http2.IncomingHttpHeaders): boolean => {
      const raw = h['grpc-status'];
      if (raw === undefined) return false;
      const details = h['grpc-message'];
      end(Number(raw), decodeURIComponent(String(details ?? '')));
      return true;
    };
    stream.on('response', (h) => {
      statusOf(h);
    });
    stream.on('trailers', (h) => {
      statusOf(h);
    });
    stream.on('data', (chunk: Buffer) => {
      if (ended) return;
      let messages: Buffer[];
      try {
        messages = reader.push(chunk);
      } catch (err) {
        end(STATUS_INTERNAL, (err as Error).message);
        stream.close(http2.constants.NGHTTP2_CANCEL);
        return;
      }
      for (const m of messages) handlers.message(m);
    });
    stream.on('error', () => {});
    stream.on('close', () => end(STATUS_UNAVAILABLE, `stream closed (HTTP/2 code ${stream.rstCode ?? 0})`));
    return {
      write: (message) => {
        if (ended || stream.destroyed) return;
        const framed = Buffer.allocUnsafe(5 + message.length);
        framed[0] = 0;
        framed.writeUInt32BE(message.length, 1);
        framed.set(message, 5);
        stream.write(framed);
      },
      cancel: () => {
        end(1, 'cancelled');
        if (!stream.destroyed) stream.close(http2.constants.NGHTTP2_CANCEL);
      },
    };
  }

  close(): void {
    this.closed = true;
    this.session?.destroy();
    this.session = undefined;
  }

  private connection(): http2.ClientHttp2Session {
    if (this.closed) throw new Error('channel closed');
    const current = this.session;
    if (current && !current.closed && !current.destroyed) return current;
    const session = http2.connect(`http://${this.authority}`, {
      settings: { initialWindowSize: WINDOW, enablePush: false },
    });
    const forget = () => {
      if (this.session === session) this.session = undefined;
    };
    session.on('connect', () => session.setLocalWindowSize(WINDOW));
    session.on('error', forget);
    session.on('goaway', forget);
    session.on('close', forget);
    this.session = session;
    return session;
  }
}
