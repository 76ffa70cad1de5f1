/**
 * Hostile xDS clients for the resource-limit test and the `bench:hostile` benchmark. Each stream
 * is one of three attacks, in rotation:
 *
 * - `names`: a SotW RDS request naming `names` distinct routes (unique to the stream, so nothing
 *   can be shared or interned across streams);
 * - `type-url`: a request whose type URL is `typeUrlBytes` long;
 * - `garbage`: bytes that are not a DiscoveryRequest.
 *
 * Every stream is opened on its own channel (its own connection), with the given bearer token if
 * any (an authenticated but compromised client is the worse case: it gets past authentication),
 * waits until the server ends it or `holdMs` passes, then cancels. At most `concurrency` streams
 * are open at once. Requests are assembled from protobuf fields by hand, because encoding
 * 100,000 names through protobufjs per stream would make the load generator the bottleneck.
 */
import * as grpc from '@grpc/grpc-js';
import { ROUTE_TYPE } from '../../../shared/xds/type-urls.ts';
import { SOTW_METHOD_PATH } from '../server/ads-service.ts';
import { encodeDiscoveryRequest } from '../server/discovery-codec.ts';

export type HostileKind = 'names' | 'type-url' | 'garbage';

export interface HostileOptions {
  port: number;
  streams: number;
  /** Names per `names` request (default 100,000). */
  names?: number;
  /** Type URL length of a `type-url` request (default 1 MiB). */
  typeUrlBytes?: number;
  token?: string;
  /** Streams open at once (default 50). */
  concurrency?: number;
  /** Longest a stream is kept open when the server does not end it (default 30 s). */
  holdMs?: number;
  /** Group the hostile nodes claim (default `default`). */
  group?: string;
}

export interface HostileReport {
  streams: number;
  /** gRPC status names the server ended hostile streams with (`HELD` when it did not within holdMs). */
  outcomes: Record<string, number>;
  /** Request bytes written. */
  bytesSent: number;
  /** Responses the server sent to hostile streams. */
  responses: number;
}

const passThrough = (b: Buffer): Buffer => b;

/** Protobuf length-delimited field `tag` carrying `bytes`. */
function field(tag: number, bytes: Buffer): Buffer {
  const len: number[] = [];
  let n = bytes.length;
  while (n > 0x7f) {
    len.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  len.push(n);
  return Buffer.concat([Buffer.from([(tag << 3) | 2, ...len]), bytes]);
}

/** A SotW request for `names` distinct RDS names unique to stream `i`. */
export function manyNamesRequest(i: number, names: number, group = 'default'): Buffer {
  const head = Buffer.from(
    encodeDiscoveryRequest({
      node: { id: `hostile-${i}`, metadata: { fields: { ambassador_id: { stringValue: group } } } },
      type_url: ROUTE_TYPE,
    }),
  );
  const parts: Buffer[] = [head];
  for (let j = 0; j < names; j++) parts.push(field(3, Buffer.from(`h${i}-route-${j}`)));
  return Buffer.concat(parts);
}

/** A request whose type URL is `bytes` long. */
export function longTypeUrlRequest(i: number, bytes: number, group = 'default'): Buffer {
  return Buffer.from(
    encodeDiscoveryRequest({
      node: { id: `hostile-${i}`, metadata: { fields: { ambassador_id: { stringValue: group } } } },
      type_url: `type.googleapis.com/${'x'.repeat(Math.max(0, bytes - 20))}`,
    }),
  );
}

/** Bytes that do not decode as a DiscoveryRequest (an overlong varint, then junk). */
export function garbageRequest(i: number): Buffer {
  const junk = Buffer.alloc(64 + (i % 64), i & 0xff);
  return Buffer.concat([
    Buffer.from([0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]),
    junk,
  ]);
}

export function hostileKind(i: number): HostileKind {
  return (['names', 'type-url', 'garbage'] as const)[i % 3] as HostileKind;
}

/** Runs `o.streams` hostile streams against 127.0.0.1:`o.port`; resolves when all are done. */
export async function runHostileStreams(o: HostileOptions): Promise<HostileReport> {
  const report: HostileReport = { streams: 0, outcomes: {}, bytesSent: 0, responses: 0 };
  const names = o.names ?? 100_000;
  const typeUrlBytes = o.typeUrlBytes ?? 1024 * 1024;
  const holdMs = o.holdMs ?? 30_000;
  const metadata = new grpc.Metadata();
  if (o.token) metadata.set('authorization', `Bearer ${o.token}`);
  let next = 0;
  const one = async (i: number): Promise<void> => {
    const kind = hostileKind(i);
    const request =
      kind === 'names'
        ? manyNamesRequest(i, names, o.group)
        : kind === 'type-url'
          ? longTypeUrlRequest(i, typeUrlBytes, o.group)
          : garbageRequest(i);
    const client = new grpc.Client(`127.0.0.1:${o.port}`, grpc.credentials.createInsecure(), {
      'grpc.use_local_subchannel_pool': 1,
      'grpc.max_send_message_length': -1,
    });
    try {
      const call = client.makeBidiStreamRequest(SOTW_METHOD_PATH, passThrough, passThrough, metadata);
      const outcome = await new Promise<string>((resolve) => {
        const timer = setTimeout(() => resolve('HELD'), holdMs);
        call.on('data', () => {
          report.responses++;
        });
        call.on('status', (s: grpc.StatusObject) => {
          clearTimeout(timer);
          resolve(grpc.status[s.code] ?? String(s.code));
        });
        call.on('error', () => {});
        call.write(request);
        report.bytesSent += request.length;
      });
      call.cancel();
      report.outcomes[outcome] = (report.outcomes[outcome] ?? 0) + 1;
      report.streams++;
    } finally {
      client.close();
    }
  };
  const worker = async (): Promise<void> => {
    while (next < o.streams) await one(next++);
  };
  await Promise.all(Array.from({ length: Math.min(o.concurrency ?? 50, o.streams) }, worker));
  return report;
}
