/**
 * The fan-out's own gRPC server for the xDS methods, on `node:http2` (the default transport).
 *
 * Why not grpc-js: grpc-js serializes each response into a fresh buffer (5-byte prefix + a copy
 * of the message) per stream, so a 105 KB route push to 10,000 streams allocates and copies
 * ~1 GB. Here a response is written as two buffers: a few dozen bytes of per-stream prefix and
 * nonce (grpc-wire.ts), then the shared body itself. node:http2 queues written buffers by
 * reference and hands them to the socket without copying them (nghttp2 "no copy" data frames),
 * so the bytes copied per push are the per-stream heads only, plus the kernel's socket copy.
 *
 * What it implements of gRPC over HTTP/2 (PROTOCOL-HTTP2.md), for the methods it serves
 * (ADS SotW/delta and the per-type Stream/Delta methods; Fetch and anything else: UNIMPLEMENTED):
 * - requests: length-prefixed messages, gzip/deflate decompression when `grpc-encoding` names
 *   them, a maximum message size answered with RESOURCE_EXHAUSTED before the message is buffered;
 * - responses: `:status 200` headers on the first message, status in trailers, or trailers-only
 *   when the call fails before any message; shared messages gzip-compressed once for clients that
 *   accept gzip (`grpc-accept-encoding`), others sent uncompressed (per-message flag);
 * - deadlines from `grpc-timeout` (DEADLINE_EXCEEDED); RST_STREAM from the client cancels;
 * - flow control: a stream writes its next response only after the previous one was handed to
 *   the socket (xds-stream.ts), which happens only as the peer's HTTP/2 window allows;
 * - keepalive: a PING per connection every `keepaliveTimeMs`, the connection closed if the ack
 *   does not come within `keepaliveTimeoutMs`;
 * - drain: GOAWAY per connection at a random moment within the drain window, then that
 *   connection's streams end with UNAVAILABLE, so the fleet reconnects elsewhere spread out.
 * - TLS / mutual TLS (ALPN h2); the verified client certificate and the metadata are handed to
 *   the hub, which authenticates (client-auth.ts) exactly as for grpc-js.
 */
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { type PeerCertificate, TLSSocket } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import type { Logger } from '../../../shared/runtime/logger.ts';
import type { TypeUrl } from '../../../shared/xds/type-urls.ts';
import { ADS_SERVICE_NAME, TYPE_SERVICES } from './ads-service.ts';
import { ConnectionAuth } from './client-auth.ts';
import { declaredVersions } from './delta-diff.ts';
import { decodeDeltaRequestInterning, decodeDiscoveryRequest } from './discovery-codec.ts';
import {
  encodeGrpcMessage,
  FrameError,
  MessageReader,
  parseGrpcTimeout,
  responseHead,
  sharedMessage,
} from './grpc-wire.ts';
import type { StreamHub } from './stream-hub.ts';
import type { Outgoing, StreamCall, WriteCounters, XdsStream } from './xds-stream.ts';

/** What a served method path maps to. */
interface Method {
  protocol: 'sotw' | 'delta';
  onlyType?: TypeUrl;
}

function methodTable(): Map<string, Method> {
  const m = new Map<string, Method>([
    [`/${ADS_SERVICE_NAME}/StreamAggregatedResources`, { protocol: 'sotw' }],
    [`/${ADS_SERVICE_NAME}/DeltaAggregatedResources`, { protocol: 'delta' }],
  ]);
  for (const spec of TYPE_SERVICES) {
    m.set(`/${spec.service}/Stream${spec.suffix}`, { protocol: 'sotw', onlyType: spec.typeUrl });
    m.set(`/${spec.service}/Delta${spec.suffix}`, { protocol: 'delta', onlyType: spec.typeUrl });
  }
  return m;
}

const METHODS = methodTable();
const ACCEPTED_ENCODINGS = new Set(['identity', 'gzip', 'deflate']);
const RESPONSE_HEADERS = {
  ':status': 200,
  'content-type': 'application/grpc+proto',
  'grpc-accept-encoding': 'identity,deflate,gzip',
};

const GZIP_RESPONSE_HEADERS = { ...RESPONSE_HEADERS, 'grpc-encoding': 'gzip' };

