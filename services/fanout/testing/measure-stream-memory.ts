/**
 * Measures what one idle xDS stream costs the fan-out server: the server runs in this process,
 * a child process (this file again, with a marker variable) opens N streams multiplexed over a
 * few HTTP/2 connections (one grpc-js Client each, as the fleet simulator does), subscribes like
 * an Envoy (CDS and LDS wildcard, EDS and RDS by name), ACKs everything and stays idle. The
 * server's heap, external memory and RSS are sampled after a full GC before and after.
 *
 *   node --expose-gc --import tsx services/fanout/testing/measure-stream-memory.ts [sotw|delta] [N] [connections]
 *
 * Prints one JSON line per run; `measureStreamMemory` is also used by a test at small N.
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import * as grpc from '@grpc/grpc-js';
import { Registry } from 'prom-client';
import { silentLogger } from '../../../shared/runtime/logger.ts';
import { MemorySnapshotStore } from '../../../shared/snapshot/memory-snapshot-store.ts';
import { CLUSTER_TYPE, ENDPOINT_TYPE, LISTENER_TYPE, ROUTE_TYPE } from '../../../shared/xds/type-urls.ts';
import { SnapshotCache } from '../cache/snapshot-cache.ts';
import { AdsServerRunner } from '../server/ads-server.ts';
import { DELTA_METHOD_PATH, SOTW_METHOD_PATH } from '../server/ads-service.ts';
import {
  decodeDeltaDiscoveryResponse,
  decodeDiscoveryResponse,
  encodeDeltaDiscoveryRequest,
  encodeDiscoveryRequest,
} from '../server/discovery-codec.ts';
import { edsCluster, loadAssignment, routeConfig, socketListener } from './echo-resources.ts';
import { TestCommitter, type TestResource } from './test-snapshots.ts';

const MARKER = 'ATTACHE_STREAM_MEMORY_CLIENT';
const SELF = fileURLToPath(import.meta.url);
const CLUSTERS = 50;
const EDS_NAMES = Array.from({ length: 10 }, (_, i) => `cluster-${i}`);

export interface StreamMemoryResult {
  protocol: 'sotw' | 'delta';
  streams: number;
  connections: number;
  heapPerStreamBytes: number;
  externalPerStreamBytes: number;
  rssPerStreamBytes: number;
  /** heap + external per stream: what the JS side holds. */
  perStreamBytes: number;
}

function world(): TestResource[] {
  const out: TestResource[] = [
    socketListener('http', 8080),
    socketListener('https', 8443),
    routeConfig('route', 'cluster-0'),
  ];
  for (let i = 0; i < CLUSTERS; i++)
    out.push(edsCluster(`cluster-${i}`), loadAssignment(`cluster-${i}`, [9000 + i]));
  return out;
}

