/**
 * Routing behaviour end to end: Emissary Mappings written to a watched directory, compiled and
 * served by the in-process pipeline (`startDevPipeline`: embedded log and store, fs ingestors,
 * compiler, ADS fan-out), and exercised with RPCs from real @grpc/grpc-js-xds clients to real echo
 * backends. Every scenario has its own hostname (so its own API listener) and a fresh client.
 *
 * A scenario whose Envoy feature the compiler does not emit yet is marked `todo` with the reason,
 * found by reading the committed configuration, and its assertions still run (with short waits):
 * node:test then reports it as "# TODO" instead of failing, and it turns into a plain pass as
 * soon as the feature lands. Fault injection is skipped: no Emissary resource produces it.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, type TestContext, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { type DevOptions, startDevPipeline } from '../../services/cli/dev.ts';
import { silentLogger } from '../../shared/runtime/logger.ts';
import { createRegistry } from '../../shared/runtime/metrics.ts';
import { loadResources } from '../../shared/snapshot/resource-chunks.ts';
import { decodeResource } from '../../shared/xds/encoding.ts';
import { CLUSTER_TYPE, ENDPOINT_TYPE, ROUTE_TYPE, type TypeUrl } from '../../shared/xds/type-urls.ts';
import { eventually } from '../harness/eventually.ts';
import { type EchoBackend, startEchoBackend } from '../harness/grpc-echo.ts';
import { endpointSliceYaml, serviceYaml as kubeServiceYaml } from '../harness/kube-yaml.ts';
import { freePort } from '../harness/ports.ts';
import { createXdsEchoClient, EchoError, FAILED, type XdsEchoClient } from '../harness/xds-client.ts';
import { fourSigma, writeAtomic } from './canary-scenario.ts';

// biome-ignore lint/suspicious/noExplicitAny: decoded xDS JSON is read loosely inside assertions
type Json = Record<string, any>;
type Pipeline = Awaited<ReturnType<typeof startDevPipeline>>;

const GROUP = 'default';
const ECHO_PATH_PREFIX = '/attache.echo.v1.Echo/';
/** Source cluster names the dev pipeline gives the two config directories (`<cluster>-<i>-<dir>`). */
const LOCAL_CLUSTER = 'e2e-1-local';
/** How long to wait for a feature the compiler does not emit yet before the todo test gives up. */
const TODO_WAIT_MS = 3_000;

let pipeline: Pipeline;
let root: string;
let localDir: string;
let remoteDir: string;
let xdsPort: number;
const backends: Record<string, EchoBackend> = {};
const clients: XdsEchoClient[] = [];
let nodeCounter = 0;
/** A fatal error reported by a pipeline runner; checked whenever a test waits for configuration. */
let fatal: unknown;

function client(host: string): XdsEchoClient {
  const c = createXdsEchoClient({
    serverPort: xdsPort,
    nodeId: `routing-${++nodeCounter}`,
    target: `xds:///${host}`,
  });
  clients.push(c);
  return c;
}

/** A Service on port 50051 and an EndpointSlice per backend port, all on 127.0.0.1. */
function serviceYaml(name: string, ports: readonly number[]): string {
  const docs = [
    kubeServiceYaml(name, { name: 'grpc', port: 50051 }),
    ...ports.map((port, i) =>
      endpointSliceYaml({
        service: name,
        name: `${name}-${i}`,
        port: { name: 'grpc', port },
        addresses: ['127.0.0.1'],
        zone: `zone-${i}`,
      }),
    ),
  ];
  return docs.map((d) => `---\n${d}`).join('');
}

function mappingYaml(name: string, host: string, spec: Record<string, unknown>): string {
  return `${JSON.stringify({
    apiVersion: 'getambassador.io/v3alpha1',
    kind: 'Mapping',
    metadata: { name, namespace: 'default' },
    spec: { hostname: host, timeout_ms: 5000, ...spec },
  })}\n`;
}

/** Writes Mappings (name → spec) for `host`, one file each, into the local config directory. */
function writeMappings(host: string, mappings: Record<string, Record<string, unknown>>): void {
  for (const [name, spec] of Object.entries(mappings)) {
    writeAtomic(path.join(localDir, `${name}.yaml`), mappingYaml(name, host, spec));
  }
}