/** True when a `grpc-accept-encoding` header value lists gzip. */
function acceptsGzip(value: string | string[] | undefined): boolean {
  const v = Array.isArray(value) ? value.join(',') : (value ?? '');
  return v.split(',').some((e) => e.trim() === 'gzip');
}

export interface H2TransportOptions {
  hub: StreamHub;
  log: Logger;
  /** PEM material; with `clientCa` clients must present a certificate it signed. */
  tls?: { cert: Buffer; key: Buffer; clientCa?: Buffer };
  /** Response accounting, shared with the server's metrics. */
  counters: WriteCounters;
  /** Largest request message accepted (0: no limit). */
  maxRequestBytes: number;
  /** A request was refused for its size (for the limit metric). */
  onOversize(details: string): void;
  /**
   * Compress shared response messages with gzip for clients whose `grpc-accept-encoding` lists
   * it (default true). Each shared message is compressed once, not per stream.
   */
  compression?: boolean;
  /** PING interval per connection (default 2 h, as grpc-js servers); 0 disables. */
  keepaliveTimeMs?: number;
  /** How long a PING may go unanswered before the connection is closed (default 20 s). */
  keepaliveTimeoutMs?: number;
}

/** One gRPC call on one HTTP/2 stream: the {@link StreamCall} a stream writes to. */
class H2Call implements StreamCall {
  xds?: XdsStream;
  private responded = false;
  private finished = false;
  private status?: { code: number; details: string };
  private deadline?: NodeJS.Timeout;

  constructor(
    readonly h2: http2.ServerHttp2Stream,
    private readonly counters: WriteCounters,
    /** Shared messages go out gzip-compressed (the client accepts gzip and compression is on). */
    private readonly gzip: boolean,
  ) {}

  send(out: Outgoing, cb: () => void): void {
    const s = this.h2;
    if (this.finished || s.destroyed || !s.writable) {
      // The call is going away; its close event closes the stream.
      queueMicrotask(cb);
      return;
    }
    this.respond();
    const counters = this.counters;
    counters.messages++;
    if (out.shared) {
      const message = sharedMessage(out.body, out.nonce, this.gzip, (n) => {
        counters.copied += n;
      });
      counters.bytes += message.length;
      s.write(message, () => cb());
      return;
    }
    const head = responseHead(out.nonce, out.body.length);
    counters.bytes += head.length + out.body.length;
    counters.copied += head.length;
    s.cork();
    s.write(head);
    s.write(out.body, () => cb());
    s.uncork();
  }

  end(): void {
    this.finish(grpc.status.OK, '');
  }

  fail(code: grpc.status, details: string): void {
    this.finish(code, details);
  }

  /** Ends the call with a status: in trailers after headers, or trailers-only before any. */
  finish(code: number, details: string): void {
    if (this.finished) return;
    this.finished = true;
    this.clearDeadline();
    const s = this.h2;
    if (s.destroyed || s.closed) return;
    if (!this.responded && !s.headersSent) {
      this.responded = true;
      s.respond(
        {
          ...RESPONSE_HEADERS,
          'grpc-status': String(code),
          ...(details ? { 'grpc-message': encodeGrpcMessage(details) } : {}),
        },
        { endStream: true },
      );
      // A client that keeps sending after the status gets RST_STREAM(NO_ERROR) from the close.
      s.close(http2.constants.NGHTTP2_NO_ERROR);
      return;
    }
    this.status = { code, details };
    s.end();
  }

  setDeadline(ms: number, onExpiry: () => void): void {
    this.deadline = setTimeout(onExpiry, ms);
    this.deadline.unref();
  }

  clearDeadline(): void {
    if (this.deadline) clearTimeout(this.deadline);
    this.deadline = undefined;
  }

  private respond(): void {
    if (this.responded) return;
    this.responded = true;
    this.h2.respond(this.gzip ? GZIP_RESPONSE_HEADERS : RESPONSE_HEADERS, { waitForTrailers: true });
  }

  /** Trailers once the body ended (`wantTrailers`). */
  trailers(): void {
    const st = this.status ?? { code: grpc.status.OK, details: '' };
    this.h2.sendTrailers({
      'grpc-status': String(st.code),
      ...(st.details ? { 'grpc-message': encodeGrpcMessage(st.details) } : {}),
    });
  }
}

function peerOf(session: http2.ServerHttp2Session): string {
  const sock = session.socket;
  const host = sock?.remoteAddress ?? '';
  return `${host.includes(':') ? `[${host}]` : host}:${sock?.remotePort ?? 0}`;
}

