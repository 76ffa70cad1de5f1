/**
 * One bad object never breaks the rest (issue 9), on the real tiers: a YAML directory ingested into
 * a real JetStream log, compiled into a real Redis store and served over ADS to a real
 * @grpc/grpc-js-xds client. A working gRPC Mapping serves; then every hostile object the issue
 * lists is added at once — regexes RE2 rejects (which used to kill every proxyless client of the
 * hostname), a Host whose Secret is missing, an earlier-sorting duplicate of the good Mapping, a
 * Mapping with other cluster settings for the same service, a route too large for clients, bytes
 * that are not UTF-8, an object too large for the log, a regex over Envoy's program size. Each must
 * be diagnosed, naming the object; every listener (the API listener and Envoy's socket listener,
 * which a Host whose TLS cannot be served used to take down), the good cluster and every good route
 * must stay byte-identical while every RPC keeps succeeding.
 *
 * A second pipeline takes the size cases whole: the seven Mappings with 700 KB prefixes (a
 * 5 MB RouteConfiguration: every proxyless client failed), then route configurations over 3 MiB
 * with every route under the per-route limit, and two socket listeners whose route configurations
 * fit alone but not in one RDS response. The largest contributors are rejected, named; the good
 * Mapping serves, its routes byte-identical.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { type DevPipeline, startDevPipeline } from '../../services/cli/dev.ts';
import { silentLogger } from '../../shared/runtime/logger.ts';
import { createRegistry } from '../../shared/runtime/metrics.ts';
import { loadResources } from '../../shared/snapshot/resource-chunks.ts';
import { CLUSTER_TYPE, LISTENER_TYPE, ROUTE_TYPE, type TypeUrl } from '../../shared/xds/type-urls.ts';
import { eventually } from '../harness/eventually.ts';
import { type EchoBackend, startEchoBackend } from '../harness/grpc-echo.ts';
import { endpointSliceYaml, serviceYaml } from '../harness/kube-yaml.ts';
import { freePort } from '../harness/ports.ts';
import { startNats, startRedis, type TestServer } from '../harness/servers.ts';
import { writeAtomic } from '../harness/write-atomic.ts';
import { createXdsEchoClient, FAILED, type XdsEchoClient } from '../harness/xds-client.ts';
import { readHeadSnapshot } from './kube-pipeline.ts';

const HOST = 'iso.test';
const GROUP = 'default';

let nats: TestServer;
let redis: TestServer;
let backend: EchoBackend;
let pipeline: DevPipeline & { close(): Promise<void> };
let dir: string;
let client: XdsEchoClient | undefined;
let fatal: unknown;
let xdsPort: number;

function mapping(name: string, spec: Record<string, unknown>): string {
  return `${JSON.stringify({
    apiVersion: 'getambassador.io/v3alpha1',
    kind: 'Mapping',
    metadata: { name, namespace: 'default' },
    spec: { hostname: HOST, timeout_ms: 5000, ...spec },
  })}\n`;
}

/** Hash of every committed listener (API and socket) and of the good Mapping's cluster. */
async function servedHashes(p: DevPipeline = pipeline): Promise<Map<string, string>> {
  const version = await p.store.head(GROUP);
  assert.ok(version !== null, 'nothing committed yet');
  const manifest = await p.store.getManifest(GROUP, version);
  const out = new Map<string, string>();
  const want: [TypeUrl, (name: string) => boolean][] = [
    [LISTENER_TYPE, () => true],
    [CLUSTER_TYPE, (n) => n.startsWith('cluster_iso_echo')],
  ];
  for (const [typeUrl, pick] of want)
    for (const r of manifest?.types[typeUrl]?.resources ?? [])
      if (pick(r.name)) out.set(`${typeUrl} ${r.name}`, r.hash);
  return out;
}

/** Every route of every committed route configuration, as `<route configuration> <vhost> <route JSON>`. */
async function servedRoutes(p: DevPipeline = pipeline): Promise<Set<string>> {
  const snapshot = await readHeadSnapshot(p.store, GROUP);
  const out = new Set<string>();
  for (const [name, rc] of snapshot.of(ROUTE_TYPE)) {
    const vhosts = (rc as { virtual_hosts?: { name: string; routes?: unknown[] }[] }).virtual_hosts ?? [];
    for (const vh of vhosts)
      for (const route of vh.routes ?? []) out.add(`${name} ${vh.name} ${JSON.stringify(route)}`);
  }
  return out;
}

/** Every route of `before` is served, byte for byte, in the same route configuration and virtual host. */
function assertRoutesKept(before: Set<string>, after: Set<string>): void {
  for (const r of before) assert.ok(after.has(r), `good route changed or missing: ${r.slice(0, 300)}`);
}