/** A resource of the group's current committed snapshot, decoded, or undefined. */
async function committed(typeUrl: TypeUrl, name: string): Promise<Json | undefined> {
  const version = await pipeline.store.head(GROUP);
  if (version === null) return undefined;
  const manifest = await pipeline.store.getManifest(GROUP, version);
  const entry = manifest?.types[typeUrl]?.resources.find((r) => r.name === name);
  if (!entry) return undefined;
  const bytes = (await loadResources([entry], (hashes) => pipeline.store.getBlobs(hashes))).get(entry.hash);
  return bytes ? decodeResource(typeUrl, bytes) : undefined;
}

/** Waits until the committed API route configuration of `host` has a route for every named Mapping. */
async function waitRoutes(host: string, mappings: readonly string[]): Promise<Json[]> {
  return eventually(
    async () => {
      assert.equal(fatal, undefined, 'the dev pipeline reported a fatal error');
      const rc = await committed(ROUTE_TYPE, `api:${host}`);
      const routes: Json[] = (rc?.virtual_hosts ?? []).flatMap((vh: Json) => vh.routes ?? []);
      const names = routes.map((r) => r.name);
      for (const m of mappings) assert.ok(names.includes(`default/${m}`), `route for ${m} not committed yet`);
      return routes;
    },
    { timeoutMs: 20_000, intervalMs: 100 },
  );
}

function routeOf(routes: readonly Json[], mapping: string): Json {
  const r = routes.find((x) => x.name === `default/${mapping}`);
  assert.ok(r, `no route for Mapping ${mapping}`);
  return r;
}

/**
 * Marks the test todo when the pipeline does not produce the feature yet (the assertions still run,
 * with `TODO_WAIT_MS` waits); returns how long the scenario may wait for traffic to move.
 */
function needs(t: TestContext, emitted: boolean, reason: string): number {
  if (emitted) return 20_000;
  t.todo(`waiting on a missing feature: ${reason}`);
  return TODO_WAIT_MS;
}

async function warmUp(
  c: XdsEchoClient,
  timeoutMs = 20_000,
  metadata?: Record<string, string>,
): Promise<void> {
  await eventually(() => c.echo('warm-up', 2000, metadata), { timeoutMs, intervalMs: 100 });
}

/** Waits until `n` consecutive RPCs (with `metadata`) all land on `backend`. */
async function allOn(
  c: XdsEchoClient,
  backend: string,
  {
    n = 20,
    timeoutMs = 20_000,
    metadata,
  }: { n?: number; timeoutMs?: number; metadata?: Record<string, string> } = {},
): Promise<void> {
  await eventually(
    async () => {
      const counts = await c.countBackends(n, 2000, metadata);
      assert.deepEqual([...counts], [[backend, n]]);
    },
    { timeoutMs, intervalMs: 100 },
  );
}

before(async () => {
  for (const name of ['a', 'b', 'c', 'prio-local', 'prio-remote'])
    backends[name] = await startEchoBackend(name);
  // Fails the first attempt of every RPC with UNAVAILABLE; retries (grpc-previous-rpc-attempts ≥ 1) succeed.
  backends.flaky = await startEchoBackend('flaky', {
    fail: (call) => (call.previousAttempts === 0 ? { code: grpc.status.UNAVAILABLE } : undefined),
  });
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'attache-routing-'));
  localDir = path.join(root, 'local');
  remoteDir = path.join(root, 'remote');
  fs.mkdirSync(localDir);
  fs.mkdirSync(remoteDir);
  const port = (n: string) => backends[n]!.port;
  writeAtomic(
    path.join(localDir, 'services.yaml'),
    ['a', 'b', 'c', 'flaky'].map((n) => serviceYaml(n, [port(n)])).join('') +
      serviceYaml('ring', [port('a'), port('b')]) +
      serviceYaml('prio', [port('prio-local')]),
  );
  writeAtomic(path.join(remoteDir, 'services.yaml'), serviceYaml('prio', [port('prio-remote')]));
  xdsPort = await freePort();
  const options: DevOptions & { compileOptions?: (group: string) => { localClusters: string[] } } = {
    configDirs: [localDir, remoteDir],
    cluster: 'e2e',
    groups: [GROUP],
    bind: '127.0.0.1',
    // Loopback, as `attache dev` defaults to; these tests are not about authentication.
    auth: { allowUnauthenticated: true },
    xdsPort,
    adminPort: await freePort(),
    redisPrefix: 'attache:',
    debounceMs: 20,
    maxDelayMs: 200,
    pollIntervalMs: 100,
    log: silentLogger(),
    registry: createRegistry('routing-e2e'),
    onFatal: (err) => {
      fatal = err;
    },
    // The local source cluster's endpoints are priority 0, the remote's priority 1 (prefer-local),
    // once the dev pipeline forwards compile options to the compiler.
    compileOptions: () => ({ localClusters: [LOCAL_CLUSTER] }),
  };
  pipeline = await startDevPipeline(options);
});