function certificateOf(session: http2.ServerHttp2Session): PeerCertificate | undefined {
  const sock = session.socket;
  if (!(sock instanceof TLSSocket)) return undefined;
  const cert = sock.getPeerCertificate();
  return cert && Object.keys(cert).length > 0 && cert.raw ? cert : undefined;
}

/** What one connection's streams share: the calls, and who is at the other end (looked up once). */
interface Connection {
  readonly calls: Set<H2Call>;
  readonly peer: string;
  /** The verified client certificate, read on the first stream (undefined: not read yet). */
  cert?: { value: PeerCertificate | undefined };
  readonly auth: ConnectionAuth;
}

export class H2Transport {
  private readonly server: http2.Http2Server | http2.Http2SecureServer;
  private readonly sessions = new Map<http2.ServerHttp2Session, Connection>();
  private readonly keepalive?: NodeJS.Timeout;
  private closing = false;

  constructor(private readonly opts: H2TransportOptions) {
    // grpc-js servers lift node's 10 MB per-session memory cap the same way: what a session
    // holds is bounded by our one-response-in-flight-per-stream rule, not by this setting.
    const common = { maxSessionMemory: Number.MAX_SAFE_INTEGER, settings: { enablePush: false } };
    this.server = opts.tls
      ? http2.createSecureServer({
          ...common,
          cert: opts.tls.cert,
          key: opts.tls.key,
          ...(opts.tls.clientCa
            ? { ca: opts.tls.clientCa, requestCert: true, rejectUnauthorized: true }
            : {}),
          ALPNProtocols: ['h2'],
        })
      : http2.createServer(common);
    this.server.on('session', (session) => this.onSession(session));
    this.server.on('stream', (stream, headers) => this.onStream(stream, headers));
    const every = opts.keepaliveTimeMs ?? 2 * 60 * 60 * 1000;
    if (every > 0) {
      this.keepalive = setInterval(() => this.ping(), every);
      this.keepalive.unref();
    }
  }

