/**
 * Kubernetes ingestion, end to end on real parts but a fake API server (test/fake-kube: it can
 * drop every watch at a chosen instant and forget history on demand, which the real API server
 * suite, kubernetes-real.test.ts, cannot; that suite runs the same kinds table), the KubernetesIngestor, a real
 * `nats-server -js`, the compiler runner, a real `redis-server` snapshot store, the fan-out's ADS
 * server, two gRPC echo backends (`stable`, `canary`) and real @grpc/grpc-js-xds clients.
 *
 * 1. Every kind the ingestor watches: create, update and delete in the API server reach the
 *    fan-out. Mapping, Service and EndpointSlice are observed through a gRPC client's routing;
 *    the other kinds through the snapshot committed in Redis (head manifest, decoded).
 * 2. An `attache ingest kubernetes` process killed with SIGKILL, a canary Mapping deleted while it
 *    is down, the process restarted: the stale route goes and traffic returns to stable.
 * 3. Watches ended while objects change and the history compacted (410 Gone): the relist
 *    publishes exactly one event per real change.
 * 4. NATS killed for 10 s while objects change: afterwards the client converges to the final
 *    state and the log holds the final state of every object (coalescing rule in the test).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { KubernetesIngestor } from '../../services/ingestor/kubernetes/kubernetes-ingestor.ts';
import { testIngestor, V3 } from '../../services/ingestor/kubernetes/testing.ts';
import { LISTENER_TYPE } from '../../shared/xds/type-urls.ts';
import { type FakeKube, startFakeKube } from '../fake-kube/fake-kube.ts';
import { type AttacheProcess, startAttache } from '../harness/attache-process.ts';
import { eventually } from '../harness/eventually.ts';
import { type EchoBackend, startEchoBackend } from '../harness/grpc-echo.ts';
import { freePort } from '../harness/ports.ts';
import { startNats, startRedis, type TestServer } from '../harness/servers.ts';
import { createXdsEchoClient, type XdsEchoClient } from '../harness/xds-client.ts';
import { waitAllOn } from './canary-scenario.ts';
import {
  ALL_CANARY,
  ALL_STABLE,
  BASELINE,
  type KubeObject,
  kindCases,
  mapping,
  type Probes,
  service,
  slice,
} from './kube-kind-cases.ts';
import {
  byObject,
  changeAndWait,
  type ExpectedChange,
  eventKind,
  type KubeChange,
  type KubePipeline,
  type KubeWriter,
  keyOf,
  objectKeyOf,
  readEvents,
  readHeadSnapshot,
  startKubePipeline,
  waitCommitted,
  waitLogged,
} from './kube-pipeline.ts';

/** Source cluster of the in-process ingestor (testIngestor's default). */
const CLUSTER = 'kube';

// Started at load so the kinds table can carry their ports; stopped in `after`.
const stable: EchoBackend = await startEchoBackend('stable');
const canary: EchoBackend = await startEchoBackend('canary');
const KIND_CASES = kindCases({ stable: stable.port, canary: canary.port });

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---- the tests -------------------------------------------------------------------------------

