/**
 * The fleet benchmark end to end at smoke size (50 SotW streams through real NATS, Redis and the
 * three attache processes, plus two real grpc-js-xds clients routing RPCs through every phase),
 * its refusal path against a real gRPC server without the delta method, and the wire reading and
 * RPC accounting the benchmark relies on.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { messageType } from '../../proto/root.ts';
import { SOTW_METHOD_PATH } from '../../services/fanout/server/ads-service.ts';
import {
  decodeDeltaDiscoveryRequest,
  encodeResponseBody,
  withNonce,
} from '../../services/fanout/server/discovery-codec.ts';
import { ENDPOINT_TYPE } from '../../shared/xds/type-urls.ts';
import { encodeDeltaRequest, readResponse, resubscription } from './delta-envoy.ts';
import { edsTargetAddress } from './fleet-config.ts';
import { BACKEND_A, BACKEND_B } from './grpc-clients.ts';
import { phaseStats, type RpcRecord } from './grpc-rpc-stats.ts';
import { parseCli, UsageError } from './options.ts';
import { type FleetResult, GRPC_PHASES, type GrpcPhaseStats } from './result.ts';
import { stringFieldProbe, VersionBook } from './version-book.ts';
import { lenFields, utf8 } from './wire.ts';

const MAIN = path.join(path.dirname(fileURLToPath(import.meta.url)), 'main.ts');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runBench(args: string[], timeoutMs: number): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => {
      stdout += b.toString();
    });
    child.stderr.on('data', (b: Buffer) => {
      stderr += b.toString();
    });
    const timer = setTimeout(() => child.kill('SIGINT'), timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('fleet benchmark — 50 SotW streams end to end', () => {
  let outDir: string;
  let run: Run;
  let result: FleetResult;

  before(async () => {
    outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'attache-fleet-test-'));
    // The bound stops a hung run, not a slow one: the run takes 20-45 s on a quiet machine, and the
    // grpc-js-xds clients alone took ~40 s to configure at load 15-20 (CI on a busy machine).
    run = await runBench(['--streams', '50', '--duration-s', '1', '--json', '--out-dir', outDir], 240_000);
    const json = fs.readdirSync(outDir).find((f) => /^fleet-sotw-50-.*\.json$/.test(f));
    assert.ok(json, `no result file; exit ${run.code}\n${run.stderr.slice(-3000)}`);
    result = JSON.parse(fs.readFileSync(path.join(outDir, json), 'utf8')) as FleetResult;
  });

  after(() => {
    if (outDir) fs.rmSync(outDir, { recursive: true, force: true });
  });

  test('fleet — the run passes and writes a JSON result and a Markdown report', () => {
    assert.equal(run.code, 0, run.stderr.slice(-3000));
    assert.equal(result.ok, true, result.errors.join('; '));
    assert.deepEqual(JSON.parse(run.stdout).options, result.options);
    const md = fs.readdirSync(outDir).find((f) => f.endsWith('.md'));
    assert.ok(md);
    const report = fs.readFileSync(path.join(outDir, md), 'utf8');
    assert.match(report, /## Reconnect storm/);
    assert.match(report, /## Proxyless gRPC clients/);
  });

  test('fleet — every stream is configured and held, and the fan-out counts them too', () => {
    assert.equal(result.streams.configured, 50);
    assert.equal(result.streams.heldAfterHold, 50);
    assert.equal(result.options.grpcClients, 2);
    assert.equal(result.streams.serverGauge, 50 + 2, 'the fleet plus the two gRPC clients');
    assert.equal(result.timeToFirstConfigMs?.count, 50);
    assert.ok((result.timeToFirstConfigMs?.p50 ?? 0) > 0);
    assert.ok((result.responseBytes.RDS ?? 0) > 50_000, `RDS response ${result.responseBytes.RDS} B`);
  });

  test('fleet — fan-out memory and CPU are read from its own process', () => {
    const f = result.fanout;
    assert.ok(f.pid && f.pid !== process.pid);
    assert.ok((f.rssMb.beforeStreams ?? 0) > 10 && (f.rssMb.afterHold ?? 0) > 10);
    assert.ok(f.perStreamKb !== null);
    assert.ok((f.cpuS.connect ?? 0) > 0);
  });

  test('fleet — the endpoint change reaches every stream as EDS only, after its commit', () => {
    const c = result.changes.endpoint;
    assert.ok(c);
    assert.equal(c.received, 50);
    assert.deepEqual(c.changedTypes, ['EDS']);
    assert.deepEqual(c.responsesPerStream, { EDS: 1 });
    assert.ok((c.fromCommitMs?.min ?? -1) >= 0, 'an ACK cannot precede the commit');
    assert.ok((c.fromWriteMs?.min ?? 0) > (c.fromCommitMs?.min ?? 0));
  });

  test('fleet — the route change (~100 KB of RDS) reaches every stream', () => {
    const c = result.changes.route;
    assert.ok(c);
    assert.equal(c.received, 50);
    assert.ok(c.changedTypes.includes('RDS'));
    assert.ok(c.bytesPerStream > 50_000, `${c.bytesPerStream} bytes per stream`);
    assert.ok((c.fromCommitMs?.max ?? 0) > 0);
  });

  test('fleet — after kill -9 every stream is served by the replacement, with no version regression', () => {
    const s = result.reconnectStorm;
    assert.ok(s);
    assert.equal(s.served, 50);
    assert.equal(s.regression.regressions, 0);
    assert.ok(s.regression.compared >= 200, 'four types compared per stream');
    assert.ok(s.streamEndings >= 50, 'every stream saw its call fail');
    // The gRPC clients reconnect on their own backoff, possibly after the fleet.
    assert.ok(
      (s.serverStreamsAfter ?? 0) >= 50 && (s.serverStreamsAfter ?? 0) <= 52,
      `server gauge ${s.serverStreamsAfter}`,
    );
    assert.ok((s.allServedFromKillMs ?? 0) > s.outageMs);
  });

  test('fleet — real gRPC clients route in every phase, storm included', () => {
    const g = result.grpcClients;
    assert.ok(g);
    assert.equal(g.clients, 2);
    assert.equal(g.firstOkMs.filter((x) => x !== null).length, 2);
    for (const name of GRPC_PHASES) {
      const p: GrpcPhaseStats | undefined = g.phases[name];
      assert.ok(p, `phase ${name} recorded`);
      assert.equal(p.clientsRouting, 2, `${name}: ${JSON.stringify(p)}`);
      assert.ok(p.ok >= 2 && p.wallMs > 0, `${name}: ${JSON.stringify(p)}`);
    }
    // Backend b joins only in the outage's commit, so nothing reached it before the kill.
    for (const name of ['connect', 'hold', 'endpointChange', 'routeChange'] as const)
      assert.deepEqual(Object.keys(g.phases[name]?.byBackend ?? {}), [BACKEND_A], name);
  });

  test('fleet — after the storm every gRPC client is configured by the replacement fan-out', () => {
    const g = result.grpcClients;
    const s = result.reconnectStorm;
    assert.ok(g?.storm && s);
    assert.equal(g.storm.recovered, 2);
    for (const [i, ms] of g.storm.newEndpointFromReadyMs.entries()) {
      assert.ok(ms !== null && ms > 0, `client ${i}: ${ms}`);
      const fromKill = g.storm.newEndpointFromKillMs[i] ?? 0;
      assert.ok(Math.abs(fromKill - (ms + s.outageMs)) <= 1, `client ${i}: ${fromKill} vs ${ms} + outage`);
    }
    assert.ok((g.phases.after?.byBackend[BACKEND_B] ?? 0) > 0, 'traffic reaches backend b afterwards');
  });
});

describe('fleet benchmark — a server without the delta method', () => {
  let server: grpc.Server;
  let port: number;

  before(async () => {
    server = new grpc.Server();
    // A real gRPC server that knows only the state-of-the-world method.
    const pass = (b: Buffer) => b;
    const sotwOnly: grpc.ServiceDefinition = {
      StreamAggregatedResources: {
        path: SOTW_METHOD_PATH,
        requestStream: true,
        responseStream: true,
        requestSerialize: pass,
        requestDeserialize: pass,
        responseSerialize: pass,
        responseDeserialize: pass,
      },
    };
    server.addService(sotwOnly, {
      StreamAggregatedResources: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => call.end(),
    });
    port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) =>
        err ? reject(err) : resolve(p),
      ),
    );
  });

  after(() => server?.forceShutdown());

  test('fleet — delta mode against UNIMPLEMENTED exits 3 with a clear message and writes no numbers', async () => {
    const outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'attache-fleet-refused-'));
    try {
      const run = await runBench(
        ['--streams', '5', '--mode', 'delta', '--fanout-url', `127.0.0.1:${port}`, '--out-dir', outDir],
        30_000,
      );
      assert.equal(run.code, 3, run.stderr);
      assert.match(run.stderr, /delta mode cannot be measured: .*refused the ADS method \(gRPC status 12/);
      assert.deepEqual(fs.readdirSync(outDir), []);
    } finally {
      fs.rmSync(outDir, { recursive: true, force: true });
    }
  });
});

describe('fleet benchmark — gRPC client accounting', () => {
  const rpc = (phase: string, sentAt: number, ok: boolean, code?: string): RpcRecord => ({
    phase,
    sentAt,
    doneAt: sentAt + (ok ? 5 : 1000),
    ok,
    ...(ok ? { backend: 'echo-a' } : { code, details: 'x' }),
  });
  const windows = [
    { name: 'hold', startedAt: 0, endedAt: 1000 },
    { name: 'storm', startedAt: 1000, endedAt: 2000 },
  ];

  test('grpc stats — a failure run lasts from its first failure to the next success, in its phase', () => {
    const stats = phaseStats(
      [
        [
          rpc('hold', 0, true),
          rpc('hold', 900, false, 'UNAVAILABLE'),
          rpc('storm', 1000, false, 'DEADLINE_EXCEEDED'),
          rpc('storm', 1400, true),
        ],
        [rpc('hold', 0, true), rpc('storm', 1100, false, 'UNAVAILABLE')],
      ],
      windows,
    );
    assert.equal(stats.hold?.ok, 2);
    assert.equal(stats.hold?.failed, 1);
    assert.equal(stats.hold?.clientsRouting, 2);
    assert.equal(stats.hold?.maxFailureStreakMs, 500, 'run started in hold, ended by the success at 1400');
    assert.deepEqual(stats.storm?.failedByCode, { DEADLINE_EXCEEDED: 1, UNAVAILABLE: 1 });
    assert.equal(stats.storm?.clientsRouting, 1);
    assert.equal(stats.storm?.maxFailureStreakMs, 1000, 'an unended run lasts to its last failure’s end');
    assert.equal(stats.storm?.wallMs, 1000);
  });

  test('options — --grpc-clients defaults to 2, accepts 0 and rejects negatives', () => {
    assert.equal(parseCli(['--streams', '5']).grpcClients, 2);
    assert.equal(parseCli(['--streams', '5', '--grpc-clients', '0']).grpcClients, 0);
    assert.throws(() => parseCli(['--streams', '5', '--grpc-clients=-1']), UsageError);
  });

  test('options — --hosts defaults to 1; --vhds needs delta mode', () => {
    assert.equal(parseCli(['--streams', '5']).hosts, 1);
    assert.equal(parseCli(['--streams', '5', '--mode', 'delta', '--vhds']).vhds, true);
    assert.throws(() => parseCli(['--streams', '5', '--vhds']), UsageError);
  });
});

describe('fleet simulator — wire reading', () => {
  test('wire — a hand-encoded delta request decodes to what it was given', () => {
    const req = {
      node: { id: 'n', cluster: 'c', metadata: { fields: { attache_vhds: { boolValue: true } } } },
      type_url: ENDPOINT_TYPE,
      resource_names_subscribe: ['a', 'b'],
      resource_names_unsubscribe: ['c'],
      initial_resource_versions: { a: 'h1', 'ü/x': 'h2' },
      response_nonce: 'n1',
    };
    const got = decodeDeltaDiscoveryRequest(encodeDeltaRequest(req));
    assert.equal(got.node?.id, 'n');
    assert.equal(got.node?.metadata?.fields?.attache_vhds?.boolValue, true);
    assert.equal(got.type_url, ENDPOINT_TYPE);
    assert.deepEqual(got.resource_names_subscribe, ['a', 'b']);
    assert.deepEqual(got.resource_names_unsubscribe, ['c']);
    assert.deepEqual({ ...got.initial_resource_versions }, req.initial_resource_versions);
    assert.equal(got.response_nonce, 'n1');
    const fromMap = decodeDeltaDiscoveryRequest(
      encodeDeltaRequest({
        ...req,
        initial_resource_versions: new Map(Object.entries(req.initial_resource_versions)),
      }),
    );
    assert.deepEqual({ ...fromMap.initial_resource_versions }, req.initial_resource_versions);
    assert.deepEqual(decodeDeltaDiscoveryRequest(encodeDeltaRequest({ type_url: ENDPOINT_TYPE })), {
      ...decodeDeltaDiscoveryRequest(Buffer.alloc(0)),
      type_url: ENDPOINT_TYPE,
    });
  });

  test('wire — top-level fields of a fan-out response are read in place', () => {
    const body = encodeResponseBody('v1', ENDPOINT_TYPE, [Buffer.from([1, 2, 3]), Buffer.alloc(300, 7)]);
    const bytes = withNonce(body, '42');
    const fields = lenFields(bytes);
    assert.deepEqual(
      fields.map((f) => f.no),
      [1, 2, 2, 4, 5],
    );
    assert.equal(utf8(bytes, fields[0] as never), 'v1');
    assert.equal((fields[2]?.end ?? 0) - (fields[2]?.start ?? 0), 300);
    assert.equal(utf8(bytes, fields[4] as never), '42');
  });

  test('delta reading — a response is read once per distinct content, never reused for other bytes with its nonce', () => {
    const T = messageType('envoy.service.discovery.v3.DeltaDiscoveryResponse');
    const response = (version: string) =>
      Buffer.from(
        T.encode(
          T.fromObject({
            type_url: ENDPOINT_TYPE,
            nonce: 'n1',
            resources: [
              { name: 'a', version, resource: { type_url: ENDPOINT_TYPE, value: Buffer.from('x') } },
            ],
            removed_resources: ['gone'],
          }),
        ).finish(),
      );
    const book = new VersionBook();
    const first = readResponse(book, response('v1'));
    assert.equal(first.nonce, 'n1');
    assert.deepEqual(
      first.resources.map(([name, r]) => [name, r.version]),
      [['a', 'v1']],
    );
    assert.deepEqual(first.removed, ['gone']);
    assert.equal(readResponse(book, Buffer.from(response('v1'))), first, 'the same bytes: read once');
    const other = readResponse(book, response('v2'));
    assert.notEqual(other, first);
    assert.deepEqual(
      other.resources.map(([name, r]) => [name, r.version]),
      [['a', 'v2']],
    );
    assert.ok((other.resources[0]?.[1].facts.rank ?? 0) > (first.resources[0]?.[1].facts.rank ?? 0));
    assert.notEqual(readResponse(new VersionBook(), response('v1')), first, 'each book reads for itself');
  });

  test('delta reading — a reconnect assembled from pre-encoded declarations is what encodeDeltaRequest writes', () => {
    const T = messageType('envoy.service.discovery.v3.DeltaDiscoveryResponse');
    const names = ['b', 'a', 'ü/x'];
    const bytes = Buffer.from(
      T.encode(
        T.fromObject({
          type_url: ENDPOINT_TYPE,
          nonce: 'n1',
          resources: names.map((name, i) => ({ name, version: `h${i}` })),
        }),
      ).finish(),
    );
    const held = new Map(readResponse(new VersionBook(), bytes).resources);
    const assembled = resubscription(ENDPOINT_TYPE, ['a', 'b', 'ü/x'], held);
    const encoded = encodeDeltaRequest({
      type_url: ENDPOINT_TYPE,
      resource_names_subscribe: ['a', 'b', 'ü/x'],
      initial_resource_versions: new Map([...held].map(([name, r]) => [name, r.version])),
    });
    assert.ok(assembled.equals(encoded));
    const node = { id: 'n', cluster: 'c' };
    assert.ok(
      resubscription(ENDPOINT_TYPE, [], held, node).equals(
        encodeDeltaRequest({
          node,
          type_url: ENDPOINT_TYPE,
          initial_resource_versions: new Map([...held].map(([name, r]) => [name, r.version])),
        }),
      ),
    );
    assert.deepEqual(
      { ...decodeDeltaDiscoveryRequest(assembled).initial_resource_versions },
      { b: 'h0', a: 'h1', 'ü/x': 'h2' },
    );
  });

  test('version book — a string probe matches the whole field value only', () => {
    const probe = stringFieldProbe('p', ENDPOINT_TYPE, edsTargetAddress(1));
    const book = new VersionBook();
    book.arm(probe);
    const longer = withNonce(
      encodeResponseBody('a', ENDPOINT_TYPE, [Buffer.from(`\x0b${edsTargetAddress(1)}0`)]),
      '1',
    );
    const exact = withNonce(
      encodeResponseBody('b', ENDPOINT_TYPE, [Buffer.from(`\x0a${edsTargetAddress(1)}`)]),
      '1',
    );
    assert.equal(edsTargetAddress(1).length, 10);
    const f1 = book.get('a', ENDPOINT_TYPE, longer, 0, longer.length, () => []);
    const f2 = book.get('b', ENDPOINT_TYPE, exact, 0, exact.length, () => []);
    assert.equal(f1.hits.has('p'), false);
    assert.equal(f2.hits.has('p'), true);
    assert.ok(f2.rank > f1.rank, 'ranks follow first sighting');
  });
});