function diagnostics() {
  return pipeline.compiler.groupStatus().find((g) => g.group === GROUP)?.diagnostics ?? [];
}

before(async () => {
  nats = await startNats();
  redis = await startRedis();
  backend = await startEchoBackend('good');
  xdsPort = await freePort();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'attache-isolation-'));
  writeAtomic(
    path.join(dir, 'services.yaml'),
    [
      serviceYaml('iso-echo', { name: 'grpc', port: 50051 }),
      endpointSliceYaml({
        service: 'iso-echo',
        name: 'iso-echo-0',
        port: { name: 'grpc', port: backend.port },
        addresses: ['127.0.0.1'],
        zone: 'zone-0',
      }),
    ]
      .map((d) => `---\n${d}`)
      .join(''),
  );
  writeAtomic(
    path.join(dir, 'm.yaml'),
    mapping('iso-good', { prefix: '/', service: 'iso-echo:50051', grpc: true }),
  );
  pipeline = await startDevPipeline({
    configDirs: [dir],
    cluster: 'iso',
    groups: [GROUP],
    bind: '127.0.0.1',
    // Loopback, as `attache dev` defaults to; these tests are not about authentication.
    auth: { allowUnauthenticated: true },
    xdsPort,
    adminPort: await freePort(),
    natsUrl: nats.url,
    redisUrl: redis.url,
    redisPrefix: 'attache-iso:',
    debounceMs: 20,
    maxDelayMs: 200,
    pollIntervalMs: 100,
    log: silentLogger(),
    registry: createRegistry('isolation-e2e'),
    onFatal: (err) => {
      fatal = err;
    },
  });
});

