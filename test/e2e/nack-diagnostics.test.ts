/**
 * A NACK from a real client, through the real tiers: `attache ingest fs`, `attache compile` and
 * `attache fanout --nats` as separate processes over nats-server and redis-server, a gRPC echo
 * backend and a real @grpc/grpc-js-xds client on xds:///<host>.
 *
 * The change: a Mapping gains `load_balancer: { policy: least_request }`. The compiler accepts it
 * (valid Envoy; it warns that gRPC clients reject it) and grpc-js-xds NACKs the Cluster
 * (`unsupported lb_policy: LEAST_REQUEST`, grpc-js-xds.md §5). Then:
 * - `attache status --nats` prints the standing NACK with the client's error and the Mapping
 *   behind the rejected cluster (source cluster, resourceVersion, file#document);
 * - the compiler's diagnostics page (which hears the fleet on NATS) shows it, clicked in headless
 *   Chromium from the NACK to that Mapping's page;
 * - reverting the Mapping makes the client ACK and the standing NACK disappear from both.
 * The same scenario then runs on `attache dev` (embedded log, store and fan-out in one process),
 * where `attache status --admin` reads the embedded fan-out and the page is dev's own.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { GroupConvergence } from '../../services/fanout/fleet/convergence.ts';
import { type AttacheProcess, startAttache } from '../harness/attache-process.ts';
import { CHROMIUM_MISSING, launchChromium } from '../harness/chromium.ts';
import { eventually } from '../harness/eventually.ts';
import { type EchoBackend, startEchoBackend } from '../harness/grpc-echo.ts';
import { endpointSliceYaml, serviceYaml } from '../harness/kube-yaml.ts';
import { freePort } from '../harness/ports.ts';
import { startNats, startRedis, type TestServer } from '../harness/servers.ts';
import { compileArgs, fanoutArgs, ingestFsArgs } from '../harness/tier-args.ts';
import { writeAtomic } from '../harness/write-atomic.ts';
import { createXdsEchoClient, type XdsEchoClient } from '../harness/xds-client.ts';

const HOST = 'echo.nack.test';

function mappingYaml(loadBalancer: boolean): string {
  return `apiVersion: getambassador.io/v3alpha1
kind: Mapping
metadata: { name: echo, namespace: default }
spec:
  hostname: ${HOST}
  prefix: /
  service: echo:50051
${loadBalancer ? '  load_balancer: { policy: least_request }\n' : ''}`;
}

/** Where the scenario runs: the client's ADS port, the page's admin port, how status reads. */
interface Deployment {
  dir: string;
  xdsPort: number;
  pageAdmin: number;
  statusSource: string[];
}

async function status(d: Deployment, json: boolean): Promise<string> {
  const p = startAttache(['status', ...d.statusSource, '--group', 'default', ...(json ? ['--json'] : [])]);
  assert.equal(await p.wait(30_000), 0, p.output());
  return p.output();
}

function writeBackend(dir: string, backend: EchoBackend): void {
  writeAtomic(
    path.join(dir, 'backend.yaml'),
    `${serviceYaml('echo', { name: 'grpc', port: 50051 })}---\n${endpointSliceYaml({
      service: 'echo',
      name: 'echo-abc12',
      port: { name: 'grpc', port: backend.port },
      addresses: ['127.0.0.1'],
      zone: 'zone-a',
    })}`,
  );
  writeAtomic(path.join(dir, 'echo.yaml'), mappingYaml(false));
}

let backend: EchoBackend;
before(async () => {
  backend = await startEchoBackend('echo');
});
after(async () => {
  await backend?.stop();
});

