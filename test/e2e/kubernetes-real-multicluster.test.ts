/**
 * Two clusters on two REAL kube-apiservers (../shared/envtest, each with its own etcd), each
 * watched by its own `attache ingest kubernetes` process publishing into one real
 * `nats-server -js`; the compiler with east local and remote endpoints `prefer-local`, Redis, the
 * ADS server, one gRPC echo backend per cluster and a real @grpc/grpc-js-xds client.
 *
 * - Traffic goes to east (priority 0) while east has endpoints; east's Mapping status is written
 *   back to east's API server.
 * - East's EndpointSlice deleted with kubectl: west's endpoints (priority 1) take over with no
 *   failed RPC (the backend stays up); created again: traffic returns to east.
 * - East's backend dies and its endpoint goes away (as the endpoint controller would remove it):
 *   the client fails over to west within a bounded window, every RPC after it succeeds.
 *
 * Skipped, with the reason, when envtest, etcd or kubectl is missing (test/harness/kube-apiserver.ts). The
 * fake-API-server variant (kubernetes-multicluster.test.ts) stays for the status-write counting
 * the fake records per request.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type AttacheProcess, startAttache } from '../harness/attache-process.ts';
import { eventually } from '../harness/eventually.ts';
import { startEchoBackend } from '../harness/grpc-echo.ts';
import { hasKubectl, type KubeRef, kubeApiServerMissing, RealKube } from '../harness/kube-apiserver.ts';
import { freePort } from '../harness/ports.ts';
import { rpcLoop } from '../harness/rpc-loop.ts';
import { FAILED, type XdsEchoClient } from '../harness/xds-client.ts';
import { type EastWest, echoClient, startEastWest, untilAllOnEast } from './east-west.ts';
import { echoMapping, echoService, echoSlice } from './multicluster-pipeline.ts';

const missing =
  kubeApiServerMissing() ??
  (hasKubectl()
    ? undefined
    : 'kubectl is not installed (this suite installs the CRDs and changes EndpointSlices with it)');
const CRDS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../k8s/crds.yaml');
/** RPCs may fail only this long after east's backend dies (as multicluster-failover.test.ts). */
const FAILOVER_WINDOW_MS = 2000;