after(async () => {
  client?.close();
  await pipeline?.close();
  await backend?.stop();
  await nats?.stop();
  await redis?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

test('isolation e2e — every hostile object is diagnosed and the good Mapping keeps serving', async () => {
  client = createXdsEchoClient({
    serverPort: xdsPort,
    nodeId: 'isolation-1',
    target: `xds:///${HOST}`,
  });
  await eventually(() => client!.echo('warm-up', 2000), { timeoutMs: 30_000, intervalMs: 200 });
  const before = await servedHashes();
  const routesBefore = await servedRoutes();
  assert.ok(
    before.has(`${LISTENER_TYPE} ${HOST}`) && [...before.keys()].some((k) => k.startsWith(CLUSTER_TYPE)),
    `API listener and cluster: ${[...before.keys()].join(', ')}`,
  );
  assert.ok(
    [...before.keys()].filter((k) => k.startsWith(LISTENER_TYPE)).length >= 2,
    `Envoy's socket listener too: ${[...before.keys()].join(', ')}`,
  );

  // Random bytes do not compress: over NATS's default 1 MiB max_payload even deflated.
  const noise = randomBytes(3 * 1024 * 1024).toString('base64');
  const hostile: Record<string, string | Buffer> = {
    'hostile-regex.yaml': mapping('hostile-regex', {
      prefix: '/',
      service: 'iso-echo:50051',
      grpc: true,
      regex_headers: { 'x-foo': 'a{1001}' },
    }),
    'hostile-rewrite.yaml': mapping('hostile-rewrite', {
      prefix: '/attache.echo.v1.Echo/',
      service: 'iso-echo:50051',
      grpc: true,
      regex_rewrite: { pattern: 'a{1001}', substitution: 'b' },
    }),
    'hostile-program.yaml': mapping('hostile-program', {
      prefix: '/',
      service: 'iso-echo:50051',
      grpc: true,
      // RE2 accepts it; its program is over the max_program_size (200) every regex is sent with.
      regex_headers: { 'x-big': '[a-z]{250}' },
    }),
    'hostile-host.yaml': `${JSON.stringify({
      apiVersion: 'getambassador.io/v3alpha1',
      kind: 'Host',
      metadata: { name: 'hostile-host', namespace: 'default' },
      spec: { hostname: '*', tlsSecret: { name: 'does-not-exist' } },
    })}\n`,
    '00-duplicate.yaml': mapping('iso-good', { prefix: '/', service: 'nowhere:1' }),
    'hostile-cluster.yaml': mapping('a-hostile-cluster', { prefix: '/plain/', service: 'iso-echo:50051' }),
    'hostile-size.yaml': mapping('hostile-size', {
      prefix: `/big/${'x'.repeat(300 * 1024)}`,
      service: 'iso-echo:50051',
      grpc: true,
    }),
    'hostile-bytes.yaml': Buffer.concat([
      Buffer.from(mapping('hostile-bytes', { prefix: '/caf', service: 'iso-echo:50051' }).slice(0, 60)),
      Buffer.from([0xff, 0xfe]),
    ]),
    'hostile-annotation.yaml': `${JSON.stringify({
      apiVersion: 'getambassador.io/v3alpha1',
      kind: 'Mapping',
      metadata: { name: 'hostile-annotation', namespace: 'default', annotations: { note: noise } },
      spec: { hostname: HOST, prefix: '/note/', service: 'iso-echo:50051' },
    })}\n`,
  };
  for (const [file, body] of Object.entries(hostile)) {
    if (typeof body === 'string') writeAtomic(path.join(dir, file), body);
    else fs.writeFileSync(path.join(dir, file), body);
  }
  // A good change written after the hostile ones still flows (no head-of-line blocking).
  writeAtomic(
    path.join(dir, 'zz-after.yaml'),
    mapping('zz-after', { prefix: '/after/', service: 'iso-echo:50051', grpc: true }),
  );

  const expected: [string, RegExp][] = [
    ['hostile-regex', /invalid repetition size/],
    ['hostile-rewrite', /invalid repetition size/],
    ['hostile-host', /Secret default\/does-not-exist was not found/],
    ['hostile-program', /at least 252 instructions, over the max_program_size of 200/],
    // Both places, each with its document.
    ['iso-good', /(?=.*00-duplicate\.yaml document 0)(?=.*m\.yaml document 0)/],
    ['a-hostile-cluster', /differ from those of the .* own cluster/],
    ['hostile-size', /over the 256\.0 KiB limit per route/],
    ['hostile-bytes.yaml', /not valid UTF-8: invalid byte 0xff at byte offset 60/],
    ['hostile-annotation', /could not be ingested: .*max_payload/],
  ];
  await eventually(
    async () => {
      assert.equal(fatal, undefined, 'the dev pipeline reported a fatal error');
      const ds = diagnostics();
      for (const [name, message] of expected) {
        assert.ok(
          ds.some((d) => d.source.name === name && message.test(d.message)),
          `no diagnostic for ${name} matching ${message}`,
        );
      }
      const zz = await servedHashes();
      assert.ok(zz.size >= 3);
    },
    { timeoutMs: 60_000, intervalMs: 250 },
  );
  await pipeline.compiler.idle();

  const counts = await client.countBackends(20, 5000);
  assert.deepEqual([...counts], [['good', 20]], `RPCs after the hostile objects: ${[...counts]}`);
  assert.equal(counts.get(FAILED), undefined);
  const after = await servedHashes();
  for (const [key, hash] of before) assert.equal(after.get(key), hash, `${key} is byte-identical`);
  assertRoutesKept(routesBefore, await servedRoutes());
});

test('isolation e2e — size: 700 KB prefixes, a route configuration over 3 MiB and an RDS response over 3.5 MiB shed their largest contributors; the good Mapping serves', async () => {
  const sizeNats = await startNats();
  const sizeDir = fs.mkdtempSync(path.join(os.tmpdir(), 'attache-isolation-size-'));
  const port = await freePort();
  let p: (DevPipeline & { close(): Promise<void> }) | undefined;
  let c: XdsEchoClient | undefined;
  try {
    // Two socket listeners for every Host: each route is in both route configurations.
    const edge = [8080, 8081].map((listenerPort) =>
      JSON.stringify({
        apiVersion: 'getambassador.io/v3alpha1',
        kind: 'Listener',
        metadata: { name: `l${listenerPort}`, namespace: 'default' },
        spec: {
          port: listenerPort,
          protocol: 'HTTP',
          securityModel: 'XFP',
          hostBinding: { namespace: { from: 'ALL' } },
        },
      }),
    );
    edge.push(
      JSON.stringify({
        apiVersion: 'getambassador.io/v3alpha1',
        kind: 'Host',
        metadata: { name: 'any', namespace: 'default' },
        spec: { hostname: '*', requestPolicy: { insecure: { action: 'Route' } } },
      }),
    );
    writeAtomic(path.join(sizeDir, 'edge.yaml'), edge.map((d) => `---\n${d}\n`).join(''));
    writeAtomic(
      path.join(sizeDir, 'services.yaml'),
      fs.readFileSync(path.join(dir, 'services.yaml'), 'utf8'),
    );
    writeAtomic(
      path.join(sizeDir, 'm.yaml'),
      mapping('iso-good', { prefix: '/', service: 'iso-echo:50051', grpc: true }),
    );
    p = await startDevPipeline({
      configDirs: [sizeDir],
      cluster: 'iso-size',
      groups: [GROUP],
      bind: '127.0.0.1',
      auth: { allowUnauthenticated: true },
      xdsPort: port,
      adminPort: await freePort(),
      natsUrl: sizeNats.url,
      redisUrl: redis.url,
      redisPrefix: 'attache-iso-size:',
      debounceMs: 20,
      maxDelayMs: 200,
      pollIntervalMs: 100,
      log: silentLogger(),
      registry: createRegistry('isolation-size-e2e'),
      onFatal: (err) => {
        fatal = err;
      },
    });
    c = createXdsEchoClient({ serverPort: port, nodeId: 'isolation-size', target: `xds:///${HOST}` });
    await eventually(() => c!.echo('warm-up', 2000), { timeoutMs: 30_000, intervalMs: 200 });
    await p.compiler.idle();
    const before = await servedHashes(p);
    const routesBefore = await servedRoutes(p);

    // The case: seven 700 KB prefixes (a 5 MB RouteConfiguration), each over the
    // per-route limit; and 16 routes of 200–215 KiB, each under it but together over 3 MiB per
    // route configuration and over 3.5 MiB for the two socket route configurations.
    const big = (name: string, kib: number) =>
      mapping(name, {
        hostname: '*',
        prefix: `/${name}/${'x'.repeat(kib * 1024)}`,
        service: 'iso-echo:50051',
        grpc: true,
      });
    const seven = Array.from({ length: 7 }, (_, i) => `big-${i}`);
    const bulky = Array.from({ length: 16 }, (_, i) => `bulky-${String(i).padStart(2, '0')}`);
    writeAtomic(path.join(sizeDir, 'seven.yaml'), seven.map((n) => `---\n${big(n, 700)}`).join(''));
    writeAtomic(path.join(sizeDir, 'bulky.yaml'), bulky.map((n, i) => `---\n${big(n, 200 + i)}`).join(''));

    const errorsOf = (name: string) =>
      (p!.compiler.groupStatus().find((g) => g.group === GROUP)?.diagnostics ?? []).filter(
        (d) => d.severity === 'error' && d.source.name === name,
      );
    await eventually(
      async () => {
        assert.equal(fatal, undefined, 'the dev pipeline reported a fatal error');
        for (const n of seven)
          assert.match(errorsOf(n)[0]?.message ?? '', /over the 256\.0 KiB limit per route/, n);
        assert.ok(errorsOf('bulky-15').length > 0, 'the largest bulky Mapping is rejected');
      },
      { timeoutMs: 90_000, intervalMs: 500 },
    );
    await p.compiler.idle();
    const rejected = bulky.filter((n) => errorsOf(n).length > 0);
    const kept = bulky.filter((n) => errorsOf(n).length === 0);
    assert.ok(kept.length >= 8, `most bulky Mappings still serve: rejected ${rejected.join(', ')}`);
    const messages = rejected.flatMap((n) => errorsOf(n).map((d) => d.message)).join('\n');
    assert.match(
      messages,
      /RouteConfiguration .* over the 3072\.0 KiB that xDS clients accept in one resource/,
    );
    assert.match(messages, /RouteConfiguration resources sent together would total .* fits one xDS response/);
    assert.ok(errorsOf('iso-good').length === 0, 'the good Mapping is never blamed');

    // What is committed fits: no resource over 3 MiB, the socket route configurations under 3.5 MiB.
    const version = await p.store.head(GROUP);
    const manifest = await p.store.getManifest(GROUP, version!);
    const rds = manifest?.types[ROUTE_TYPE]?.resources ?? [];
    const store = p.store;
    const blobs = await loadResources(rds, (hashes) => store.getBlobs(hashes));
    const sizes = rds.map((r) => [r.name, blobs.get(r.hash)!.length] as const);
    for (const [name, bytes] of sizes) assert.ok(bytes <= 3 * 1024 * 1024, `${name}: ${bytes} bytes`);
    const socket = sizes.filter(([name]) => !name.startsWith('api:'));
    assert.equal(socket.length, 2);
    assert.ok(socket.reduce((n, [, b]) => n + b, 0) <= 3.5 * 1024 * 1024, `RDS: ${JSON.stringify(socket)}`);

    const counts = await c.countBackends(10, 5000);
    assert.deepEqual([...counts], [['good', 10]], `RPCs after the large Mappings: ${[...counts]}`);
    const after = await servedHashes(p);
    for (const [key, hash] of before) assert.equal(after.get(key), hash, `${key} is byte-identical`);
    assertRoutesKept(routesBefore, await servedRoutes(p));
  } finally {
    c?.close();
    await p?.close();
    await sizeNats.stop();
    fs.rmSync(sizeDir, { recursive: true, force: true });
  }
});