describe('NACK diagnostics — a real grpc-js-xds client through the real tiers', () => {
  let nats: TestServer;
  let redis: TestServer;
  const processes: AttacheProcess[] = [];
  const d: Deployment = { dir: '', xdsPort: 0, pageAdmin: 0, statusSource: [] };

  before(async () => {
    [nats, redis] = await Promise.all([startNats(), startRedis()]);
    d.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'attache-nack-'));
    writeBackend(d.dir, backend);
    const [ingestAdmin, compileAdmin, fanoutAdmin, xdsPort] = await Promise.all([
      freePort(),
      freePort(),
      freePort(),
      freePort(),
    ]);
    Object.assign(d, { xdsPort, pageAdmin: compileAdmin, statusSource: ['--nats', nats.url] });
    processes.push(
      startAttache(
        ingestFsArgs({
          dir: d.dir,
          cluster: 'site',
          natsUrl: nats.url,
          adminPort: ingestAdmin,
          extra: ['--poll-interval-ms', '300'],
        }),
      ),
      startAttache(compileArgs({ natsUrl: nats.url, redisUrl: redis.url, adminPort: compileAdmin })),
      startAttache([
        ...fanoutArgs({ redisUrl: redis.url, xdsPort, adminPort: fanoutAdmin }),
        '--nats',
        nats.url,
      ]),
    );
    await Promise.all(processes.map((p, i) => p.waitReady([ingestAdmin, compileAdmin, fanoutAdmin][i] ?? 0)));
  });

  after(async () => {
    await Promise.all(processes.map((p) => p.stop()));
    await Promise.all([nats?.dispose(), redis?.dispose()]);
    fs.rmSync(d.dir, { recursive: true, force: true });
  });

  nackScenario("status over NATS, the compiler's page", d);
});

describe('NACK diagnostics — the same on attache dev', () => {
  const processes: AttacheProcess[] = [];
  const d: Deployment = { dir: '', xdsPort: 0, pageAdmin: 0, statusSource: [] };

  before(async () => {
    d.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'attache-nack-dev-'));
    writeBackend(d.dir, backend);
    const [adminPort, xdsPort] = await Promise.all([freePort(), freePort()]);
    Object.assign(d, {
      xdsPort,
      pageAdmin: adminPort,
      statusSource: ['--admin', `http://127.0.0.1:${adminPort}`],
    });
    const dev = startAttache([
      'dev',
      '--config',
      d.dir,
      '--cluster',
      'site',
      '--xds-port',
      String(xdsPort),
      '--admin-port',
      String(adminPort),
    ]);
    processes.push(dev);
    await dev.waitReady(adminPort);
  });

  after(async () => {
    await Promise.all(processes.map((p) => p.stop()));
    fs.rmSync(d.dir, { recursive: true, force: true });
  });

  nackScenario("status --admin, dev's page", d);
});

