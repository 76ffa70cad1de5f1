/**
 * Kubernetes ingestion end to end against a REAL kube-apiserver (../shared/envtest: 1.20.2 with
 * etcd; test/harness/kube-apiserver.ts), as a user runs it: `kubectl apply -k k8s/`, then
 * `attache ingest kubernetes` as a process with the shipped ServiceAccount's token (TokenRequest),
 * the compiler + Redis + ADS server in-process, real @grpc/grpc-js-xds clients. One API server is
 * shared by every case (start-up is 5–20 s here). Skipped, with the reason, when envtest or etcd
 * is missing.
 *
 * Cases: the manifests are accepted server-side (every CRD established and structural, every
 * object stored); every kind's create/update/delete reaches the fan-out (the kinds table of
 * kube-kind-cases.ts); status write-back (Mapping, AmbassadorMapping, Host) without loops; kill -9
 * of the ingestor with deletes while it was down; the API server restarted (etcd history compacted
 * in between, so resumed watches get a real 410) under the running ingestor; a cold start of a
 * second cluster with Hosts, TLS Secrets and Mappings (the compiler's sync barrier: no snapshot
 * with part of them, no transient `error` status); and zero RBAC denials in normal running for
 * the least-privilege ServiceAccount.
 *
 * The fake API server (test/fake-kube) stays for what the real one cannot be made to show on
 * demand: dropping every watch at a chosen instant while history is forgotten (the 410 relist
 * counting test), per-kind 403/404 injection, and slow or stalled responses.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Kvm } from '@nats-io/kv';
import { connect } from '@nats-io/transport-node';
import { Registry } from 'prom-client';
import { parseAllDocuments } from 'yaml';
import { StatusPublisher } from '../../services/compiler/status-publisher.ts';
import { clusterStatusFilter, decodeStatus, STATUS_BUCKET } from '../../shared/events/status-keys.ts';
import { createLogger } from '../../shared/runtime/logger.ts';
import { KeyRing, parseKeyList } from '../../shared/runtime/secret-keys.ts';
import { ROUTE_TYPE, SECRET_TYPE } from '../../shared/xds/type-urls.ts';
import { type AttacheProcess, startAttache } from '../harness/attache-process.ts';
import { eventually } from '../harness/eventually.ts';
import { type EchoBackend, startEchoBackend } from '../harness/grpc-echo.ts';
import { hasKubectl, type KubeRef, kubeApiServerMissing, RealKube } from '../harness/kube-apiserver.ts';
import { freePort } from '../harness/ports.ts';
import { rpcLoop } from '../harness/rpc-loop.ts';
import { startNats, startRedis, type TestServer } from '../harness/servers.ts';
import { createXdsEchoClient, FAILED, type XdsEchoClient } from '../harness/xds-client.ts';
import { fourSigma, waitAllOn } from './canary-scenario.ts';
import {
  BASELINE,
  type KubeObject,
  kindCases,
  mapping,
  type Probes,
  service,
  slice,
  tlsSecret,
} from './kube-kind-cases.ts';
import {
  byObject,
  changeAndWait,
  type KubeChange,
  type KubePipeline,
  type KubeWriter,
  readEvents,
  readHeadSnapshot,
  readSnapshot,
  startKubePipeline,
  waitCommitted,
  waitLogged,
} from './kube-pipeline.ts';

const missing = kubeApiServerMissing();
/** The ingestor process seals Secret material with it; the in-process compiler opens it. */
const SECRET_KEYS = `k1:${randomBytes(32).toString('base64')}`;
const KEYS = new KeyRing(parseKeyList(SECRET_KEYS, 'SECRET_KEYS'));
const CLUSTER = 'real';
const K8S = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../k8s');
const log = createLogger('e2e-real-kube', process.env.ATTACHE_LOG_LEVEL ?? 'warn');

/** The manifests `kubectl apply -k k8s/` applies, as objects (kustomization resources in order). */
function manifestObjects(): KubeRef[] {
  const kustomization = parseAllDocuments(
    fs.readFileSync(path.join(K8S, 'kustomization.yaml'), 'utf8'),
  )[0]?.toJS() as {
    resources: string[];
  };
  return kustomization.resources.flatMap((file) =>
    parseAllDocuments(fs.readFileSync(path.join(K8S, file), 'utf8'))
      .map((d) => d.toJS() as KubeRef | null)
      .filter((o): o is KubeRef => o !== null),
  );
}

