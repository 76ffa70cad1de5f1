/**
 * A deliberately slow SotW ADS client built on node:http2 directly: it sends gRPC-framed
 * DiscoveryRequests and reads responses only when told to. Unlike a grpc-js client (which keeps
 * reading into a 16-message buffer while "paused"), an unread HTTP/2 stream stops granting flow
 * control window, so the server's writes stall after about 64 KB: a real slow reader.
 */
import http2 from 'node:http2';
import { SOTW_METHOD_PATH } from '../server/ads-service.ts';
import {
  type DecodedDiscoveryResponse,
  type DiscoveryRequestInit,
  decodeDiscoveryResponse,
  encodeDiscoveryRequest,
} from '../server/discovery-codec.ts';

export class SlowAdsClient {
  private readonly session: http2.ClientHttp2Session;
  private readonly stream: http2.ClientHttp2Stream;
  private buffered = Buffer.alloc(0);
  readonly received: DecodedDiscoveryResponse[] = [];

  constructor(port: number) {
    this.session = http2.connect(`http://127.0.0.1:${port}`);
    this.session.on('error', () => {});
    this.stream = this.session.request({
      ':method': 'POST',
      ':path': SOTW_METHOD_PATH,
      'content-type': 'application/grpc',
      te: 'trailers',
    });
    this.stream.on('error', () => {});
    this.stream.on('data', (chunk: Buffer) => this.onData(chunk));
    this.stream.pause();
  }

  send(req: DiscoveryRequestInit): void {
    const body = encodeDiscoveryRequest(req);
    const frame = Buffer.alloc(5 + body.length);
    frame.writeUInt32BE(body.length, 1);
    body.copy(frame, 5);
    this.stream.write(frame);
  }

  /** Starts reading (and granting window) again. */
  resume(): void {
    this.stream.resume();
  }

  private onData(chunk: Buffer): void {
    this.buffered = Buffer.concat([this.buffered, chunk]);
    while (this.buffered.length >= 5) {
      const len = this.buffered.readUInt32BE(1);
      if (this.buffered.length < 5 + len) return;
      this.received.push(decodeDiscoveryResponse(this.buffered.subarray(5, 5 + len)));
      this.buffered = this.buffered.subarray(5 + len);
    }
  }

  close(): void {
    this.stream.close();
    this.session.close();
  }
}