function nackScenario(how: string, d: Deployment): void {
  let client: XdsEchoClient | undefined;
  after(() => client?.close());

  test(`NACK diagnostics — ${how}: the error and the objects behind the rejected cluster`, {
    timeout: 240_000,
  }, async (t) => {
    const dir = d.dir;
    client = createXdsEchoClient({ serverPort: d.xdsPort, nodeId: 'grpc-nack-1', target: `xds:///${HOST}` });
    const c = client;
    await eventually(() => c.echo('warm-up', 5000), { timeoutMs: 60_000 });

    // The change grpc-js-xds rejects; the compiler commits it (with a warning naming the Mapping).
    writeAtomic(path.join(dir, 'echo.yaml'), mappingYaml(true));
    const standing = await eventually(
      async () => {
        const [g] = (JSON.parse(await status(d, true)) as { fleet: GroupConvergence[] }).fleet;
        const n = g?.nacks.find((x) => x.node === 'grpc-nack-1' && x.type === 'CDS');
        assert.ok(n, `no standing CDS NACK yet: ${JSON.stringify(g)}`);
        assert.ok(n.sources && n.sources.length > 0, 'the NACK names its source objects');
        return n;
      },
      { timeoutMs: 60_000, intervalMs: 500 },
    );
    assert.match(standing.errorDetail.message, /LEAST_REQUEST/);
    const rejected = standing.sources?.find((s) => /least_request/.test(s.resource));
    assert.ok(rejected, `the rejected cluster is among the sources: ${JSON.stringify(standing.sources)}`);
    assert.deepEqual(
      rejected.objects.map((o) => [o.cluster, o.kind, o.namespace, o.name, o.file]),
      [
        ['site', 'EndpointSlice', 'default', 'echo-abc12', 'backend.yaml'],
        ['site', 'Mapping', 'default', 'echo', 'echo.yaml'],
        ['site', 'Service', 'default', 'echo', 'backend.yaml'],
      ],
      'the Mapping that asked for least_request, and the Service and endpoints behind the cluster',
    );
    assert.ok(
      rejected.objects.find((o) => o.kind === 'Mapping')?.resourceVersion,
      'with its resourceVersion',
    );
    const text = await status(d, false);
    t.diagnostic(
      text
        .trim()
        .split('\n')
        .filter((l) => /NACK|←/.test(l))
        .join('\n'),
    );
    assert.match(text, /NACK CDS from node grpc-nack-1 \(fan-out [^)]+\).*LEAST_REQUEST/);
    assert.match(
      text,
      /cluster_echo_50051_default\S*least_request ← .*Mapping default\/echo \(cluster site, resourceVersion \S+, echo\.yaml#0\)/,
    );

    // The compiler's diagnostics page hears the fleet on NATS and shows the same NACK.
    const page = `http://127.0.0.1:${d.pageAdmin}/ui/group?g=default`;
    await eventually(
      async () => {
        const html = await (await fetch(page)).text();
        assert.match(
          html,
          /class="standing-nacks"[\s\S]*grpc-nack-1[\s\S]*LEAST_REQUEST[\s\S]*Mapping default\/echo/,
        );
      },
      { timeoutMs: 20_000, intervalMs: 500 },
    );
    if (CHROMIUM_MISSING) t.diagnostic(`page not clicked: ${CHROMIUM_MISSING}`);
    else {
      const browser = await launchChromium();
      try {
        const tab = await browser.newPage();
        await tab.goto(page);
        const nack = tab.locator('ul.standing-nacks > li.nack', { hasText: 'grpc-nack-1' });
        // The README's picture of the fleet section: ATTACHE_NACK_SCREENSHOT=path.
        if (process.env.ATTACHE_NACK_SCREENSHOT) {
          await tab.screenshot({ path: process.env.ATTACHE_NACK_SCREENSHOT, fullPage: true });
        }
        assert.match((await nack.locator('.nack-error').textContent()) ?? '', /LEAST_REQUEST/);
        // NACK → the Mapping behind the rejected cluster, whose page lists what it produces.
        await nack.locator('a.object', { hasText: 'Mapping default/echo' }).first().click();
        await tab.waitForURL(/\/ui\/object\?/);
        assert.match((await tab.locator('h1').textContent()) ?? '', /site\/Mapping\/default\/echo/);
        assert.match(
          (await tab.locator('body').textContent()) ?? '',
          /CDS cluster_echo_50051_default\S*least_request/,
        );
      } finally {
        await browser.close();
      }
    }

    // Revert: the client ACKs the new clusters, its NACK no longer stands, and RPCs flow.
    writeAtomic(path.join(dir, 'echo.yaml'), mappingYaml(false));
    await eventually(
      async () => {
        const [g] = (JSON.parse(await status(d, true)) as { fleet: GroupConvergence[] }).fleet;
        assert.deepEqual(g?.nacks ?? [], [], 'no NACK stands after the revert');
        assert.ok((g?.types.CDS?.nacksTotal ?? 0) >= 1, 'the NACK is still counted');
      },
      { timeoutMs: 60_000, intervalMs: 500 },
    );
    await eventually(() => c.echo('after revert', 5000), { timeoutMs: 30_000 });
    await eventually(
      async () => {
        const html = await (await fetch(page)).text();
        assert.match(html, /class="standing-nacks">\s*<li>none<\/li>/);
        assert.match(
          html,
          /class="nack-events"[\s\S]*grpc-nack-1[\s\S]*LEAST_REQUEST/,
          'the event stays in the history',
        );
      },
      { timeoutMs: 20_000, intervalMs: 500 },
    );
  });
}
