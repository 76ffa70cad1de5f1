/**
 * Two Kubernetes clusters, end to end: two fake API servers (`east`, `west`; cheap to start —
 * a real kube-apiserver pair takes 10–40 s here) each watched by a real KubernetesIngestor publishing into a
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
import { rpcLoop } from '../harness/rpc-loop.ts';
import { FAILED, type XdsEchoClient } from '../harness/xds-client.ts';
import { type EastWest, echoClient, startEastWest, untilAllOnEast } from './east-west.ts';
import { echoMapping, echoService, echoSlice } from './multicluster-pipeline.ts';

const log = createLogger('e2e-k8s', process.env.ATTACHE_LOG_LEVEL ?? 'warn');
const MAPPING = { apiVersion: 'getambassador.io/v3alpha1', kind: 'Mapping' };

describe('kubernetes multi-cluster', () => {
  let rig: EastWest;
  let eastKube: FakeKube;
  let westKube: FakeKube;
  let ingestors: KubernetesIngestor[];
  let nc: NatsConnection;
  let writer: StatusWriter;
  let client: XdsEchoClient;

  before(async () => {
    rig = await startEastWest();
    eastKube = await startFakeKube();
    westKube = await startFakeKube();
    for (const o of [echoMapping(), echoService(), echoSlice('east', rig.east.port)]) eastKube.apply(o);
    for (const o of [echoService(), echoSlice('west', rig.west.port)]) westKube.apply(o);
    ingestors = [
      ['east', eastKube],
      ['west', westKube],
    ].map(
      ([cluster, kube]) =>
        new KubernetesIngestor({
          cluster: cluster as string,
          kubeConfig: (kube as FakeKube).kubeconfig(),
          events: rig.pipeline.events,
          log,
          registry: new Registry(),
        }),
    );
    for (const i of ingestors) await i.start();
    nc = await connect({ servers: rig.nats.url });
    writer = new StatusWriter({
      cluster: 'east',
      kubeConfig: eastKube.kubeconfig(),
      kv: await new Kvm(nc).create(STATUS_BUCKET, { history: 1 }),
      log,
      registry: new Registry(),
    });
    await writer.start();
    client = echoClient(rig, 'k8s-mc');
  });

  after(async () => {
    client?.close();
    await writer?.close();
    for (const i of ingestors ?? []) await i.close();
    await nc?.close();
    await eastKube?.close();
    await westKube?.close();
    await rig?.close();
  });

  test('kubernetes multi-cluster — traffic goes to the local cluster', async () => {
    await untilAllOnEast(client);
  });

  test('kubernetes multi-cluster — Mapping status is written once and the write publishes no event', async () => {
    await eventually(() =>
      assert.deepEqual(eastKube.get(MAPPING, 'apps', 'echo')?.status, { state: 'Running' }),
    );
    const seq = await rig.pipeline.events.lastSeq();
    await new Promise((r) => setTimeout(r, 1500));
    await writer.idle();
    assert.equal(await rig.pipeline.events.lastSeq(), seq, 'a status write is not an event');
    const writes = eastKube.statusWrites().filter((w) => w.kind === 'Mapping');
    assert.deepEqual(
      writes.map((w) => [w.name, w.code, w.changed]),
      [['echo', 200, true]],
    );
  });

  test('kubernetes multi-cluster — removing east endpoints moves traffic to west and back', async (t) => {
    const loop = rpcLoop(client);
    const { samples } = loop;
    const removedAt = Date.now();
    eastKube.apply(echoSlice('east', undefined));
    await eventually(() =>
      assert.ok(samples.filter((s) => s.at > removedAt && s.backend === 'west').length >= 30),
    );
    const toWest = samples.find((s) => s.at > removedAt && s.backend === 'west')!.at - removedAt;
    const restoredAt = Date.now();
    eastKube.apply(echoSlice('east', rig.east.port));
    await eventually(() =>
      assert.ok(samples.filter((s) => s.at > restoredAt && s.backend === 'east').length >= 30),
    );
    const toEast = samples.find((s) => s.at > restoredAt && s.backend === 'east')!.at - restoredAt;
    await loop.stop();
    t.diagnostic(`east endpoints removed → west after ${toWest} ms; restored → east after ${toEast} ms`);
    assert.equal(samples.filter((s) => s.backend === FAILED).length, 0);
  });
});
