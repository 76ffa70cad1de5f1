/**
 * Ingestor HA against a REAL kube-apiserver (../shared/envtest, test/harness/kube-apiserver.ts)
 * and a real nats-server: two `attache ingest kubernetes --leader-elect` processes for one cluster
 * (the shipped ServiceAccount's token, a 3 s Lease renewed every 500 ms), the compiler + Redis +
 * ADS server in-process, a real @grpc/grpc-js-xds client sending RPCs back to back throughout.
 *
 * Cases:
 * - quiet takeover: the leader killed (-9) while nothing changes; the follower takes over within
 *   the lease timing, publishes no object event (only its `resync` marker) and sends no LIST;
 * - the leader killed (-9) while Mappings are created, updated and deleted: every change is in
 *   effect once (the log's final state per object is the API server's, no resourceVersion
 *   published twice), the 60 objects that never changed are not republished, the takeover
 *   publishes only objects changed around the kill;
 * - the leader paused (SIGSTOP past the lease) while changes flow, then resumed: the follower
 *   takes over; the resumed one publishes nothing more and follows.
 *
 * Skipped, with the reason, when envtest or etcd is missing.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import type { LoggedEvent } from '../../shared/events/event-log.ts';
import { KeyRing, parseKeyList } from '../../shared/runtime/secret-keys.ts';
import { type AttacheProcess, startAttache } from '../harness/attache-process.ts';
import { eventually } from '../harness/eventually.ts';
import { type EchoBackend, startEchoBackend } from '../harness/grpc-echo.ts';
import { hasKubectl, type KubeRef, kubeApiServerMissing, RealKube } from '../harness/kube-apiserver.ts';
import { metricSum } from '../harness/metrics.ts';
import { freePort } from '../harness/ports.ts';
import { type RpcLoop, rpcLoop } from '../harness/rpc-loop.ts';
import { startNats, startRedis, type TestServer } from '../harness/servers.ts';
import { createXdsEchoClient, FAILED, type XdsEchoClient } from '../harness/xds-client.ts';
import { mapping, service, slice } from './kube-kind-cases.ts';
import { type KubePipeline, readEvents, startKubePipeline, waitCommitted } from './kube-pipeline.ts';

// kubectl applies the CRDs: client-node's typed serialiser drops `x-kubernetes-preserve-unknown-fields`
// from a CRD written through KubernetesObjectApi, and the API server then prunes every Mapping spec.
const missing =
  kubeApiServerMissing() ??
  (hasKubectl() ? undefined : 'kubectl is not installed (it applies k8s/ with the CRDs)');
const SECRET_KEYS = `k1:${randomBytes(32).toString('base64')}`;
const KEYS = new KeyRing(parseKeyList(SECRET_KEYS, 'SECRET_KEYS'));
const CLUSTER = 'ha';
const NS = 'ha';
const HOST = 'ha.kube.test';
const LEASE_SEC = 3;
const LEASE_RETRY_MS = 500;
const STATIC_MAPPINGS = 60;
const K8S = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../k8s');

interface Replica {
  identity: string;
  admin: number;
  proc: AttacheProcess;
}

/** The manifests of `kubectl apply -k k8s/`: CRDs, namespace, RBAC, ServiceAccounts. */
function manifestObjects(): KubeRef[] {
  const kustomization = parseAllDocuments(
    fs.readFileSync(path.join(K8S, 'kustomization.yaml'), 'utf8'),
  )[0]?.toJS() as { resources: string[] };
  return kustomization.resources.flatMap((file) =>
    parseAllDocuments(fs.readFileSync(path.join(K8S, file), 'utf8'))
      .map((d) => d.toJS() as KubeRef | null)
      .filter((o): o is KubeRef => o !== null),
  );
}

