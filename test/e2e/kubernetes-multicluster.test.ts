/**
 * Two Kubernetes clusters, end to end: two fake API servers (`east`, `west`; the one stand-in —
 * no kube-apiserver can run here) each watched by a real KubernetesIngestor publishing into a
 * real nats-server -js; the compiler (local cluster east, prefer-local), Redis, the ADS server,
 * two gRPC echo backends and a real @grpc/grpc-js-xds client.
 *
 * - Traffic goes to east; east's endpoints removed in its API server → traffic on west with no
 *   failed RPC (the backend stays up, so none may fail); restored → back on east.
 * - East's Mapping gets status Running written exactly once, and that write produces no event.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Kvm } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Registry } from 'prom-client';
import { KubernetesIngestor } from '../../services/ingestor/kubernetes/kubernetes-ingestor.ts';
import { StatusWriter } from '../../services/ingestor/kubernetes/status-writer.ts';
import { STATUS_BUCKET } from '../../shared/events/status-keys.ts';
import { createLogger } from '../../shared/runtime/logger.ts';
import { type FakeKube, startFakeKube } from '../fake-kube/fake-kube.ts';
import { eventually } from '../harness/eventually.ts';
import { type EchoBackend, startEchoBackend } from '../harness/grpc-echo.ts';
import { startNats, startRedis, type TestServer } from '../harness/servers.ts';
import { createXdsEchoClient, FAILED, type XdsEchoClient } from '../harness/xds-client.ts';
import {
  ECHO_HOST,
  echoMapping,
  echoService,
  echoSlice,
  type MulticlusterPipeline,
  startMulticlusterPipeline,
} from './multicluster-pipeline.ts';

const log = createLogger('e2e-k8s', process.env.ATTACHE_LOG_LEVEL ?? 'warn');
const MAPPING = { apiVersion: 'getambassador.io/v3alpha1', kind: 'Mapping' };

describe('kubernetes multi-cluster', () => {
  let nats: TestServer;
  let redis: TestServer;
  let eastKube: FakeKube;
  let westKube: FakeKube;
  let east: EchoBackend;
  let west: EchoBackend;
  let pipeline: MulticlusterPipeline;
  let ingestors: KubernetesIngestor[];
  let nc: NatsConnection;
  let writer: StatusWriter;
  let client: XdsEchoClient;

  before(async () => {
    nats = await startNats();
    redis = await startRedis();
    east = await startEchoBackend('east');
    west = await startEchoBackend('west');
    eastKube = await startFakeKube();
    westKube = await startFakeKube();
    for (const o of [echoMapping(), echoService(), echoSlice('east', east.port)]) eastKube.apply(o);
    for (const o of [echoService(), echoSlice('west', west.port)]) westKube.apply(o);
    pipeline = await startMulticlusterPipeline({
      natsUrl: nats.url,
      redisUrl: redis.url,
      policy: { localClusters: ['east'], remoteEndpoints: 'prefer-local' },
    });
    ingestors = [
      ['east', eastKube],
      ['west', westKube],
    ].map(
      ([cluster, kube]) =>
        new KubernetesIngestor({
          cluster: cluster as string,
          kubeConfig: (kube as FakeKube).kubeconfig(),
          events: pipeline.events,
          log,
          registry: new Registry(),
        }),
    );
    for (const i of ingestors) await i.start();
    nc = await connect({ servers: nats.url });
    writer = new StatusWriter({
      cluster: 'east',
      kubeConfig: eastKube.kubeconfig(),
      kv: await new Kvm(nc).create(STATUS_BUCKET, { history: 1 }),
      log,
      registry: new Registry(),
    });
    await writer.start();
    client = createXdsEchoClient({
      serverPort: pipeline.ads.port,
      nodeId: 'k8s-mc',
      target: `xds:///${ECHO_HOST}`,
    });
  });

  after(async () => {
    client?.close();
    await writer?.close();
    for (const i of ingestors ?? []) await i.close();
    await nc?.close();
    await pipeline?.close();
    await eastKube?.close();
    await westKube?.close();
    await east?.stop();
    await west?.stop();
    await nats?.dispose();
    await redis?.dispose();
  });

  test('kubernetes multi-cluster — traffic goes to the local cluster', async () => {
    await eventually(() => client.echo('warm-up', 5000), { timeoutMs: 30_000 });
    await eventually(async () => assert.deepEqual([...(await client.countBackends(20))], [['east', 20]]));
  });

  test('kubernetes multi-cluster — Mapping status is written once and the write publishes no event', async () => {
    await eventually(() =>
      assert.deepEqual(eastKube.get(MAPPING, 'apps', 'echo')?.status, { state: 'Running' }),
    );
    const seq = await pipeline.events.lastSeq();
    await new Promise((r) => setTimeout(r, 1500));
    await writer.idle();
    assert.equal(await pipeline.events.lastSeq(), seq, 'a status write is not an event');
    const writes = eastKube.statusWrites().filter((w) => w.kind === 'Mapping');
    assert.deepEqual(
      writes.map((w) => [w.name, w.code, w.changed]),
      [['echo', 200, true]],
    );
  });

  test('kubernetes multi-cluster — removing east endpoints moves traffic to west and back', async (t) => {
    const samples: { at: number; backend: string }[] = [];
    let running = true;
    const loop = (async () => {
      while (running) {
        const backend = await client.echo('ping', 1000).then(
          (r) => r.backend,
          () => FAILED,
        );
        samples.push({ at: Date.now(), backend });
      }
    })();
    const removedAt = Date.now();
    eastKube.apply(echoSlice('east', undefined));
    await eventually(() =>
      assert.ok(samples.filter((s) => s.at > removedAt && s.backend === 'west').length >= 30),
    );
    const toWest = samples.find((s) => s.at > removedAt && s.backend === 'west')!.at - removedAt;
    const restoredAt = Date.now();
    eastKube.apply(echoSlice('east', east.port));
    await eventually(() =>
      assert.ok(samples.filter((s) => s.at > restoredAt && s.backend === 'east').length >= 30),
    );
    const toEast = samples.find((s) => s.at > restoredAt && s.backend === 'east')!.at - restoredAt;
    running = false;
    await loop;
    t.diagnostic(`east endpoints removed → west after ${toWest} ms; restored → east after ${toEast} ms`);
    assert.equal(samples.filter((s) => s.backend === FAILED).length, 0);
  });
});
