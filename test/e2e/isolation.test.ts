/**
 * One bad object never breaks the rest (issue 9), on the real tiers: a YAML directory ingested into
 * a real JetStream log, compiled into a real Redis store and served over ADS to a real
 * @grpc/grpc-js-xds client. A working gRPC Mapping serves; then every hostile object the issue
 * lists is added at once — regexes RE2 rejects (which used to kill every proxyless client of the
 * hostname), a Host whose Secret is missing, an earlier-sorting duplicate of the good Mapping, a
 * Mapping with other cluster settings for the same service, a route too large for clients, bytes
 * that are not UTF-8, an object too large for the log. Each must be diagnosed, naming the object,
 * and the good Mapping's API listener, route configuration and cluster must stay byte-identical
 * while every RPC keeps succeeding.
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
import { CLUSTER_TYPE, LISTENER_TYPE, ROUTE_TYPE, type TypeUrl } from '../../shared/xds/type-urls.ts';
import { eventually } from '../harness/eventually.ts';
import { type EchoBackend, startEchoBackend } from '../harness/grpc-echo.ts';
import { endpointSliceYaml, serviceYaml } from '../harness/kube-yaml.ts';
import { freePort } from '../harness/ports.ts';
import { startNats, startRedis, type TestServer } from '../harness/servers.ts';
import { writeAtomic } from '../harness/write-atomic.ts';
import { createXdsEchoClient, FAILED, type XdsEchoClient } from '../harness/xds-client.ts';

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

/** Hash of each committed resource the good Mapping is served by. */
async function servedHashes(): Promise<Map<string, string>> {
  const version = await pipeline.store.head(GROUP);
  assert.ok(version !== null, 'nothing committed yet');
  const manifest = await pipeline.store.getManifest(GROUP, version);
  const out = new Map<string, string>();
  const want: [TypeUrl, (name: string) => boolean][] = [
    [LISTENER_TYPE, (n) => n === HOST],
    [ROUTE_TYPE, (n) => n === `api:${HOST}`],
    [CLUSTER_TYPE, (n) => n.startsWith('cluster_iso_echo')],
  ];
  for (const [typeUrl, pick] of want)
    for (const r of manifest?.types[typeUrl]?.resources ?? [])
      if (pick(r.name)) out.set(`${typeUrl} ${r.name}`, r.hash);
  return out;
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
  assert.equal(before.size, 3, `listener, route configuration and cluster: ${[...before.keys()].join(', ')}`);

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
    ['iso-good', /00-duplicate\.yaml.*|already defined in m\.yaml/],
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
  const afterRoutes = await servedHashes();
  const cluster = [...before.keys()].find((k) => k.startsWith(CLUSTER_TYPE))!;
  assert.equal(afterRoutes.get(cluster), before.get(cluster), 'the good cluster is byte-identical');
  const listener = `${LISTENER_TYPE} ${HOST}`;
  assert.equal(afterRoutes.get(listener), before.get(listener), 'the API listener is byte-identical');
});