describe('kubernetes ingest against a real kube-apiserver', { skip: missing ?? false }, () => {
  let nats: TestServer;
  let redis: TestServer;
  let kube: RealKube;
  let pipeline: KubePipeline;
  let status: StatusPublisher;
  let stable: EchoBackend;
  let canary: EchoBackend;
  let ingestor: AttacheProcess | undefined;
  let saKubeconfig: string;
  let adminPort: number;
  const clients = new Map<string, XdsEchoClient>();

  const writer: KubeWriter = {
    apply: async (o) => (await kube.apply(o)).metadata.resourceVersion,
    remove: (o) => kube.delete(o),
  };
  const change = (step: KubeChange) => changeAndWait(pipeline, writer, CLUSTER, step);

  const clientFor = (host: string) => {
    let c = clients.get(host);
    if (!c) {
      c = createXdsEchoClient({
        serverPort: pipeline.ads.port,
        nodeId: `real-${host}`,
        target: `xds:///${host}`,
      });
      clients.set(host, c);
    }
    return c;
  };
  const probes: Probes = {
    snapshot: () => readHeadSnapshot(pipeline.store, 'default', KEYS),
    async traffic(host) {
      // A 5 s deadline per RPC: on this shared 2-core machine a 1 s one sometimes expires under load.
      const counts = await clientFor(host).countBackends(10, 5000);
      return [...counts.entries()]
        .sort()
        .map(([backend, n]) => `${backend}×${n}`)
        .join(' ');
    },
  };

  /** `attache ingest kubernetes` with the ServiceAccount's token, status write-back on. */
  async function startIngestor(): Promise<AttacheProcess> {
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
        '--admin-host',
        '127.0.0.1',
        '--admin-port',
        String(adminPort),
      ],
      { ATTACHE_LOG_LEVEL: 'info', ATTACHE_SECRET_KEYS: SECRET_KEYS },
    );
    await proc.waitReady(adminPort, 60_000);
    return proc;
  }

  /** A sample of the ingestor's /metrics (sum over samples matching the labels). */
  async function ingestorMetric(name: string, labels: Record<string, string>): Promise<number> {
    const text = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
    let sum = 0;
    for (const line of text.split('\n')) {
      if (!line.startsWith(`${name}{`)) continue;
      if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`)))
        sum += Number(line.slice(line.lastIndexOf('}') + 1));
    }
    return sum;
  }

  before(async () => {
    if (missing) return;
    [nats, redis, kube, stable, canary] = await Promise.all([
      startNats(),
      startRedis(),
      RealKube.start({ audit: true }),
      startEchoBackend('stable'),
      startEchoBackend('canary'),
    ]);
    status = new StatusPublisher({ url: nats.url, log, registry: new Registry(), groups: ['default'] });
    await status.start();
    pipeline = await startKubePipeline({
      natsUrl: nats.url,
      redisUrl: redis.url,
      onCommit: status.onCommit,
      secretKeys: KEYS,
    });
    adminPort = await freePort();
  });

  after(async () => {
    for (const c of clients.values()) c.close();
    if (ingestor && !ingestor.exited) await ingestor.stop('SIGTERM');
    await pipeline?.close();
    await status?.close();
    await kube?.close();
    await stable?.stop();
    await canary?.stop();
    await nats?.dispose();
    await redis?.dispose();
  });

  test('real API server — `kubectl apply -k k8s/` is accepted: CRDs established and structural, every object stored', async (t) => {
    const objects = manifestObjects();
    if (hasKubectl()) {
      await kube.kubectl('apply', '-k', K8S);
    } else {
      t.diagnostic('kubectl is not installed: the same objects are created through the API instead');
      for (const o of objects) {
        await kube.apply(o);
        if (o.kind === 'CustomResourceDefinition') await waitEstablished(o.metadata.name);
      }
    }
    const crds = objects.filter((o) => o.kind === 'CustomResourceDefinition');
    assert.ok(crds.length >= 14, `${crds.length} CRDs`);
    for (const crd of crds) await waitEstablished(crd.metadata.name);
    for (const o of objects)
      assert.ok(await kube.read(o), `${o.kind} ${o.metadata.namespace ?? ''}/${o.metadata.name} is stored`);
    t.diagnostic(`${objects.length} objects (${crds.length} CRDs) accepted`);
  });

  /** Established and NamesAccepted, and no NonStructuralSchema condition. */
  async function waitEstablished(name: string): Promise<void> {
    await eventually(
      async () => {
        const crd = (await kube.read({
          apiVersion: 'apiextensions.k8s.io/v1',
          kind: 'CustomResourceDefinition',
          metadata: { name },
        })) as { status?: { conditions?: { type: string; status: string; message?: string }[] } } | undefined;
        const conditions = new Map((crd?.status?.conditions ?? []).map((c) => [c.type, c]));
        assert.equal(conditions.get('NonStructuralSchema'), undefined, `${name} is structural`);
        assert.equal(conditions.get('Established')?.status, 'True', `${name} is established`);
        assert.equal(conditions.get('NamesAccepted')?.status, 'True', `${name} names are accepted`);
      },
      { timeoutMs: 30_000, intervalMs: 200 },
    );
  }

  test('real API server — cold start of ingestor and compiler with the shipped ServiceAccount token on a cluster with Hosts, TLS Secrets and Mappings: no committed snapshot holds part of them, no status ever reads error', async (t) => {
    saKubeconfig = await kube.serviceAccountKubeconfig('attache', 'attache-ingestor');
    // Ingress status reads the Attaché Service in the attache namespace; give it one.
    await kube.apply({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: {
        name: 'attache-envoy',
        namespace: 'attache',
        labels: { 'app.kubernetes.io/component': 'ambassador-service' },
      },
      spec: { ports: [{ name: 'http', port: 8080, protocol: 'TCP' }] },
    });
    // The cluster as the ingestor first finds it. Secrets are published only once a Host refers
    // to them, so they reach the log after the Hosts: a commit in between would serve Hosts
    // without TLS and write an `error` status (the compiler's sync barrier prevents that).
    const NS = 'cold';
    const N = 6;
    const coldObjects: KubeObject[] = [];
    await kube.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } });
    for (let i = 0; i < N; i++) {
      coldObjects.push(
        tlsSecret(`cert-${i}`, 'example', NS),
        {
          apiVersion: 'getambassador.io/v3alpha1',
          kind: 'Host',
          metadata: { name: `h${i}`, namespace: NS },
          spec: { hostname: `h${i}.cold.test`, tlsSecret: { name: `cert-${i}` } },
        },
        mapping(`m${i}`, NS, { hostname: `h${i}.cold.test`, prefix: '/', service: 'quote.default:80' }),
      );
    }
    for (const o of [...BASELINE, ...coldObjects]) await kube.apply(o);
    // Every status the compiler publishes for the cluster, as it happens.
    const nc = await connect({ servers: nats.url });
    const kv = await new Kvm(nc).create(STATUS_BUCKET, { history: 1 });
    const seen: string[] = [];
    const watch = await kv.watch({ key: clusterStatusFilter(CLUSTER) });
    void (async () => {
      for await (const e of watch) {
        const st = e.operation === 'PUT' ? decodeStatus(e.string()) : undefined;
        if (st) seen.push(`${e.key} ${st.state} ${st.reason}`);
      }
    })();
    try {
      ingestor = await startIngestor();
      const marker = (await readEvents(pipeline.events, 1)).find((e) => e.event.op === 'resync');
      assert.ok(marker, 'the ingestor published its resync marker');
      await waitCommitted(pipeline.store, marker.seq);
      const accepted = (kind: string) =>
        seen.filter((x) => x.includes(`.${kind}.${NS}.`) && x.includes(' accepted')).length;
      await eventually(
        () => {
          assert.equal(accepted('Host'), N, seen.join('\n'));
          assert.equal(accepted('Mapping'), N, seen.join('\n'));
        },
        { timeoutMs: 30_000 },
      );
      // Every snapshot committed: none of the cold Hosts and Secrets, or all of them.
      const versions = await pipeline.store.versions('default');
      const partial: string[] = [];
      for (const v of versions) {
        const snap = await readSnapshot(pipeline.store, 'default', v, KEYS);
        const secrets = [...snap.of(SECRET_TYPE).keys()].filter((n) => n.startsWith(`tls/${NS}/`)).length;
        const hosts = new Set(
          [...snap.of(ROUTE_TYPE).values()]
            .flatMap((rc) => (rc.virtual_hosts as { domains?: string[] }[] | undefined) ?? [])
            .flatMap((vh) => vh.domains ?? [])
            .filter((d) => d.includes('.cold.test'))
            .map((d) => d.split(':')[0]),
        ).size;
        if (!((secrets === 0 && hosts === 0) || (secrets === N && hosts === N)))
          partial.push(`v${v}: ${secrets} of ${N} TLS Secrets, ${hosts} of ${N} Hosts`);
      }
      t.diagnostic(`cold start: ${versions.length} snapshots committed, ${seen.length} statuses published`);
      assert.ok(versions.length >= 1);
      assert.deepEqual(partial, [], 'no snapshot holds part of the cluster');
      assert.deepEqual(
        seen.filter((x) => !x.includes(' accepted')),
        [],
        'no status ever read error',
      );
    } finally {
      watch.stop();
      await nc.close();
    }
    for (const reason of ['NotFound', 'Forbidden', 'Error'])
      assert.equal(
        await ingestorMetric('attache_ingestor_kube_kind_unavailable', { reason }),
        0,
        `no kind is unavailable (${reason})`,
      );
    assert.doesNotMatch(ingestor.output(), /cannot watch/);
    // The kinds below run without Hosts (a Host changes which Mappings a hostname gets).
    await change({ remove: coldObjects });
  });

  for (const c of kindCases({ stable: 0, canary: 0 })) {
    test(`real API server — ${c.kind}: create, update and delete reach the fan-out (${c.via})`, async (t) => {
      // The table is built per test so it carries the echo backends' ports (started in `before`).
      const kc = kindCases({ stable: stable.port, canary: canary.port }).find((x) => x.kind === c.kind);
      assert.ok(kc);
      if (kc.with) await change({ apply: kc.with });
      const timings: string[] = [];
      for (const step of kc.steps) {
        const started = Date.now();
        const fromSeq = await change(step);
        await eventually(
          async () => assert.equal(await kc.probe(probes), step.expect, `${kc.kind} after ${step.change}`),
          {
            timeoutMs: 30_000,
            intervalMs: 100,
          },
        );
        timings.push(`${step.change} ${Date.now() - started} ms`);
        if (step.applyUnpublished) {
          const published = byObject(await readEvents(pipeline.events, fromSeq), CLUSTER);
          for (const o of step.applyUnpublished)
            assert.equal(
              published.get(`${o.kind} ${o.metadata.namespace ?? ''}/${o.metadata.name}`),
              undefined,
            );
        }
      }
      if (kc.with) await change({ remove: kc.with });
      t.diagnostic(`${kc.kind} converged: ${timings.join(', ')}`);
    });
  }

  test('real API server — status is written back to Mapping, AmbassadorMapping and Host once per change, without loops', async () => {
    const NS = 'status';
    await kube.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } });
    const good = mapping('good', NS, { hostname: '*', prefix: '/good/', service: 'quote.default:80' });
    const bad = mapping('bad', NS, {
      hostname: '*',
      prefix: '/bad/',
      service: 'quote.default:80',
      timeout_ms: 'soon',
    });
    const xm: KubeObject = {
      apiVersion: 'x.getambassador.io/v3alpha1',
      kind: 'AmbassadorMapping',
      metadata: { name: 'good', namespace: NS },
      spec: { hostname: '*', prefix: '/x-good/', service: 'quote.default:80' },
    };
    const host: KubeObject = {
      apiVersion: 'getambassador.io/v3alpha1',
      kind: 'Host',
      metadata: { name: 'plain', namespace: NS },
      spec: { hostname: 'plain.kube.test', requestPolicy: { insecure: { action: 'Route' } } },
    };
    await change({ apply: [good, bad, xm, host] });
    const statusOf = async (o: KubeObject) =>
      ((await kube.read(o)) as { status?: Record<string, unknown> } | undefined)?.status;
    await eventually(
      async () => {
        assert.equal((await statusOf(good))?.state, 'Running');
        assert.equal(
          (await statusOf(xm))?.state,
          'Running',
          'AmbassadorMapping status on ambassadormappings',
        );
        assert.equal((await statusOf(host))?.state, 'Ready');
        const b = await statusOf(bad);
        assert.equal(b?.state, 'Inactive');
        assert.match(String(b?.reason), /timeout_ms/);
      },
      { timeoutMs: 30_000, intervalMs: 200 },
    );
    // A status write is not a change worth an event: nothing more is published for these objects.
    const seq = await pipeline.events.lastSeq();
    await new Promise((r) => setTimeout(r, 3_000));
    const later = byObject(await readEvents(pipeline.events, seq + 1), CLUSTER);
    assert.deepEqual(
      [...later.keys()].filter((k) => k.includes(` ${NS}/`)),
      [],
      'status writes publish nothing',
    );
    await change({ remove: [good, bad, xm, host] });
  });

  test('real API server — the Argo Rollouts flow with kubectl: `<mapping>-canary` copied at weight 0, stepped 10 → 50 → 100, deleted on promotion, and the abort path; a real gRPC xDS client measures each step', async (t) => {
    const NS = 'argo';
    const HOST = 'argo.kube.test';
    const MAPPINGS = 'mappings.getambassador.io';
    await kube.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } });
    await change({
      apply: [
        service('echo-stable', NS),
        slice('echo-stable-1', 'echo-stable', NS, { grpc: stable.port }),
        service('echo-canary', NS),
        slice('echo-canary-1', 'echo-canary', NS, { grpc: canary.port }),
        mapping('echo', NS, { hostname: HOST, service: 'echo-stable:50051' }),
      ],
    });
    const client = clientFor(HOST);
    await waitAllOn(client, 'stable');
    const viaKubectl = hasKubectl();
    if (!viaKubectl)
      t.diagnostic('kubectl is not installed: the plugin steps are made through the API instead');
    const scratch = fs.mkdtempSync(path.join(kube.dir, 'argo-'));
    const canaryRef = {
      apiVersion: 'getambassador.io/v2',
      kind: 'Mapping',
      metadata: { name: 'echo-canary', namespace: NS },
    };

    /** Waits until the change with this resourceVersion is logged and committed. */
    const committed = async (name: string, op: 'upsert' | 'delete', resourceVersion?: string) => {
      const seq = await waitLogged(pipeline.events, 1, [
        {
          cluster: CLUSTER,
          kind: 'Mapping',
          namespace: NS,
          name,
          op,
          ...(resourceVersion ? { resourceVersion } : {}),
        },
      ]);
      await waitCommitted(pipeline.store, seq);
    };
    /** What the plugin does first: a copy of the stable Mapping, service swapped, weight 0. */
    const createCanary = async () => {
      const base = (await kube.read(mapping('echo', NS, {}))) as
        | { spec: Record<string, unknown> }
        | undefined;
      assert.ok(base);
      const copy = { ...canaryRef, spec: { ...base.spec, service: 'echo-canary:50051', weight: 0 } };
      let rv: string;
      if (viaKubectl) {
        const file = path.join(scratch, 'canary.json');
        fs.writeFileSync(file, JSON.stringify(copy));
        rv = await kube.kubectl('create', '-f', file, '-o', 'jsonpath={.metadata.resourceVersion}');
      } else rv = (await kube.apply(copy)).metadata.resourceVersion;
      await committed('echo-canary', 'upsert', rv);
    };
    const setWeight = async (weight: number) => {
      let rv: string;
      if (viaKubectl) {
        rv = await kube.kubectl(
          'patch',
          MAPPINGS,
          'echo-canary',
          '-n',
          NS,
          '--type',
          'merge',
          '-p',
          JSON.stringify({ spec: { weight } }),
          '-o',
          'jsonpath={.metadata.resourceVersion}',
        );
      } else {
        const cur = (await kube.read(canaryRef)) as { spec: Record<string, unknown> } | undefined;
        rv = (await kube.apply({ ...canaryRef, spec: { ...cur?.spec, weight } })).metadata.resourceVersion;
      }
      await committed('echo-canary', 'upsert', rv);
    };
    const deleteCanary = async () => {
      if (viaKubectl) await kube.kubectl('delete', MAPPINGS, 'echo-canary', '-n', NS);
      else await kube.delete(canaryRef);
      await committed('echo-canary', 'delete');
    };
    /**
     * The split the client sees at this weight: 1,000 RPCs within 4σ of it (all on one side at 0
     * and 100), none failed. A push reaches the client a moment after the commit, so a sample
     * taken across it is measured again.
     */
    const results: string[] = [];
    const measure = async (weight: number) => {
      const n = weight === 0 || weight === 100 ? 200 : 1000;
      let attempts = 0;
      const counts = await eventually(
        async () => {
          attempts++;
          const c = await client.countBackends(n, 5000);
          assert.equal(c.get(FAILED) ?? 0, 0, `failed RPCs at weight ${weight}: ${JSON.stringify([...c])}`);
          const onCanary = c.get('canary') ?? 0;
          const band = fourSigma(n, weight / 100);
          assert.ok(
            Math.abs(onCanary - (weight / 100) * n) <= band,
            `weight ${weight}: canary got ${onCanary}/${n}, expected ${(weight / 100) * n} ± ${band.toFixed(1)}`,
          );
          return c;
        },
        { timeoutMs: 30_000, intervalMs: 100 },
      );
      results.push(
        `${weight}%: canary ${counts.get('canary') ?? 0}/${n}${attempts > 1 ? ` (${attempts} samples)` : ''}`,
      );
    };

    // Promotion: 0 → 10 → 50 → 100, then the stable Service takes the new version's endpoints
    // (the rollout's stable ReplicaSet is now the new one) and the canary Mapping is deleted.
    const loop = rpcLoop(client, 5000);
    try {
      await createCanary();
      await measure(0);
      for (const w of [10, 50, 100]) {
        await setWeight(w);
        await measure(w);
      }
      await change({ apply: [slice('echo-stable-1', 'echo-stable', NS, { grpc: canary.port })] });
      await deleteCanary();
      await measure(100);
      t.diagnostic(
        `promotion: ${results.join(', ')}; after the canary Mapping's deletion all on the new version`,
      );

      // Abort: back to the old version under stable, a new canary stepped to 50, then the plugin
      // sets its weight to 0 and deletes it; traffic returns to stable.
      await change({ apply: [slice('echo-stable-1', 'echo-stable', NS, { grpc: stable.port })] });
      await waitAllOn(client, 'stable');
      results.length = 0;
      await createCanary();
      await measure(0);
      for (const w of [10, 50]) {
        await setWeight(w);
        await measure(w);
      }
      await setWeight(0);
      await measure(0);
      await deleteCanary();
      results.push(
        `after deletion: ${[...(await client.countBackends(200, 5000))].map(([b, n]) => `${b}×${n}`).join(' ')}`,
      );
      t.diagnostic(`abort: ${results.join(', ')}`);
      assert.deepEqual([...(await client.countBackends(200, 5000))], [['stable', 200]]);
    } finally {
      await loop.stop();
      fs.rmSync(scratch, { recursive: true, force: true });
    }
    const failed = loop.samples.filter((x) => x.backend === FAILED);
    t.diagnostic(`${loop.samples.length} RPCs in a loop across both flows, ${failed.length} failed`);
    assert.deepEqual(
      failed.map((x) => x.error),
      [],
      'no RPC failed through any step',
    );
    await change({ remove: [mapping('echo', NS, {})] });
  });

  test('real API server — kill -9 of the ingestor, Mappings deleted while it is down: gone after it restarts', async () => {
    const NS = 'restart';
    const HOST = 'restart.kube.test';
    await kube.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } });
    const canaryMapping = mapping('echo-canary', NS, {
      hostname: HOST,
      service: 'echo-canary:50051',
      weight: 100,
    });
    const leftover = mapping('leftover', NS, {
      hostname: 'leftover.kube.test',
      service: 'echo-stable:50051',
    });
    await change({
      apply: [
        service('echo-stable', NS),
        slice('echo-stable-1', 'echo-stable', NS, { grpc: stable.port }),
        service('echo-canary', NS),
        slice('echo-canary-1', 'echo-canary', NS, { grpc: canary.port }),
        mapping('echo', NS, { hostname: HOST, service: 'echo-stable:50051' }),
        canaryMapping,
        leftover,
      ],
    });
    const client = clientFor(HOST);
    await waitAllOn(client, 'canary');
    const killedSeq = await pipeline.events.lastSeq();
    await ingestor?.stop('SIGKILL');
    assert.ok(await kube.delete(canaryMapping));
    assert.ok(await kube.delete(leftover));
    assert.equal(await probes.traffic(HOST), 'canary×10', 'the last published state keeps serving');
    ingestor = await startIngestor();
    await waitAllOn(client, 'stable');
    const afterRestart = (await readEvents(pipeline.events, killedSeq + 1))
      .filter((e) => e.event.cluster === CLUSTER)
      .map(({ event: e }) => (e.op === 'resync' ? 'resync' : `${e.op} ${e.kind} ${e.namespace}/${e.name}`));
    assert.deepEqual(
      afterRestart.sort(),
      ['delete Mapping restart/echo-canary', 'delete Mapping restart/leftover', 'resync'],
      'the restart publishes the two tombstones and its marker, nothing for unchanged objects',
    );
  });

  test('real API server — zero RBAC denials in normal running with the least-privilege ServiceAccount', async () => {
    assert.ok(ingestor && !ingestor.exited, 'the ingestor is running');
    // Every request of the run so far (the API server restart comes next): the admin
    // (system:masters) is never denied, so any 403 would be the ingestor's.
    assert.equal(await kube.requestCount({ code: '403' }), 0, 'no request was denied');
    const denials = ingestor
      .output()
      .split('\n')
      .filter((line) => /forbidden/i.test(line));
    assert.deepEqual(denials, [], 'the ingestor logged no denial');
  });

  test('real API server — idle: the ingestor makes no LIST requests (watches, not polls) and the Lease costs one request per 2 s', async (t) => {
    // CI watches 20 s; ATTACHE_IDLE_WINDOW_MS=300000 runs issue 13's 5-minute window (too slow for
    // every CI run; its figure is in the README). Requests are attributed from the API server's
    // audit log: the API server's own loopback clients list too (e.g. after its 5-minute etcd
    // compaction), and the request metrics cannot tell them from the ingestor.
    const windowMs = Number(process.env.ATTACHE_IDLE_WINDOW_MS ?? 20_000);
    t.diagnostic(`idle window ${windowMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 2_000)); // writes of the previous case settle
    const INGESTOR = 'system:serviceaccount:attache:attache-ingestor';
    const listsBefore = await kube.requestCount({ verb: 'LIST' });
    const from = Date.now();
    await new Promise((r) => setTimeout(r, windowMs));
    const to = Date.now();
    const listsAfter = await kube.requestCount({ verb: 'LIST' });
    const inWindow = kube.auditEvents().filter((e) => e.at >= from && e.at < to);
    const tally = (events: typeof inWindow) => {
      const m = new Map<string, number>();
      for (const e of events) m.set(`${e.verb} ${e.resource}`, (m.get(`${e.verb} ${e.resource}`) ?? 0) + 1);
      return [...m].map(([k, n]) => `${k}×${n}`).sort();
    };
    const ours = inWindow.filter((e) => e.user === INGESTOR);
    const others = inWindow.filter((e) => e.user !== INGESTOR && e.user !== 'admin');
    t.diagnostic(`over ${windowMs / 1000} s idle, the ingestor: ${tally(ours).join(', ') || 'no requests'}`);
    t.diagnostic(
      `the API server's own clients: ${tally(others.filter((e) => e.verb === 'list' || e.verb === 'watch')).join(', ') || 'no list/watch'}; ` +
        `apiserver_request_total{verb="LIST"} moved by ${listsAfter - listsBefore} (every client)`,
    );
    assert.deepEqual(
      ours.filter((e) => e.verb === 'list').map((e) => e.uri),
      [],
      'no LIST by the ingestor while idle',
    );
    const leasePuts = ours.filter((e) => e.resource === 'leases' && e.verb === 'update').length;
    const leaseGets = ours.filter((e) => e.resource === 'leases' && e.verb === 'get').length;
    // One renewal per retry period (2 s), plus slack for timer drift on this busy machine.
    assert.ok(leasePuts <= Math.ceil(windowMs / 2_000) + 2, `${leasePuts} Lease PUTs`);
    assert.ok(leasePuts >= Math.floor(windowMs / 2_000) / 2, `${leasePuts} Lease PUTs: the leader renews`);
    assert.ok(leaseGets <= 2, `${leaseGets} Lease GETs: a leader renews without reading`);
    // Nothing else: the status loops and the Ingress status inputs are watches, not polls.
    assert.deepEqual(
      ours.filter(
        (e) => !(e.resource === 'leases' && e.verb === 'update') && e.verb !== 'watch' && e.verb !== 'get',
      ),
      [],
      'no other requests while idle',
    );
  });

  test('real API server — restarted (history compacted meanwhile) under a running ingestor: watches resume, a 410 relists, every change arrives once', async (t) => {
    const NS = 'apirestart';
    await kube.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } });
    const m = (name: string, v: string) =>
      mapping(name, NS, {
        hostname: 'apirestart.kube.test',
        prefix: `/${name}/${v}/`,
        service: 'quote.default:80',
      });
    await change({ apply: [m('keep', 'v0'), m('upd', 'v0'), m('del', 'v0')] });
    const listsBefore = await ingestorMetric('attache_ingestor_kube_lists_total', {
      kind: 'mappings.getambassador.io',
    });
    const fromSeq = (await pipeline.events.lastSeq()) + 1;

    // The ingestor is paused across the restarts, the changes and the compaction, then resumed.
    // Running, it re-watched the restarted server fast enough (at low load) to see the changes
    // before the compaction, so no 410 came. And a watch is served from the API server's watch
    // cache, not etcd: a cache filled right after the restart, before any write, may start at the
    // revision the ingestor last saw (from a bookmark), then serves the changes and never answers
    // 410, compaction or not (CI saw no relist under load, twice). So the changes
    // and the compaction happen on a first restarted server the ingestor never talks to, and a
    // second restart fills every watch cache at a revision after them: a watch resumed from the
    // ingestor's last resourceVersion can only get 410 Gone and relist.
    assert.ok(ingestor);
    ingestor.signal('SIGSTOP');
    let upd: Awaited<ReturnType<typeof kube.apply>>;
    let added: Awaited<ReturnType<typeof kube.apply>>;
    try {
      await kube.stopServers();
      await kube.startServers();
      upd = await kube.apply(m('upd', 'v1'));
      added = await kube.apply(m('new', 'v0'));
      assert.ok(await kube.delete(m('del', '')));
      await kube.compact();
      await kube.stopServers();
      await kube.startServers();
    } finally {
      ingestor.signal('SIGCONT');
    }
    // Timed from the resume: the two restarts before it take 10-60 s depending on the load.
    const started = Date.now();
    const expected = [
      {
        cluster: CLUSTER,
        kind: 'Mapping',
        namespace: NS,
        name: 'upd',
        op: 'upsert' as const,
        resourceVersion: upd.metadata.resourceVersion,
      },
      {
        cluster: CLUSTER,
        kind: 'Mapping',
        namespace: NS,
        name: 'new',
        op: 'upsert' as const,
        resourceVersion: added.metadata.resourceVersion,
      },
      { cluster: CLUSTER, kind: 'Mapping', namespace: NS, name: 'del', op: 'delete' as const },
    ];
    await waitLogged(pipeline.events, fromSeq, expected, 90_000);
    const convergedMs = Date.now() - started;
    // After the restart a new Mapping still arrives through the watch.
    const late = await kube.apply(m('late', 'v0'));
    await waitLogged(pipeline.events, fromSeq, [
      {
        cluster: CLUSTER,
        kind: 'Mapping',
        namespace: NS,
        name: 'late',
        op: 'upsert',
        resourceVersion: late.metadata.resourceVersion,
      },
    ]);
    const perObject = byObject(await readEvents(pipeline.events, fromSeq), CLUSTER);
    const ours = [...perObject]
      .filter(([k]) => k.includes(` ${NS}/`))
      .map(([k, evs]) => `${k}×${evs.length}`);
    assert.deepEqual(
      ours.sort(),
      [`Mapping ${NS}/del×1`, `Mapping ${NS}/late×1`, `Mapping ${NS}/new×1`, `Mapping ${NS}/upd×1`],
      'one event per change, nothing for the unchanged Mapping',
    );
    const relists =
      (await ingestorMetric('attache_ingestor_kube_lists_total', { kind: 'mappings.getambassador.io' })) -
      listsBefore;
    // While a restarted API server's RBAC caches fill, it may answer 403 for a moment; that is
    // the server starting, not a missing permission (the previous case counts normal running).
    t.diagnostic(`403s from the restarted API server: ${await kube.requestCount({ code: '403' })}`);
    t.diagnostic(
      `API server restart: changes logged ${convergedMs} ms after the ingestor resumed; ${relists} relists of Mappings`,
    );
    assert.ok(relists >= 1, 'the Mapping watch relisted');
  });
});