  async listen(host: string, port: number): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      this.server.once('error', onError);
      this.server.listen(port, host, () => {
        this.server.off('error', onError);
        resolve();
      });
    });
    return (this.server.address() as AddressInfo).port;
  }

  /** Open HTTP/2 connections. */
  get connectionCount(): number {
    return this.sessions.size;
  }

  /**
   * Stops accepting connections, then sends each open connection a GOAWAY and ends its xDS
   * streams with `endStream` (the hub's drain). Connections are taken in random order, one slot
   * of `windowMs / n` each, at a random moment within their slot: spread evenly over the window,
   * so the fleet's reconnects arrive elsewhere as a steady trickle, not a storm. Resolves when
   * every connection got its GOAWAY.
   */
  async drain(windowMs: number, endStream: (s: XdsStream) => void): Promise<void> {
    this.closing = true;
    this.server.close();
    const sessions = [...this.sessions.keys()];
    for (let i = sessions.length - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1));
      [sessions[i], sessions[j]] = [
        sessions[j] as http2.ServerHttp2Session,
        sessions[i] as http2.ServerHttp2Session,
      ];
    }
    const slot = sessions.length > 0 ? windowMs / sessions.length : 0;
    await Promise.all(
      sessions.map(
        (session, k) =>
          new Promise<void>((resolve) => {
            setTimeout(
              () => {
                this.goaway(session, endStream);
                resolve();
              },
              slot > 0 ? (k + Math.random()) * slot : 0,
            );
          }),
      ),
    );
  }

  /** Closes every connection; streams still open after `graceMs` are cut. */
  async close(graceMs: number): Promise<void> {
    this.closing = true;
    if (this.keepalive) clearInterval(this.keepalive);
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const session of this.sessions.keys()) if (!session.closed) session.close();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      closed,
      new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          for (const session of this.sessions.keys()) session.destroy();
          resolve();
        }, graceMs);
      }),
    ]);
    clearTimeout(timer);
  }

  private goaway(session: http2.ServerHttp2Session, endStream: (s: XdsStream) => void): void {
    const calls = this.sessions.get(session)?.calls;
    if (!session.closed && !session.destroyed) session.close();
    for (const call of calls ?? []) {
      if (call.xds) endStream(call.xds);
      else call.fail(grpc.status.UNAVAILABLE, 'fan-out node is draining; reconnect elsewhere');
    }
  }

  private onSession(session: http2.ServerHttp2Session): void {
    if (this.closing) {
      session.close();
      return;
    }
    this.sessions.set(session, { calls: new Set(), peer: peerOf(session), auth: new ConnectionAuth() });
    session.on('close', () => this.sessions.delete(session));
    session.on('error', (err) => this.opts.log.debug({ err: String(err) }, 'xDS connection error'));
  }

  private ping(): void {
    const timeout = this.opts.keepaliveTimeoutMs ?? 20_000;
    for (const session of this.sessions.keys()) {
      if (session.closed || session.destroyed) continue;
      const timer = setTimeout(() => session.destroy(), timeout);
      timer.unref();
      try {
        session.ping(() => clearTimeout(timer));
      } catch {
        clearTimeout(timer);
      }
    }
  }

  private onStream(h2: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): void {
    h2.on('error', () => {});
    const gzip = (this.opts.compression ?? true) && acceptsGzip(headers['grpc-accept-encoding']);
    const call = new H2Call(h2, this.opts.counters, gzip);
    h2.on('wantTrailers', () => call.trailers());
    const contentType = headers['content-type'] ?? '';
    if (headers[':method'] !== 'POST' || !contentType.startsWith('application/grpc')) {
      h2.respond({ ':status': 415, 'grpc-status': String(grpc.status.INTERNAL) }, { endStream: true });
      return;
    }
    const path = headers[':path'] ?? '';
    const method = METHODS.get(path);
    if (!method) {
      call.fail(grpc.status.UNIMPLEMENTED, `The server does not implement the method ${path}`);
      return;
    }
    const encoding = (headers['grpc-encoding'] as string | undefined) ?? 'identity';
    if (!ACCEPTED_ENCODINGS.has(encoding)) {
      call.fail(grpc.status.UNIMPLEMENTED, `grpc-encoding "${encoding}" is not supported`);
      return;
    }
    const session = h2.session as http2.ServerHttp2Session;
    const conn = this.sessions.get(session);
    let cert: PeerCertificate | undefined;
    if (conn) {
      conn.cert ??= { value: certificateOf(session) };
      cert = conn.cert.value;
    } else cert = certificateOf(session);
    const stream = this.opts.hub.open(
      {
        metadata: grpc.Metadata.fromHttp2Headers(headers),
        peerCertificate: cert,
        peer: conn?.peer ?? peerOf(session),
        out: call,
        ...(conn ? { connectionAuth: conn.auth } : {}),
      },
      method.protocol,
      method.onlyType,
    );
    if (!stream) return;
    call.xds = stream;
    const calls = conn?.calls;
    calls?.add(call);
    const timeoutMs = parseGrpcTimeout(headers['grpc-timeout'] as string | undefined);
    if (timeoutMs !== undefined) {
      call.setDeadline(timeoutMs, () => {
        stream.close('deadline');
        call.fail(grpc.status.DEADLINE_EXCEEDED, 'Deadline exceeded');
      });
    }
    const decode =
      method.protocol === 'sotw'
        ? decodeDiscoveryRequest
        : (m: Buffer) => decodeDeltaRequestInterning(m, declaredVersions);
    const reader = new MessageReader(this.opts.maxRequestBytes, encoding);
    h2.on('data', (chunk: Buffer) => {
      if (stream.closed) return;
      let messages: Buffer[];
      try {
        messages = reader.push(chunk);
      } catch (err) {
        const e = err instanceof FrameError ? err : new FrameError(grpc.status.INTERNAL, String(err));
        if (e.code === grpc.status.RESOURCE_EXHAUSTED) this.opts.onOversize(e.message);
        stream.close('bad request frame', e.message);
        call.fail(e.code, e.message);
        return;
      }
      for (const m of messages) {
        let req: unknown;
        try {
          req = decode(m);
        } catch {
          stream.close('undecodable request');
          call.fail(grpc.status.INTERNAL, 'Error deserializing request');
          return;
        }
        stream.receive(req);
        if (stream.closed) return;
      }
    });
    h2.on('end', () => stream.halfClosed());
    h2.on('aborted', () => stream.close('cancelled'));
    h2.on('close', () => {
      call.clearDeadline();
      calls?.delete(call);
      stream.close('closed');
    });
  }
}