after(async () => {
  for (const c of clients) c.close();
  await pipeline?.close();
  await Promise.all(Object.values(backends).map((b) => b.stop()));
  if (root) fs.rmSync(root, { recursive: true, force: true });
});

describe('routing end to end through a real grpc-js-xds client', () => {
  test('routing — the longest matching prefix wins; a shorter prefix serves once it is removed', async () => {
    const host = 'prefix.routing.test';
    writeMappings(host, {
      'prefix-service': { prefix: ECHO_PATH_PREFIX, service: 'a:50051' },
      'prefix-method': { prefix: `${ECHO_PATH_PREFIX}Ech`, service: 'b:50051' },
      'prefix-other-method': { prefix: `${ECHO_PATH_PREFIX}EchoStream`, service: 'c:50051' },
    });
    await waitRoutes(host, ['prefix-service', 'prefix-method', 'prefix-other-method']);
    const c = client(host);
    await warmUp(c);
    const counts = await c.countBackends(50);
    assert.deepEqual([...counts], [['b', 50]], 'the longer matching prefix takes every RPC');
    fs.rmSync(path.join(localDir, 'prefix-method.yaml'));
    await allOn(c, 'a');
    assert.deepEqual([...(await c.countBackends(50))], [['a', 50]]);
  });

  test('routing — gRPC metadata x-user: beta goes to the canary, everything else to stable', async () => {
    const host = 'header.routing.test';
    writeMappings(host, {
      'header-stable': { prefix: '/', service: 'a:50051' },
      'header-beta': { prefix: '/', service: 'b:50051', headers: { 'x-user': 'beta' } },
    });
    await waitRoutes(host, ['header-stable', 'header-beta']);
    const c = client(host);
    await warmUp(c);
    assert.deepEqual([...(await c.countBackends(30))], [['a', 30]]);
    // The canary's cluster gets its first connection here: on a loaded machine that (not the
    // routing) took longer than one RPC's 2 s deadline once, so it is warmed like the stable one.
    await warmUp(c, 20_000, { 'x-user': 'beta' });
    assert.deepEqual([...(await c.countBackends(30, 2000, { 'x-user': 'beta' }))], [['b', 30]]);
    assert.deepEqual([...(await c.countBackends(30, 2000, { 'x-user': 'gamma' }))], [['a', 30]]);
  });

  test('routing — prefix_regex matches the whole gRPC path as an RE2 regex', async (t) => {
    const host = 'regex.routing.test';
    writeMappings(host, {
      'regex-fallback': { prefix: '/', service: 'a:50051' },
      'regex-echo': { prefix: '/attache\\.echo\\.v1\\.Echo/E[a-z]+', prefix_regex: true, service: 'b:50051' },
      'regex-miss': { prefix: '/attache\\.echo\\.v1\\.Echo/X.*', prefix_regex: true, service: 'c:50051' },
    });
    const routes = await waitRoutes(host, ['regex-fallback', 'regex-echo', 'regex-miss']);
    const wait = needs(
      t,
      routeOf(routes, 'regex-echo').match?.safe_regex !== undefined,
      'prefix_regex is parsed but no route match carries safe_regex (translate/route.ts)',
    );
    const c = client(host);
    await warmUp(c, wait);
    await allOn(c, 'b', { timeoutMs: wait });
    assert.deepEqual([...(await c.countBackends(50))], [['b', 50]]);
  });

  test('routing — a higher precedence wins over a longer prefix', async () => {
    const host = 'precedence.routing.test';
    writeMappings(host, {
      'precedence-long': { prefix: `${ECHO_PATH_PREFIX}Echo`, service: 'a:50051' },
      'precedence-short': { prefix: ECHO_PATH_PREFIX, service: 'b:50051', precedence: 10 },
    });
    const routes = await waitRoutes(host, ['precedence-long', 'precedence-short']);
    assert.equal(routes[0]?.name, 'default/precedence-short', 'the precedence 10 route is first');
    const c = client(host);
    await warmUp(c);
    assert.deepEqual([...(await c.countBackends(50))], [['b', 50]]);
  });

  test("routing — Argo's canary sequence 0 → 30 (4σ) → 100 → deleted", async () => {
    const host = 'canary.routing.test';
    writeMappings(host, {
      'canary-stable': { prefix: '/', service: 'a:50051' },
      'canary-canary': { prefix: '/', service: 'b:50051', weight: 0 },
    });
    await waitRoutes(host, ['canary-stable']);
    const c = client(host);
    await warmUp(c);
    assert.deepEqual([...(await c.countBackends(100))], [['a', 100]], 'weight 0 sends nothing to the canary');

    writeMappings(host, { 'canary-canary': { prefix: '/', service: 'b:50051', weight: 30 } });
    await eventually(
      async () => assert.ok(((await c.countBackends(40)).get('b') ?? 0) > 0, 'canary not serving yet'),
      { timeoutMs: 20_000, intervalMs: 100 },
    );
    const n = 600;
    const counts = await c.countBackends(n, 5000);
    assert.equal(counts.get(FAILED) ?? 0, 0, `failed RPCs: ${JSON.stringify([...counts])}`);
    const onCanary = counts.get('b') ?? 0;
    assert.equal(onCanary + (counts.get('a') ?? 0), n);
    const band = fourSigma(n, 0.3);
    assert.ok(
      Math.abs(onCanary - 0.3 * n) <= band,
      `canary got ${onCanary}/${n}; expected ${0.3 * n} ± ${band.toFixed(1)} (4σ)`,
    );

    writeMappings(host, { 'canary-canary': { prefix: '/', service: 'b:50051', weight: 100 } });
    await allOn(c, 'b');
    assert.deepEqual([...(await c.countBackends(100))], [['b', 100]]);

    fs.rmSync(path.join(localDir, 'canary-canary.yaml'));
    await allOn(c, 'a');
    assert.deepEqual([...(await c.countBackends(100))], [['a', 100]]);
  });

  test('routing — ring_hash on x-user pins each user to one backend across 20 RPCs', async (t) => {
    const host = 'ring.routing.test';
    writeMappings(host, {
      'ring-hash': {
        prefix: '/',
        service: 'ring:50051',
        load_balancer: { policy: 'ring_hash', header: 'x-user' },
      },
    });
    const routes = await waitRoutes(host, ['ring-hash']);
    const route = routeOf(routes, 'ring-hash');
    const cluster = await committed(CLUSTER_TYPE, route.route?.cluster ?? '');
    const hashesUser = (route.route?.hash_policy ?? []).some((h: Json) => h.header?.header_name === 'x-user');
    const wait = needs(
      t,
      hashesUser && cluster?.lb_policy === 'RING_HASH',
      `load_balancer ring_hash is parsed but the route has ${hashesUser ? '' : 'no x-user hash_policy'}` +
        `${cluster?.lb_policy === 'RING_HASH' ? '' : ` and the cluster's lb_policy is ${cluster?.lb_policy ?? 'unset'}`}`,
    );
    const c = client(host);
    await warmUp(c, wait, { 'x-user': 'warm-up' });
    const pinned = new Map<string, string>();
    for (let u = 0; u < 12; u++) {
      const user = `user-${u}`;
      const counts = await c.countBackends(20, 2000, { 'x-user': user });
      assert.equal(counts.size, 1, `${user} was spread over ${JSON.stringify([...counts])}`);
      const [backend] = [...counts.keys()];
      assert.ok(backend === 'a' || backend === 'b', `${user} got ${backend}`);
      pinned.set(user, backend);
    }
    // 12 users on two equally weighted backends all hashing to one has probability 2⁻¹¹.
    assert.deepEqual(new Set(pinned.values()), new Set(['a', 'b']), 'users are spread over both backends');
  });

  test('routing — retry_policy retries UNAVAILABLE; without it the same backend fails', async (t) => {
    writeMappings('noretry.routing.test', { 'noretry-flaky': { prefix: '/', service: 'flaky:50051' } });
    writeMappings('retry.routing.test', {
      'retry-flaky': {
        prefix: '/',
        service: 'flaky:50051',
        retry_policy: { retry_on: 'unavailable', num_retries: 2 },
      },
    });
    await waitRoutes('noretry.routing.test', ['noretry-flaky']);
    const control = client('noretry.routing.test');
    await eventually(
      async () => {
        const err = await control.echo('x', 2000).then(
          () => undefined,
          (e: unknown) => e,
        );
        assert.ok(err instanceof EchoError && err.code === grpc.status.UNAVAILABLE, `got ${String(err)}`);
        assert.match(err.details, /scripted failure on flaky/);
      },
      { timeoutMs: 20_000, intervalMs: 100 },
    );

    const routes = await waitRoutes('retry.routing.test', ['retry-flaky']);
    const retryOn = String(routeOf(routes, 'retry-flaky').route?.retry_policy?.retry_on ?? '');
    const wait = needs(
      t,
      retryOn.split(',').includes('unavailable'),
      'retry_policy is parsed but the route has no retry_policy with retry_on unavailable',
    );
    const c = client('retry.routing.test');
    await warmUp(c, wait);
    const failuresBefore = backends.flaky!.failures;
    const callsBefore = backends.flaky!.calls;
    const counts = await c.countBackends(20);
    assert.deepEqual([...counts], [['flaky', 20]], 'every RPC succeeds after one retry');
    assert.equal(backends.flaky!.failures - failuresBefore, 20, 'each RPC failed its first attempt');
    assert.equal(backends.flaky!.calls - callsBefore, 40, 'each RPC took exactly two attempts');
  });

  test('routing — fault injection', {
    skip: 'no Emissary resource produces Envoy fault config (no fault field in emissary.md §2; Mapping, Module and the edge kinds have none)',
  }, () => {});

  test('routing — priority failover from the local cluster to the remote one', async (t) => {
    const host = 'priority.routing.test';
    writeMappings(host, { 'priority-echo': { prefix: '/', service: 'prio:50051' } });
    const routes = await waitRoutes(host, ['priority-echo']);
    const clusterName = String(routeOf(routes, 'priority-echo').route?.cluster ?? '');
    const cluster = await committed(CLUSTER_TYPE, clusterName);
    const claName = String(cluster?.eds_cluster_config?.service_name || clusterName);
    // Both source clusters' endpoints must be in the assignment before priorities can be judged.
    const cla = await eventually(
      async () => {
        const found = await committed(ENDPOINT_TYPE, claName);
        const localities: Json[] = found?.endpoints ?? [];
        assert.equal(localities.flatMap((l) => l.lb_endpoints ?? []).length, 2, 'waiting for both endpoints');
        return found!;
      },
      { timeoutMs: 20_000, intervalMs: 100 },
    );
    const priorities = (cla.endpoints as Json[]).map((l) => Number(l.priority ?? 0)).sort();
    const wait = needs(
      t,
      priorities.join(',') === '0,1',
      `the endpoints of ${claName} have priorities [${priorities.join(',')}], not [0,1]: ` +
        'startDevPipeline does not pass local clusters (compileOptions) to the compiler',
    );
    const c = client(host);
    await warmUp(c, wait);
    await allOn(c, 'prio-local', { timeoutMs: wait });
    await backends['prio-local']!.stop();
    await allOn(c, 'prio-remote', { timeoutMs: wait === TODO_WAIT_MS ? wait : 15_000 });
  });
});
