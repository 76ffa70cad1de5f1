/**
 * The spine, end to end, with every part real: `nats-server -js` and `redis-server` on free
 * loopback ports, the three tiers as separate `attache` processes, two gRPC echo backends, and a
 * real @grpc/grpc-js-xds client dialing xds:///<host>. Then the same scenario with `attache dev`
 * (embedded log and store, one process).
 *
 * Scenario (Argo Rollouts' canary sequence): canary weight 30 → 1,000 RPCs split 30/70 within
 * 4σ, none failing; weight 100 → all traffic on the canary; canary Mapping deleted → all traffic
 * back on stable. Nothing is restarted between steps.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type AttacheProcess, startAttache } from '../harness/attache-process.ts';
import { eventually } from '../harness/eventually.ts';
import { type EchoBackend, startEchoBackend } from '../harness/grpc-echo.ts';
import { freePort } from '../harness/ports.ts';
import { startNats, startRedis, type TestServer } from '../harness/servers.ts';
import { compileArgs, fanoutArgs, ingestFsArgs } from '../harness/tier-args.ts';
import { createXdsEchoClient, FAILED, type XdsEchoClient } from '../harness/xds-client.ts';
import {
  backendsYaml,
  baseMappingYaml,
  canaryMappingYaml,
  fourSigma,
  HOST,
  waitAllOn,
  writeAtomic,
} from './canary-scenario.ts';

interface Deployment {
  configDir: string;
  xdsPort: number;
  /** Admin port of the process that serves `/debug/status` (the compiler). */
  statusPort: number;
  processes: AttacheProcess[];
}

let stable: EchoBackend;
let canary: EchoBackend;
let nodeCounter = 0;

function makeConfigDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'attache-e2e-'));
  fs.mkdirSync(path.join(dir, 'backends'));
  writeAtomic(path.join(dir, 'backends', 'services.yaml'), backendsYaml(stable.port, canary.port));
  writeAtomic(path.join(dir, 'echo.yaml'), baseMappingYaml());
  writeAtomic(path.join(dir, 'echo-canary.yaml'), canaryMappingYaml(30));
  return dir;
}

/** Registers the canary scenario's tests against one deployment. */
function canaryScenario(deploy: () => Deployment) {
  let client: XdsEchoClient;

  before(() => {
    client = createXdsEchoClient({
      serverPort: deploy().xdsPort,
      nodeId: `e2e-node-${++nodeCounter}`,
      target: `xds:///${HOST}`,
    });
  });
  after(() => client?.close());

  test('canary — 1,000 RPCs all succeed and split 30/70 within 4σ', async (t) => {
    // The first RPC waits for LDS → RDS → CDS → EDS; retry until the configuration is there.
    await eventually(() => client.echo('warm-up', 5000), { timeoutMs: 30_000 });
    const n = 1000;
    const counts = await client.countBackends(n, 5000);
    assert.equal(counts.get(FAILED) ?? 0, 0, `failed RPCs: ${JSON.stringify([...counts])}`);
    const onCanary = counts.get('canary') ?? 0;
    const onStable = counts.get('stable') ?? 0;
    assert.equal(onCanary + onStable, n);
    const band = fourSigma(n, 0.3);
    t.diagnostic(`split: canary ${onCanary}, stable ${onStable} of ${n} (expected 300 ± ${band.toFixed(0)})`);
    assert.ok(
      Math.abs(onCanary - 0.3 * n) <= band,
      `canary got ${onCanary}/${n}; expected ${0.3 * n} ± ${band.toFixed(1)} (4σ)`,
    );
  });

  test('canary — weight 100 moves all traffic to the canary without restarts', async () => {
    writeAtomic(path.join(deploy().configDir, 'echo-canary.yaml'), canaryMappingYaml(100));
    await waitAllOn(client, 'canary');
    const counts = await client.countBackends(200);
    assert.deepEqual([...counts], [['canary', 200]]);
  });

  test('canary — deleting the canary Mapping returns all traffic to stable', async () => {
    fs.rmSync(path.join(deploy().configDir, 'echo-canary.yaml'));
    await waitAllOn(client, 'stable');
    const counts = await client.countBackends(200);
    assert.deepEqual([...counts], [['stable', 200]]);
  });

  test('canary — malformed Mappings and invalid YAML are reported by name; good routes keep serving', async () => {
    const dir = deploy().configDir;
    writeAtomic(
      path.join(dir, 'bad.yaml'),
      `apiVersion: getambassador.io/v3alpha1
kind: Mapping
metadata: { name: no-service, namespace: default }
spec: { hostname: ${HOST}, prefix: /broken/ }
---
apiVersion: getambassador.io/v3alpha1
kind: Mapping
metadata: { name: bad-weight, namespace: default }
spec: { hostname: ${HOST}, prefix: /weird/, service: echo-canary:50051, weight: lots }
`,
    );
    writeAtomic(
      path.join(dir, 'broken.yaml'),
      'apiVersion: v1\nkind: Mapping\nmetadata: { name: [unclosed\n',
    );
    const statusPort = deploy().statusPort;
    const diagnostics = await eventually(
      async () => {
        const res = await fetch(`http://127.0.0.1:${statusPort}/debug/status`);
        const groups = (await res.json()) as {
          diagnostics: { source: { name: string }; field?: string; message: string }[];
        }[];
        const diags = groups[0]?.diagnostics ?? [];
        assert.ok(diags.some((d) => d.source.name === 'no-service' && d.field?.includes('service')));
        assert.ok(diags.some((d) => d.source.name === 'bad-weight' && d.field?.includes('weight')));
        return diags;
      },
      { timeoutMs: 20_000, intervalMs: 200 },
    );
    assert.ok(diagnostics.length >= 2);
    // The invalid YAML is logged by the ingestor, naming the file.
    await eventually(() =>
      assert.match(
        deploy()
          .processes.map((p) => p.output())
          .join('\n'),
        /broken\.yaml/,
      ),
    );
    const counts = await client.countBackends(100);
    assert.deepEqual([...counts], [['stable', 100]], 'good Mapping keeps serving');
  });
}