describe('ingestor HA — two leader-elected Kubernetes ingestors on a real kube-apiserver', {
  skip: missing ?? false,
}, () => {
  let nats: TestServer;
  let redis: TestServer;
  let kube: RealKube;
  let pipeline: KubePipeline;
  let backend: EchoBackend;
  let saKubeconfig: string;
  let client: XdsEchoClient;
  let rpcs: RpcLoop;
  const replicas: Replica[] = [];
  const report: string[] = [];

  const startReplica = async (identity: string, admin: number): Promise<Replica> => {
    const proc = startAttache(
      [
        'ingest',
        'kubernetes',
        '--cluster',
        CLUSTER,
        '--kubeconfig',
        saKubeconfig,
        '--nats',
        nats.url,
        '--leader-elect',
        '--identity',
        identity,
        '--lease-duration-sec',
        String(LEASE_SEC),
        '--lease-retry-ms',
        String(LEASE_RETRY_MS),
        '--admin-host',
        '127.0.0.1',
        '--admin-port',
        String(admin),
      ],
      { ATTACHE_LOG_LEVEL: 'info', ATTACHE_SECRET_KEYS: SECRET_KEYS },
    );
    await proc.waitReady(admin, 60_000);
    return { identity, admin, proc };
  };

  const restart = async (r: Replica): Promise<void> => {
    if (!r.proc.exited) await r.proc.stop('SIGKILL');
    r.proc = (await startReplica(r.identity, r.admin)).proc;
  };

  /** The one replica publishing; waits until exactly one running replica says it leads. */
  const leader = (): Promise<Replica> =>
    eventually(
      async () => {
        const running = replicas.filter((r) => !r.proc.exited);
        const flags = await Promise.all(running.map((r) => metricSum(r.admin, 'attache_ingestor_leader')));
        const leaders = running.filter((_, i) => flags[i] === 1);
        assert.equal(leaders.length, 1, `one leader among ${running.length}`);
        return leaders[0] as Replica;
      },
      { timeoutMs: 30_000, intervalMs: 100 },
    );

  /** Mappings of the namespace as the API server holds them: name → resourceVersion. */
  const kubeMappings = async (): Promise<Map<string, string>> =>
    new Map(
      (await kube.list('getambassador.io/v3alpha1', 'Mapping', NS)).map((o) => [
        o.metadata?.name ?? '',
        o.metadata?.resourceVersion ?? '',
      ]),
    );

  /** The log's newest state per Mapping of the namespace: name → resourceVersion (upsert) or null. */
  const loggedMappings = (events: readonly LoggedEvent[]): Map<string, string | null> => {
    const out = new Map<string, string | null>();
    for (const { event } of events)
      if (event.cluster === CLUSTER && event.kind === 'Mapping' && event.namespace === NS)
        out.set(event.name, event.op === 'upsert' ? event.resourceVersion : null);
    return out;
  };

  /** Waits until the log holds exactly the API server's Mappings and the head includes them. */
  const converged = async (): Promise<LoggedEvent[]> => {
    const events = await eventually(
      async () => {
        const want = await kubeMappings();
        const all = await readEvents(pipeline.events, 1);
        const logged = loggedMappings(all);
        const live = new Map([...logged].filter(([, rv]) => rv !== null));
        assert.deepEqual(live, want, 'the log holds the API server state');
        return all;
      },
      { timeoutMs: 30_000, intervalMs: 200 },
    );
    await waitCommitted(pipeline.store, events.at(-1)?.seq ?? 0);
    return events;
  };

  /** Upserts whose (object, resourceVersion) was already published: duplicates. */
  const duplicates = (events: readonly LoggedEvent[]): string[] => {
    const seen = new Set<string>();
    const dups: string[] = [];
    for (const { event, seq } of events) {
      if (event.cluster !== CLUSTER || event.op === 'resync') continue;
      const k = `${event.kind} ${event.namespace}/${event.name} ${event.op} ${event.resourceVersion}`;
      if (seen.has(k)) dups.push(`${k} again at seq ${seq}`);
      seen.add(k);
    }
    return dups;
  };

  /** Creates, updates and deletes Mappings `flow-<i>` every `everyMs` until stopped; returns change times. */
  const changes = (everyMs: number) => {
    let running = true;
    const times: { at: number; name: string }[] = [];
    let i = 0;
    const done = (async () => {
      while (running) {
        i++;
        const name = `flow-${i % 40}`;
        const o = mapping(name, NS, {
          hostname: `${name}.kube.test`,
          prefix: `/v${i}/`,
          service: 'quote:80',
        });
        // Every fifth step deletes the Mapping instead (when it exists): deletes must land too.
        if (i % 5 === 0) await kube.delete(o);
        else await kube.apply(o);
        times.push({ at: Date.now(), name });
        await new Promise((r) => setTimeout(r, everyMs));
      }
    })();
    return {
      times,
      stop: async () => {
        running = false;
        await done;
      },
    };
  };

  const failedRpcs = (from: number) =>
    rpcs.samples.filter((s) => s.at >= from && s.backend === FAILED).map((s) => s.error ?? '');

  before(async () => {
    if (missing) return;
    [nats, redis, kube, backend] = await Promise.all([
      startNats(),
      startRedis(),
      RealKube.start(),
      startEchoBackend('stable'),
    ]);
    pipeline = await startKubePipeline({ natsUrl: nats.url, redisUrl: redis.url, secretKeys: KEYS });
    await kube.kubectl('apply', '-k', K8S);
    await eventually(
      async () => {
        for (const o of manifestObjects().filter((x) => x.kind === 'CustomResourceDefinition')) {
          const crd = (await kube.read(o)) as {
            status?: { conditions?: { type: string; status: string }[] };
          };
          assert.ok(crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True'));
        }
      },
      { timeoutMs: 30_000, intervalMs: 200 },
    );
    saKubeconfig = await kube.serviceAccountKubeconfig('attache', 'attache-ingestor');
    await kube.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } });
    await kube.apply(service('echo', NS));
    await kube.apply(slice('echo-1', 'echo', NS, { grpc: backend.port }));
    await kube.apply(mapping('echo', NS, { hostname: HOST, service: 'echo:50051' }));
    for (let i = 0; i < STATIC_MAPPINGS; i++)
      await kube.apply(
        mapping(`static-${i}`, NS, { hostname: `static-${i}.kube.test`, prefix: '/', service: 'quote:80' }),
      );
    const [a, b] = await Promise.all([freePort(), freePort()]);
    // One after the other, so the first is the leader from the start and the second follows.
    replicas.push(await startReplica('ingestor-a', a));
    replicas.push(await startReplica('ingestor-b', b));
    await converged();
    client = createXdsEchoClient({
      serverPort: pipeline.ads.port,
      nodeId: 'ha-client',
      target: `xds:///${HOST}`,
    });
    await eventually(() => client.echo('warm-up', 5000), { timeoutMs: 60_000 });
    rpcs = rpcLoop(client, 5000);
  });

  after(async () => {
    if (report.length > 0) console.log(`\ningestor HA:\n  ${report.join('\n  ')}\n`);
    await rpcs?.stop();
    client?.close();
    await Promise.all(replicas.map((r) => (r.proc.exited ? undefined : r.proc.stop('SIGTERM'))));
    await pipeline?.close();
    await kube?.close();
    await backend?.stop();
    await nats?.dispose();
    await redis?.dispose();
  });

  test('the second replica follows: informers listed, nothing published by it', async () => {
    const l = await leader();
    const follower = replicas.find((r) => r !== l) as Replica;
    const events = await readEvents(pipeline.events, 1);
    const byFollower = events.filter((e) => e.event.ingestor === `k8s/${CLUSTER}/${follower.identity}`);
    assert.deepEqual(
      byFollower.map((e) => `${e.event.op} ${e.event.kind} ${e.event.name}`),
      [],
      'the follower published nothing',
    );
    assert.match(follower.proc.output(), /following: informers listed and watching/);
    assert.deepEqual(duplicates(events), []);
  });

  test('quiet takeover: the leader killed (-9); the follower publishes no object event and sends no LIST', async (t) => {
    const l = await leader();
    const follower = replicas.find((r) => r !== l) as Replica;
    const fromSeq = (await pipeline.events.lastSeq()) + 1;
    const listsBefore = await kube.requestCount({ verb: 'LIST' });
    const rpcFrom = Date.now();
    const killedAt = Date.now();
    l.proc.signal('SIGKILL');
    await eventually(
      async () => assert.equal(await metricSum(follower.admin, 'attache_ingestor_kube_takeovers_total'), 1),
      {
        timeoutMs: 20_000,
        intervalMs: 50,
      },
    );
    const takeoverMs = Date.now() - killedAt;
    // A relist would follow the takeover at once; the test's own LISTs (converged()) come later.
    await new Promise((r) => setTimeout(r, 1000));
    const lists = (await kube.requestCount({ verb: 'LIST' })) - listsBefore;
    // The next change, published and committed by the new leader.
    const probe = await kube.apply(
      mapping('probe', NS, { hostname: 'probe.kube.test', prefix: '/', service: 'quote:80' }),
    );
    const events = await converged();
    const servedMs = Date.now() - killedAt;
    const after = events.filter((e) => e.seq >= fromSeq);
    const objectEvents = after.filter((e) => e.event.op !== 'resync' && e.event.name !== 'probe');
    const published = await metricSum(follower.admin, 'attache_ingestor_kube_takeover_published_total');
    report.push(
      `quiet kill -9: takeover ${(takeoverMs / 1000).toFixed(1)} s after the kill (lease ${LEASE_SEC} s, renewed every ${LEASE_RETRY_MS} ms), next change committed ${(servedMs / 1000).toFixed(1)} s after it; object events published at takeover ${objectEvents.length} (metric ${published}), resync markers ${after.filter((e) => e.event.op === 'resync').length}, LIST requests ${lists}, failed RPCs ${failedRpcs(rpcFrom).length}`,
    );
    t.diagnostic(report.at(-1) as string);
    assert.ok(probe.metadata.resourceVersion);
    assert.deepEqual(
      objectEvents.map((e) => `${e.event.op} ${e.event.kind} ${e.event.namespace}/${e.event.name}`),
      [],
      'nothing unchanged is republished',
    );
    assert.equal(published, 0);
    assert.equal(lists, 0, 'the takeover sent no LIST (informers were warm)');
    assert.ok(takeoverMs <= (LEASE_SEC + 3) * 1000, `takeover in ${takeoverMs} ms`);
    assert.deepEqual(failedRpcs(rpcFrom), []);
    assert.deepEqual(duplicates(events), []);
    await restart(l);
    assert.equal(await leader(), follower, 'the restarted replica follows');
  });

  test('the leader killed (-9) while Mappings change: every change in effect once, unchanged objects not republished, no failed RPC', async (t) => {
    const l = await leader();
    const follower = replicas.find((r) => r !== l) as Replica;
    const fromSeq = (await pipeline.events.lastSeq()) + 1;
    const rpcFrom = Date.now();
    const publishedBefore = await metricSum(follower.admin, 'attache_ingestor_kube_takeover_published_total');
    const takeovers = await metricSum(follower.admin, 'attache_ingestor_kube_takeovers_total');
    const flow = changes(150);
    let killedAt = 0;
    let takeoverAt = 0;
    try {
      await new Promise((r) => setTimeout(r, 2000));
      killedAt = Date.now();
      l.proc.signal('SIGKILL');
      await eventually(
        async () =>
          assert.equal(
            await metricSum(follower.admin, 'attache_ingestor_kube_takeovers_total'),
            takeovers + 1,
          ),
        { timeoutMs: 20_000, intervalMs: 50 },
      );
      takeoverAt = Date.now();
      await new Promise((r) => setTimeout(r, 2000));
    } finally {
      await flow.stop();
    }
    const events = await converged();
    const after = events.filter((e) => e.seq >= fromSeq);
    const published =
      (await metricSum(follower.admin, 'attache_ingestor_kube_takeover_published_total')) - publishedBefore;
    const changedAround = new Set(
      flow.times.filter((c) => c.at >= killedAt - 1000 && c.at <= takeoverAt).map((c) => c.name),
    );
    const republishedStatic = after.filter(
      (e) => e.event.name.startsWith('static-') || e.event.name === 'echo',
    );
    report.push(
      `kill -9 during changes (one every 150 ms, ${flow.times.length} in all): takeover ${((takeoverAt - killedAt) / 1000).toFixed(1)} s after the kill; objects published at takeover ${published} (objects changed between 1 s before the kill and the takeover: ${changedAround.size}); unchanged objects republished ${republishedStatic.length} of ${STATIC_MAPPINGS + 3}; duplicate events ${duplicates(events).length}; failed RPCs ${failedRpcs(rpcFrom).length} of ${rpcs.samples.filter((s) => s.at >= rpcFrom).length}`,
    );
    t.diagnostic(report.at(-1) as string);
    assert.deepEqual(
      republishedStatic.map((e) => e.event.name),
      [],
      'unchanged objects are not republished',
    );
    assert.ok(
      published <= changedAround.size,
      `${published} published at takeover, ${changedAround.size} changed`,
    );
    assert.deepEqual(duplicates(events), [], 'no change published twice');
    assert.deepEqual(failedRpcs(rpcFrom), []);
    await restart(l);
    assert.equal(await leader(), follower);
  });

  test('the leader paused (SIGSTOP past the lease) while Mappings change: the follower takes over; resumed, the old leader publishes nothing and follows', async (t) => {
    const l = await leader();
    const follower = replicas.find((r) => r !== l) as Replica;
    const rpcFrom = Date.now();
    const takeovers = await metricSum(follower.admin, 'attache_ingestor_kube_takeovers_total');
    const flow = changes(150);
    await new Promise((r) => setTimeout(r, 1500));
    const pausedAt = Date.now();
    l.proc.signal('SIGSTOP');
    let resumedAt = 0;
    try {
      await eventually(
        async () =>
          assert.equal(
            await metricSum(follower.admin, 'attache_ingestor_kube_takeovers_total'),
            takeovers + 1,
          ),
        { timeoutMs: 20_000, intervalMs: 50 },
      );
    } finally {
      await new Promise((r) => setTimeout(r, 1000));
      resumedAt = Date.now();
      l.proc.signal('SIGCONT');
    }
    const takeoverMs = resumedAt - 1000 - pausedAt;
    try {
      await new Promise((r) => setTimeout(r, 3000));
    } finally {
      await flow.stop();
    }
    const events = await converged();
    assert.equal(await leader(), follower, 'the resumed replica follows');
    const staleFromOld = events.filter(
      (e) =>
        e.event.ingestor === `k8s/${CLUSTER}/${l.identity}` && Date.parse(e.event.observedAt) >= resumedAt,
    );
    report.push(
      `SIGSTOP during changes: takeover ${(takeoverMs / 1000).toFixed(1)} s after the pause; events published by the resumed old leader ${staleFromOld.length}; duplicate events ${duplicates(events).length}; failed RPCs ${failedRpcs(rpcFrom).length}`,
    );
    t.diagnostic(report.at(-1) as string);
    assert.deepEqual(
      staleFromOld.map((e) => `${e.event.op} ${e.event.name} ${e.event.resourceVersion}`),
      [],
    );
    assert.deepEqual(duplicates(events), []);
    assert.deepEqual(failedRpcs(rpcFrom), []);
    assert.match(l.proc.output(), /lost the Lease: stopped publishing/);
  });
});