describe('kubernetes ingest end to end', () => {
  let nats: TestServer;
  let redis: TestServer;
  let kube: FakeKube;
  let pipeline: KubePipeline;
  let ingestor: KubernetesIngestor;
  const clients = new Map<string, XdsEchoClient>();

  /** One client per authority, created on first use (each is its own process and ADS stream). */
  const clientFor = (host: string) => {
    let c = clients.get(host);
    if (!c) {
      c = createXdsEchoClient({
        serverPort: pipeline.ads.port,
        nodeId: `kube-${host}`,
        target: `xds:///${host}`,
      });
      clients.set(host, c);
    }
    return c;
  };

  const probes: Probes = {
    snapshot: () => readHeadSnapshot(pipeline.store),
    async traffic(host) {
      const counts = await clientFor(host).countBackends(10, 5000); // 1 s deadlines expire on a loaded 2-core machine
      return [...counts.entries()]
        .sort()
        .map(([backend, n]) => `${backend}×${n}`)
        .join(' ');
    },
  };

  /** Applies an object in the API server; returns the upsert the ingestor must publish for it. */
  function applied(o: KubeObject): ExpectedChange {
    const { namespace = '', name, resourceVersion } = kube.apply(o).metadata;
    return {
      cluster: CLUSTER,
      kind: eventKind(o),
      namespace,
      name,
      op: 'upsert',
      resourceVersion: String(resourceVersion),
    };
  }

  const writer: KubeWriter = {
    apply: async (o) => applied(o).resourceVersion ?? '',
    remove: async (o) => kube.delete(o, o.metadata.namespace, o.metadata.name),
  };
  const change = (step: KubeChange) => changeAndWait(pipeline, writer, CLUSTER, step);

  /**
   * `kind namespace/name@resourceVersion` of every live object in a namespace (Mappings, Services,
   * EndpointSlices): per the API server, and per the newest event of each object in the log.
   */
  async function liveStates(namespace: string): Promise<{ api: string[]; log: string[] }> {
    const types = [
      { apiVersion: V3, kind: 'Mapping' },
      { apiVersion: 'v1', kind: 'Service' },
      { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice' },
    ];
    const api = types
      .flatMap((t) => kube.list(t, namespace))
      .map((o) => `${o.kind} ${namespace}/${o.metadata.name}@${o.metadata.resourceVersion}`);
    const log = [...byObject(await readEvents(pipeline.events, 1), CLUSTER).values()]
      .map((evs) => evs[evs.length - 1]?.event)
      .filter((e) => e?.namespace === namespace && e.op === 'upsert')
      .map((e) => `${e?.kind} ${namespace}/${e?.name}@${e?.resourceVersion}`);
    return { api: api.sort(), log: log.sort() };
  }

  before(async () => {
    nats = await startNats();
    redis = await startRedis();
    kube = await startFakeKube();
    pipeline = await startKubePipeline({ natsUrl: nats.url, redisUrl: redis.url });
    ingestor = testIngestor(kube, pipeline.events, { cluster: CLUSTER });
    await ingestor.start();
    await change({ apply: BASELINE });
  });

  after(async () => {
    for (const c of clients.values()) c.close();
    await ingestor?.close();
    await pipeline?.close();
    await kube?.close();
    await stable.stop();
    await canary.stop();
    await nats?.dispose();
    await redis?.dispose();
  });

  for (const c of KIND_CASES) {
    test(`kubernetes ingest — ${c.kind}: create, update and delete reach the fan-out (${c.via})`, async (t) => {
      if (c.with) await change({ apply: c.with });
      const timings: string[] = [];
      for (const step of c.steps) {
        const started = Date.now();
        const fromSeq = await change(step);
        await eventually(
          async () => assert.equal(await c.probe(probes), step.expect, `${c.kind} after ${step.change}`),
          {
            timeoutMs: 20_000,
            intervalMs: 100,
          },
        );
        timings.push(`${step.change} ${Date.now() - started} ms`);
        if (step.applyUnpublished) {
          const published = byObject(await readEvents(pipeline.events, fromSeq), CLUSTER);
          for (const o of step.applyUnpublished)
            assert.equal(published.get(objectKeyOf(o)), undefined, `${objectKeyOf(o)} is not published`);
        }
      }
      if (c.with) await change({ remove: c.with });
      const note = c.via === 'gRPC client' ? ' (the first step includes starting the client process)' : '';
      t.diagnostic(`${c.kind} converged: ${timings.join(', ')}${note}`);
    });
  }

  test('kubernetes ingest — watches ended by 410 Gone while objects change relist with one event per change', async (t) => {
    const NS = 'relist';
    const ROUNDS = 5;
    const relistMapping = (name: string, v: string) =>
      mapping(name, NS, { hostname: 'relist.kube.test', prefix: `/${name}/${v}/`, service: 'quote' });
    const relistSlice = (i: number, ip: string): KubeObject => ({
      ...slice(`sl-${i}`, 'relist-svc', NS, { http: 8080 }),
      endpoints: [{ addresses: [ip], conditions: { ready: true } }],
    });
    const initial: KubeObject[] = [];
    for (let i = 0; i < ROUNDS; i++)
      initial.push(
        relistMapping(`keep-${i}`, 'v0'),
        relistMapping(`upd-${i}`, 'v0'),
        relistMapping(`del-${i}`, 'v0'),
        relistSlice(i, `10.1.0.${i}`),
      );
    await change({ apply: initial });

    const fromSeq = (await pipeline.events.lastSeq()) + 1;
    const mappingLists = () =>
      kube.requests().filter((r) => r.verb === 'list' && r.resource === 'mappings.getambassador.io').length;
    const listsBefore = mappingLists();
    const started = Date.now();
    const expected: ExpectedChange[] = [];
    const upsert = (o: KubeObject) => expected.push(applied(o));
    // Each round ends every watch, changes objects nobody is watching, and forgets the history,
    // so each resumed watch gets 410 and relists. Every object changes at most once in all.
    for (let i = 0; i < ROUNDS; i++) {
      kube.dropWatches();
      upsert(relistMapping(`new-${i}`, 'v0'));
      upsert(relistMapping(`upd-${i}`, 'v1'));
      assert.ok(kube.delete({ apiVersion: V3, kind: 'Mapping' }, NS, `del-${i}`));
      expected.push({ cluster: CLUSTER, kind: 'Mapping', namespace: NS, name: `del-${i}`, op: 'delete' });
      upsert(relistSlice(i, `10.2.0.${i}`));
      kube.compact();
      await sleep(100);
    }
    await waitLogged(pipeline.events, fromSeq, expected);
    const convergedMs = Date.now() - started;
    await ingestor.flush();
    await sleep(1_500); // a late duplicate would be published by now (bookmarks run every second)

    const logged = await readEvents(pipeline.events, fromSeq);
    const perObject = byObject(logged, CLUSTER);
    const relists = mappingLists() - listsBefore;
    const markers = logged.filter((e) => e.event.op === 'resync').length;
    t.diagnostic(
      `410: ${relists} relists of Mappings, ${expected.length} changes → ${[...perObject.values()].flat().length} events ` +
        `and ${markers} resync markers; all logged ${convergedMs} ms after the first change`,
    );
    assert.ok(relists >= 1, 'the watches relisted');
    assert.ok(markers >= 1, 'a relist ends with a resync marker');
    assert.deepEqual(
      [...perObject.entries()].map(([k, evs]) => [k, evs.length]).sort(),
      expected.map((c) => [keyOf(c.kind, c.namespace, c.name), 1]).sort(),
      'exactly one event per changed object, none for the others',
    );
    for (const c of expected) {
      const [e] = perObject.get(keyOf(c.kind, c.namespace, c.name)) ?? [];
      assert.equal(e?.event.op, c.op);
      if (c.op === 'upsert')
        assert.equal(e?.event.resourceVersion, c.resourceVersion, `${c.name} is the final state`);
    }
    const { api, log } = await liveStates(NS);
    assert.equal(api.length, 4 * ROUNDS, 'keep, upd, new Mappings and slices');
    assert.deepEqual(log, api, 'the final state of every object in the log is the API server state');
  });

  test('kubernetes ingest — a canary Mapping deleted while the ingestor process was killed is gone after it restarts', async (t) => {
    const NS = 'restart';
    const HOST = 'canary.kube.test';
    const kube2 = await startFakeKube();
    const adminPort = await freePort();
    const args = [
      'ingest',
      'kubernetes',
      '--cluster',
      'restart',
      '--kubeconfig',
      kube2.kubeconfigFile(),
      '--nats',
      nats.url,
      '--admin-host',
      '127.0.0.1',
      '--admin-port',
      String(adminPort),
      '--no-write-status',
    ];
    const env = { ATTACHE_LOG_LEVEL: 'warn' };
    let proc: AttacheProcess | undefined;
    const client = createXdsEchoClient({
      serverPort: pipeline.ads.port,
      nodeId: 'kube-restart',
      target: `xds:///${HOST}`,
    });
    try {
      const canaryMapping = mapping('echo-canary', NS, {
        hostname: HOST,
        service: 'echo-canary:50051',
        weight: 100,
      });
      const leftover = mapping('leftover', NS, {
        hostname: 'leftover.kube.test',
        service: 'echo-stable:50051',
      });
      for (const o of [
        service('echo-stable', NS),
        slice('echo-stable-1', 'echo-stable', NS, { grpc: stable.port }),
        service('echo-canary', NS),
        slice('echo-canary-1', 'echo-canary', NS, { grpc: canary.port }),
        mapping('echo', NS, { hostname: HOST, service: 'echo-stable:50051' }),
        canaryMapping,
        leftover,
      ])
        kube2.apply(o);

      let started = Date.now();
      proc = startAttache(args, env);
      await proc.waitReady(adminPort);
      const firstReadyMs = Date.now() - started;
      await waitAllOn(client, 'canary');
      const onCanaryMs = Date.now() - started;

      const killedSeq = await pipeline.events.lastSeq();
      await proc.stop('SIGKILL');
      assert.ok(kube2.delete(canaryMapping, NS, 'echo-canary'));
      assert.ok(kube2.delete(leftover, NS, 'leftover'));
      await sleep(500);
      assert.deepEqual(
        (await readEvents(pipeline.events, killedSeq + 1)).filter((e) => e.event.cluster === 'restart'),
        [],
        'nothing is published while the ingestor is down',
      );
      assert.equal(await probes.traffic(HOST), ALL_CANARY, 'the last published state keeps serving');

      started = Date.now();
      proc = startAttache(args, env);
      await proc.waitReady(adminPort);
      const restartReadyMs = Date.now() - started;
      await waitAllOn(client, 'stable');
      const onStableMs = Date.now() - started;
      t.diagnostic(
        `ingestor process: ready ${firstReadyMs} ms, traffic on canary ${onCanaryMs} ms; after SIGKILL and restart: ` +
          `ready ${restartReadyMs} ms, traffic back on stable ${onStableMs} ms`,
      );

      const afterRestart = (await readEvents(pipeline.events, killedSeq + 1))
        .filter((e) => e.event.cluster === 'restart')
        .map(({ event: e }) => (e.op === 'resync' ? 'resync' : `${e.op} ${e.kind} ${e.namespace}/${e.name}`));
      assert.deepEqual(
        afterRestart.sort(),
        ['delete Mapping restart/echo-canary', 'delete Mapping restart/leftover', 'resync'],
        'the restart publishes the two tombstones and its marker, nothing for unchanged objects',
      );
      const seq = await pipeline.events.lastSeq();
      await waitCommitted(pipeline.store, seq);
      const snap = await readHeadSnapshot(pipeline.store);
      assert.equal(snap.of(LISTENER_TYPE).has('leftover.kube.test'), false, 'no stale listener for leftover');
      assert.equal(await probes.traffic(HOST), ALL_STABLE);
    } finally {
      client.close();
      if (proc && !proc.exited) await proc.stop('SIGTERM');
      await kube2.close();
    }
  });

  test('kubernetes ingest — NATS down for 10 s while objects change: the client converges and the log holds every final state', async (t) => {
    const NS = 'outage';
    const HOST = 'outage.kube.test';
    const route = (spec: Record<string, unknown>) =>
      mapping('route', NS, { hostname: HOST, service: 'out-stable:50051', ...spec });
    const stableService = (note: string) => ({
      ...service('out-stable', NS),
      metadata: { name: 'out-stable', namespace: NS, annotations: { note } },
    });
    await change({
      apply: [
        stableService('v0'),
        slice('out-stable-1', 'out-stable', NS, { grpc: stable.port }),
        service('out-canary', NS),
        slice('out-canary-1', 'out-canary', NS, { grpc: canary.port }),
        route({}),
        mapping('doomed', NS, { hostname: 'doomed.kube.test', service: 'out-stable:50051' }),
      ],
    });
    const client = createXdsEchoClient({
      serverPort: pipeline.ads.port,
      nodeId: 'kube-outage',
      target: `xds:///${HOST}`,
    });
    try {
      await waitAllOn(client, 'stable');
      const outageSeq = await pipeline.events.lastSeq();

      /** Every change made while NATS is down, per object, in order: `upsert@rv` or `delete`. */
      const observed = new Map<string, string[]>();
      const record = (o: KubeObject, what: string) =>
        observed.set(objectKeyOf(o), [...(observed.get(objectKeyOf(o)) ?? []), what]);
      const upsert = (o: KubeObject) => record(o, `upsert@${applied(o).resourceVersion}`);
      const remove = (o: KubeObject) => {
        assert.ok(kube.delete(o, NS, o.metadata.name));
        record(o, 'delete');
      };

      await nats.stop();
      const downAt = Date.now();
      const at = async (ms: number, fn: () => void) => {
        await sleep(Math.max(0, downAt + ms - Date.now()));
        fn();
      };
      await at(500, () => upsert(route({ service: 'out-canary:50051' })));
      await at(2_000, () => upsert(route({ service: 'out-canary:50051', timeout_ms: 4000 })));
      await at(3_000, () =>
        upsert(mapping('added', NS, { hostname: 'added.kube.test', service: 'out-canary:50051' })),
      );
      await at(4_000, () => upsert(route({ service: 'out-canary:50051', timeout_ms: 3000 })));
      await at(5_000, () => remove(mapping('doomed', NS, {})));
      await at(6_000, () => upsert(slice('out-canary-1', 'out-canary', NS, { grpc: canary.port }, 'zone-b')));
      await at(7_000, () => upsert(stableService('v1')));
      await at(8_000, () => upsert(stableService('v2')));
      await at(9_500, () => {});
      assert.equal(
        await probes.traffic(HOST),
        ALL_STABLE,
        'while NATS is down the last snapshot keeps serving',
      );
      await at(10_000, () => {});

      await nats.start();
      const upAt = Date.now();
      const finals: ExpectedChange[] = [...observed].map(([key, changes]) => {
        const [kind, nsName] = key.split(' ') as [string, string];
        const name = nsName.slice(nsName.indexOf('/') + 1);
        const last = changes.at(-1) ?? '';
        return last === 'delete'
          ? { cluster: CLUSTER, kind, namespace: NS, name, op: 'delete' }
          : {
              cluster: CLUSTER,
              kind,
              namespace: NS,
              name,
              op: 'upsert',
              resourceVersion: last.slice('upsert@'.length),
            };
      });
      await eventually(() => assert.equal(ingestor.buffered, 0), { timeoutMs: 30_000, intervalMs: 20 });
      const drainedMs = Date.now() - upAt;
      await waitLogged(pipeline.events, outageSeq + 1, finals, 30_000);
      const loggedMs = Date.now() - upAt;
      // Measured 4.6–12.8 s after NATS returned: publishes in flight across the outage wait out
      // their 5 s timeout, and the compiler's consumer may only be rebuilt after missed heartbeats.
      await waitAllOn(client, 'canary', 45_000);
      const convergedMs = Date.now() - upAt;
      await ingestor.flush();

      // The coalescing rule (publish-queue.ts): per object, one publish in flight and at most one
      // pending state, which each newer observation replaces. While NATS is down the first change
      // of an object is the publish in flight (retried with the same message id), later ones
      // overwrite the pending state: an object changed once has that one event, an object changed
      // n ≥ 2 times has exactly two — its first and its final state; the ones between are coalesced.
      const perObject = byObject(await readEvents(pipeline.events, outageSeq + 1), CLUSTER);
      const logged = new Map(
        [...perObject].map(([k, evs]) => [
          k,
          evs.map(({ event: e }) => (e.op === 'delete' ? 'delete' : `upsert@${e.resourceVersion}`)),
        ]),
      );
      const rule = new Map(
        [...observed].map(([k, changes]) => [
          k,
          changes.length === 1 ? changes : [changes[0], changes.at(-1)],
        ]),
      );
      const changes = [...observed.values()].flat().length;
      const events = [...logged.values()].flat().length;
      t.diagnostic(
        `NATS outage: ${changes} changes to ${observed.size} objects while down → ${events} events ` +
          `(${changes - events} coalesced); after NATS returned: ingestor drained ${drainedMs} ms, ` +
          `all final states read back ${loggedMs} ms, client on canary ` +
          `${convergedMs} ms`,
      );
      assert.deepEqual([...logged].sort(), [...rule].sort(), 'events per object follow the coalescing rule');
      const { api, log } = await liveStates(NS);
      assert.deepEqual(log, api, 'the final state of every object in the log is the API server state');
    } finally {
      client.close();
    }
  });
});