before(async () => {
  stable = await startEchoBackend('stable');
  canary = await startEchoBackend('canary');
});

after(async () => {
  await stable?.stop();
  await canary?.stop();
});

describe('spine — separate processes over NATS JetStream and Redis', () => {
  let nats: TestServer;
  let redis: TestServer;
  const d: Deployment = { configDir: '', xdsPort: 0, statusPort: 0, processes: [] };
  let ingestAdmin = 0;
  let compileAdmin = 0;
  let fanoutAdmin = 0;
  let xdsPort = 0;

  before(async () => {
    [nats, redis] = await Promise.all([startNats(), startRedis()]);
    d.configDir = makeConfigDir();
    [ingestAdmin, compileAdmin, fanoutAdmin, xdsPort] = await Promise.all([
      freePort(),
      freePort(),
      freePort(),
      freePort(),
    ]);
    d.xdsPort = xdsPort;
    d.statusPort = compileAdmin;
    const ingest = startAttache(
      ingestFsArgs({
        dir: d.configDir,
        cluster: 'e2e',
        natsUrl: nats.url,
        adminPort: ingestAdmin,
        extra: ['--poll-interval-ms', '500'],
      }),
    );
    const compile = startAttache(
      compileArgs({ natsUrl: nats.url, redisUrl: redis.url, adminPort: compileAdmin }),
    );
    const fanout = startAttache(fanoutArgs({ redisUrl: redis.url, xdsPort, adminPort: fanoutAdmin }));
    d.processes.push(ingest, compile, fanout);
    await Promise.all([
      ingest.waitReady(ingestAdmin),
      compile.waitReady(compileAdmin),
      fanout.waitReady(fanoutAdmin),
    ]);
  });

  after(async () => {
    await Promise.all(d.processes.map((p) => p.stop()));
    await Promise.all([nats?.dispose(), redis?.dispose()]);
    fs.rmSync(d.configDir, { recursive: true, force: true });
  });

  canaryScenario(() => d);

  test('admin — every tier answers /healthz and exports its Prometheus metrics', async () => {
    const expectations: [number, RegExp][] = [
      [ingestAdmin, /attache_ingestor_events_published_total\{[^}]*op="upsert"[^}]*\} [1-9]/],
      [compileAdmin, /attache_compiler_compiles_total\{[^}]*outcome="committed"[^}]*\} [1-9]/],
      [fanoutAdmin, /attache_fanout_responses_total\{[^}]*\} [1-9]/],
    ];
    for (const [port, metric] of expectations) {
      const health = await fetch(`http://127.0.0.1:${port}/healthz`);
      assert.equal(health.status, 200);
      const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      assert.match(metrics, metric);
      assert.match(metrics, /process_resident_memory_bytes/);
    }
  });
});

describe('spine — attache dev in embedded mode', () => {
  const d: Deployment = { configDir: '', xdsPort: 0, statusPort: 0, processes: [] };

  before(async () => {
    d.configDir = makeConfigDir();
    const [adminPort, xdsPort] = await Promise.all([freePort(), freePort()]);
    d.xdsPort = xdsPort;
    d.statusPort = adminPort;
    const dev = startAttache([
      'dev',
      '--config',
      d.configDir,
      '--xds-port',
      String(xdsPort),
      '--admin-port',
      String(adminPort),
    ]);
    d.processes.push(dev);
    await dev.waitReady(adminPort);
  });

  after(async () => {
    await Promise.all(d.processes.map((p) => p.stop()));
    fs.rmSync(d.configDir, { recursive: true, force: true });
  });

  canaryScenario(() => d);
});