/** The GC function, exposed on demand when the process was not started with --expose-gc. */
function gcFunction(): () => void {
  const exposed = (globalThis as { gc?: () => void }).gc;
  if (exposed) return exposed;
  v8.setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

function sample(): { heap: number; external: number; rss: number } {
  const gc = gcFunction();
  for (let i = 0; i < 3; i++) gc();
  const m = process.memoryUsage();
  return { heap: m.heapUsed, external: m.external, rss: m.rss };
}

/** Runs one measurement (server here, clients in a child process). */
export async function measureStreamMemory(
  protocol: 'sotw' | 'delta',
  streams: number,
  connections: number,
): Promise<StreamMemoryResult> {
  const log = silentLogger();
  const store = new MemorySnapshotStore();
  await new TestCommitter(store, 'default').commit(1, world());
  const cache = new SnapshotCache({ store, log, registry: new Registry() });
  await cache.start();
  const ads = new AdsServerRunner({
    auth: { allowUnauthenticated: true },
    // All clients come from one loopback address over a few connections: no per-client stream limits.
    limits: { maxStreamsPerConnection: 0, maxStreamsPerPeer: 0 },
    cache,
    host: '127.0.0.1',
    port: 0,
    log,
    registry: new Registry(),
  });
  await ads.start();
  // Warm every shared structure (served sets, encoded bodies, diffs) with a few streams first, so
  // the difference measured is per-stream state only.
  const warm = await runClients(protocol, ads.port, 4, 1);
  await warm.stop();
  await until(() => ads.streamCount === 0);
  const before = sample();
  const clients = await runClients(protocol, ads.port, streams, connections);
  await until(() => ads.streamCount === streams);
  const after = sample();
  await clients.stop();
  await ads.close();
  await cache.close();
  const heap = (after.heap - before.heap) / streams;
  const external = (after.external - before.external) / streams;
  return {
    protocol,
    streams,
    connections,
    heapPerStreamBytes: Math.round(heap),
    externalPerStreamBytes: Math.round(external),
    rssPerStreamBytes: Math.round((after.rss - before.rss) / streams),
    perStreamBytes: Math.round(heap + external),
  };
}

async function until(cond: () => boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('stream memory measurement timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Starts the client process; resolves once every stream received and ACKed its responses. */
async function runClients(
  protocol: string,
  port: number,
  streams: number,
  connections: number,
): Promise<{ stop(): Promise<void> }> {
  const child = fork(SELF, [protocol, String(port), String(streams), String(connections)], {
    env: { ...process.env, [MARKER]: '1' },
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  await new Promise<void>((resolve, reject) => {
    child.once('message', () => resolve());
    child.once('exit', (code) => reject(new Error(`client process exited with ${code}`)));
  });
  return {
    stop: async () => {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
    },
  };
}

/** The client process: N streams over `connections` channels, each subscribing like an Envoy. */
async function clientMain(
  protocol: string,
  port: number,
  streams: number,
  connections: number,
): Promise<void> {
  const channels = Array.from(
    { length: connections },
    (_, i) =>
      new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), {
        'grpc.channel_id': i,
      } as grpc.ChannelOptions),
  );
  const pt = (b: Buffer) => b;
  const subs: Array<[string, string[]]> = [
    [CLUSTER_TYPE, []],
    [ENDPOINT_TYPE, EDS_NAMES],
    [LISTENER_TYPE, []],
    [ROUTE_TYPE, ['route']],
  ];
  let pending = streams * subs.length;
  await new Promise<void>((resolve) => {
    for (let s = 0; s < streams; s++) {
      const channel = channels[s % connections] as grpc.Client;
      const node = { id: `node-${s}`, cluster: 'mem' };
      if (protocol === 'sotw') {
        const call = channel.makeBidiStreamRequest(SOTW_METHOD_PATH, pt, pt);
        call.on('data', (b: Buffer) => {
          const r = decodeDiscoveryResponse(b);
          const names = subs.find(([t]) => t === r.type_url)?.[1] ?? [];
          call.write(
            encodeDiscoveryRequest({
              type_url: r.type_url,
              version_info: r.version_info,
              response_nonce: r.nonce,
              resource_names: names,
            }),
          );
          if (--pending === 0) resolve();
        });
        call.on('error', () => {});
        for (const [i, [type_url, resource_names]] of subs.entries()) {
          call.write(encodeDiscoveryRequest({ ...(i === 0 ? { node } : {}), type_url, resource_names }));
        }
      } else {
        const call = channel.makeBidiStreamRequest(DELTA_METHOD_PATH, pt, pt);
        call.on('data', (b: Buffer) => {
          const r = decodeDeltaDiscoveryResponse(b);
          call.write(encodeDeltaDiscoveryRequest({ type_url: r.type_url, response_nonce: r.nonce }));
          if (--pending === 0) resolve();
        });
        call.on('error', () => {});
        for (const [i, [type_url, names]] of subs.entries()) {
          call.write(
            encodeDeltaDiscoveryRequest({
              ...(i === 0 ? { node } : {}),
              type_url,
              resource_names_subscribe: names,
            }),
          );
        }
      }
    }
  });
  // Let the ACKs reach the server before reporting ready.
  await new Promise((r) => setTimeout(r, 300));
  process.send?.('ready');
  await new Promise(() => {});
}

if (process.env[MARKER] === '1') {
  const [protocol = 'sotw', port = '0', streams = '1', connections = '1'] = process.argv.slice(2);
  await clientMain(protocol, Number(port), Number(streams), Number(connections));
} else if (process.argv[1] === SELF) {
  const [protocol = 'sotw', n = '2000', conns = '8'] = process.argv.slice(2);
  const result = await measureStreamMemory(protocol === 'delta' ? 'delta' : 'sotw', Number(n), Number(conns));
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exit(0);
}