describe('two real kube-apiservers as two clusters', { skip: missing ?? false }, () => {
  let rig: EastWest;
  let eastPort: number;
  const kubes = new Map<string, RealKube>();
  const ingestors = new Map<string, AttacheProcess>();
  let client: XdsEchoClient;

  const kube = (cluster: string) => kubes.get(cluster) as RealKube;

  before(async () => {
    if (missing) return;
    const [r, east, west] = await Promise.all([startEastWest(), RealKube.start(), RealKube.start()]);
    rig = r;
    eastPort = rig.east.port;
    kubes.set('east', east).set('west', west);
    for (const [cluster, k] of kubes) {
      await k.kubectl('apply', '-f', CRDS);
      await k.kubectl('wait', '--for=condition=established', '--timeout=60s', 'crd', '--all');
      for (const ns of ['apps', 'attache'])
        await k.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
      const objects = [echoService(), echoSlice(cluster, rig[cluster as 'east' | 'west'].port)];
      if (cluster === 'east') objects.push(echoMapping());
      for (const o of objects) await k.apply(o as KubeRef);
    }
    for (const [cluster, k] of kubes) {
      const adminPort = await freePort();
      const proc = startAttache([
        'ingest',
        'kubernetes',
        '--cluster',
        cluster,
        '--kubeconfig',
        k.kubeconfigFile,
        '--nats',
        rig.nats.url,
        '--admin-host',
        '127.0.0.1',
        '--admin-port',
        String(adminPort),
      ]);
      ingestors.set(cluster, proc);
      await proc.waitReady(adminPort, 60_000);
    }
    client = echoClient(rig, 'real-mc');
  });

  after(async () => {
    client?.close();
    for (const p of ingestors.values()) if (!p.exited) await p.stop('SIGTERM');
    await Promise.all([...kubes.values()].map((k) => k.close()));
    await rig?.close();
  });

  test('two real API servers — traffic goes to the local cluster (east) and east’s Mapping status is written to east’s API server', async () => {
    await untilAllOnEast(client);
    assert.deepEqual([...(await client.countBackends(100))], [['east', 100]]);
    await eventually(
      async () => {
        const m = (await kube('east').read(echoMapping() as KubeRef)) as { status?: { state?: string } };
        assert.equal(m?.status?.state, 'Running');
      },
      { timeoutMs: 30_000, intervalMs: 200 },
    );
  });

  test('two real API servers — east’s EndpointSlice deleted with kubectl: west’s endpoints take over with no failed RPC; created again: back to east', async (t) => {
    const loop = rpcLoop(client, 5000);
    const { samples } = loop;
    try {
      const removedAt = Date.now();
      await kube('east').kubectl('delete', 'endpointslice', 'echo-east', '-n', 'apps');
      await eventually(
        () => assert.ok(samples.filter((s) => s.at > removedAt && s.backend === 'west').length >= 30),
        { timeoutMs: 30_000 },
      );
      const toWest = (samples.find((s) => s.at > removedAt && s.backend === 'west')?.at ?? 0) - removedAt;
      const restoredAt = Date.now();
      const file = path.join(kube('east').dir, 'echo-east.json');
      fs.writeFileSync(file, JSON.stringify(echoSlice('east', eastPort)));
      await kube('east').kubectl('create', '-f', file);
      await eventually(
        () => assert.ok(samples.filter((s) => s.at > restoredAt && s.backend === 'east').length >= 30),
        { timeoutMs: 30_000 },
      );
      const toEast = (samples.find((s) => s.at > restoredAt && s.backend === 'east')?.at ?? 0) - restoredAt;
      t.diagnostic(`east's slice deleted → west after ${toWest} ms; created again → east after ${toEast} ms`);
    } finally {
      await loop.stop();
    }
    assert.deepEqual(
      samples.filter((s) => s.backend === FAILED).map((s) => s.error),
      [],
    );
  });

  test('two real API servers — east’s backend dies and its endpoint goes away: the client fails over to west within the window', async (t) => {
    await untilAllOnEast(client);
    const loop = rpcLoop(client);
    await new Promise((r) => setTimeout(r, 300));
    const killedAt = Date.now();
    await rig.east.stop();
    await new Promise((r) => setTimeout(r, 200)); // the endpoint controller's reaction
    await kube('east').apply(echoSlice('east', undefined) as KubeRef);
    await eventually(
      () => assert.ok(loop.samples.filter((s) => s.at > killedAt && s.backend === 'west').length >= 50),
      { timeoutMs: 30_000 },
    );
    await new Promise((r) => setTimeout(r, Math.max(0, killedAt + FAILOVER_WINDOW_MS + 500 - Date.now())));
    await loop.stop();
    const afterKill = loop.samples.filter((s) => s.at > killedAt);
    const failures = afterKill.filter((s) => s.backend === FAILED);
    const windowMs = failures.length ? (failures.at(-1)?.at ?? killedAt) - killedAt : 0;
    t.diagnostic(
      `failover: ${failures.length} failed of ${afterKill.length} RPCs after east died; last failure at +${windowMs} ms`,
    );
    assert.ok(windowMs <= FAILOVER_WINDOW_MS, `RPCs failed for ${windowMs} ms (> ${FAILOVER_WINDOW_MS} ms)`);
    const settled = afterKill.filter((s) => s.at > killedAt + FAILOVER_WINDOW_MS);
    assert.ok(
      settled.length > 0 && settled.every((s) => s.backend === 'west'),
      'after the window: all on west',
    );
    // East returns: its endpoint is back in its API server, traffic returns with no failed RPC.
    rig.east = await startEchoBackend('east', eastPort);
    const back = rpcLoop(client);
    const returnedAt = Date.now();
    await kube('east').apply(echoSlice('east', eastPort) as KubeRef);
    await eventually(
      () => assert.ok(back.samples.filter((s) => s.at > returnedAt && s.backend === 'east').length >= 30),
      { timeoutMs: 30_000 },
    );
    await back.stop();
    assert.deepEqual(
      back.samples.filter((s) => s.backend === FAILED).map((s) => s.error),
      [],
    );
  });
});
