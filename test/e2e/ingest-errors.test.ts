/**
 * Ingest-time problems reach every place an operator looks (issue 9), on the real tiers: real
 * nats-server (JetStream and the status bucket), redis-server, the compiler's admin port, the
 * `attache status` command run as a user runs it, and — for a Kubernetes source — the object's
 * own status, written back through the fake API server by the real StatusWriter.
 *
 * - YAML directory: a document that does not parse, a file that is not UTF-8 (named with its byte
 *   offset), a later duplicate of a serving Mapping (naming both files and documents) and an
 *   object too large for the log each show in /debug/status and in `attache status`, while the
 *   good Mapping keeps answering real grpc-js-xds RPCs.
 * - Kubernetes: a Mapping too large for the log is never ingested, so no version of it reaches
 *   the compiler; its status still says why (it used to get none: status skipped stand-ins).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Kvm } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Registry } from 'prom-client';
import type { DevPipeline } from '../../services/cli/dev.ts';
import type { Diagnostic } from '../../services/compiler/contracts.ts';
import { StatusPublisher } from '../../services/compiler/status-publisher.ts';
import { collectObjectErrors } from '../../services/fanout/status-command.ts';
import { KubernetesIngestor } from '../../services/ingestor/kubernetes/kubernetes-ingestor.ts';
import { StatusWriter } from '../../services/ingestor/kubernetes/status-writer.ts';
import type { SourceObject } from '../../shared/events/envelope.ts';
import { STATUS_BUCKET } from '../../shared/events/status-keys.ts';
import { createLogger, silentLogger } from '../../shared/runtime/logger.ts';
import { type FakeKube, startFakeKube } from '../fake-kube/fake-kube.ts';
import { startAttache } from '../harness/attache-process.ts';
import { startTestDevPipeline } from '../harness/dev-pipeline.ts';
import { eventually } from '../harness/eventually.ts';
import { type EchoBackend, startEchoBackend } from '../harness/grpc-echo.ts';
import { endpointSliceYaml, serviceYaml } from '../harness/kube-yaml.ts';
import { freePort } from '../harness/ports.ts';
import { startNats, startRedis, type TestServer } from '../harness/servers.ts';
import { writeAtomic } from '../harness/write-atomic.ts';
import { createXdsEchoClient, FAILED, type XdsEchoClient } from '../harness/xds-client.ts';
import {
  ECHO_HOST,
  echoMapping,
  echoService,
  echoSlice,
  type MulticlusterPipeline,
  startMulticlusterPipeline,
} from './multicluster-pipeline.ts';

const HOST = 'ingest-errors.test';

/** Random bytes do not compress: over NATS's default 1 MiB max_payload even deflated. */
const noise = () => randomBytes(1536 * 1024).toString('base64');

let nats: TestServer;
let redis: TestServer;
let backend: EchoBackend;

before(async () => {
  nats = await startNats();
  redis = await startRedis();
  backend = await startEchoBackend('good');
});

after(async () => {
  await backend?.stop();
  await nats?.dispose();
  await redis?.dispose();
});

/** `attache status` as a user runs it: its whole output once it exits. */
async function attacheStatus(): Promise<string> {
  const p = startAttache(['status', '--nats', nats.url, '--wait-ms', '300']);
  await p.wait(30_000);
  return p.output();
}

describe('ingest errors', () => {
  test('ingest errors — YAML load problems and an object too large for the log show in /debug/status and attache status; the good Mapping serves', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'attache-ingest-errors-'));
    const mapping = (name: string, spec: Record<string, unknown>, metadata: Record<string, unknown> = {}) =>
      `${JSON.stringify({
        apiVersion: 'getambassador.io/v3alpha1',
        kind: 'Mapping',
        metadata: { name, namespace: 'default', ...metadata },
        spec: { hostname: HOST, ...spec },
      })}\n`;
    writeAtomic(
      path.join(dir, 'services.yaml'),
      [
        serviceYaml('echo', { name: 'grpc', port: 50051 }),
        endpointSliceYaml({
          service: 'echo',
          name: 'echo-0',
          port: { name: 'grpc', port: backend.port },
          addresses: ['127.0.0.1'],
        }),
      ]
        .map((d) => `---\n${d}`)
        .join(''),
    );
    writeAtomic(
      path.join(dir, 'm.yaml'),
      mapping('good', { prefix: '/', service: 'echo:50051', grpc: true }),
    );
    const status = new StatusPublisher({
      url: nats.url,
      log: silentLogger(),
      registry: new Registry(),
      groups: ['default'],
    });
    await status.start();
    const adminPort = await freePort();
    const xdsPort = await freePort();
    let pipeline: (DevPipeline & { close(): Promise<void> }) | undefined;
    let client: XdsEchoClient | undefined;
    try {
      pipeline = await startTestDevPipeline({
        configDirs: [dir],
        cluster: 'yaml',
        groups: ['default'],
        bind: '127.0.0.1',
        xdsPort,
        adminPort,
        natsUrl: nats.url,
        redisUrl: redis.url,
        redisPrefix: `attache-ingest-errors-${process.pid}:`,
        onCommit: status.onCommit,
      });
      client = createXdsEchoClient({
        serverPort: xdsPort,
        nodeId: 'ingest-errors',
        target: `xds:///${HOST}`,
      });
      await eventually(() => client!.echo('warm-up', 2000), { timeoutMs: 30_000, intervalMs: 200 });

      writeAtomic(
        path.join(dir, 'broken.yaml'),
        'apiVersion: v1\nkind: Service\nmetadata: {name: [unclosed\n',
      );
      fs.writeFileSync(
        path.join(dir, 'latin1.yaml'),
        Buffer.concat([Buffer.from('# cafe in Latin-1: caf'), Buffer.from([0xe9]), Buffer.from('\n')]),
      );
      writeAtomic(path.join(dir, '00-dup.yaml'), mapping('good', { prefix: '/', service: 'nowhere:1' }));
      writeAtomic(
        path.join(dir, 'huge.yaml'),
        mapping('huge', { prefix: '/huge/', service: 'echo:50051' }, { annotations: { note: noise() } }),
      );

      const expected: [Partial<Diagnostic['source']>, RegExp][] = [
        [{ kind: 'File', name: 'broken.yaml', file: 'broken.yaml' }, /cannot be ingested \(line \d+\): /],
        [
          { name: 'latin1.yaml', file: 'latin1.yaml' },
          /not valid UTF-8: invalid byte 0xe9 at byte offset 22/,
        ],
        [
          { kind: 'Mapping', name: 'good', file: '00-dup.yaml', document: 0 },
          /m\.yaml document 0.*00-dup\.yaml document 0|00-dup\.yaml document 0.*m\.yaml document 0/,
        ],
        [
          { kind: 'Mapping', name: 'huge', file: 'huge.yaml' },
          /could not be ingested: .*max_payload.*not served/,
        ],
      ];
      const matching = (ds: Diagnostic[], [source, message]: (typeof expected)[number]) =>
        ds.some(
          (d) =>
            d.severity === 'error' &&
            Object.entries(source).every(([k, v]) => d.source[k as keyof Diagnostic['source']] === v) &&
            message.test(d.message),
        );
      // The compiler's admin port, as an operator reads it.
      await eventually(
        async () => {
          const res = await fetch(`http://127.0.0.1:${adminPort}/debug/status`);
          const groups = (await res.json()) as { group: string; diagnostics: Diagnostic[] }[];
          const ds = groups.find((g) => g.group === 'default')?.diagnostics ?? [];
          for (const e of expected)
            assert.ok(matching(ds, e), `no diagnostic ${JSON.stringify(e[0])} ${e[1]}`);
        },
        { timeoutMs: 60_000, intervalMs: 250 },
      );
      await pipeline.compiler.idle();
      await status.idle();

      // `attache status`: every problem, with its reason, from the status bucket.
      const out = await attacheStatus();
      assert.match(out, /objects in error: 4\n/, out);
      assert.match(out, /yaml IngestError default\/broken\.yaml#0 \(since version \d+\): cannot be ingested/);
      assert.match(out, /yaml IngestError default\/latin1\.yaml .*invalid byte 0xe9 at byte offset 22/);
      assert.match(out, /yaml IngestError default\/00-dup\.yaml#0 .*Mapping default\/good/);
      assert.match(out, /yaml Mapping default\/huge .*could not be ingested: .*max_payload/);
      assert.doesNotMatch(out, /yaml Mapping default\/good /, 'the established Mapping is not in error');

      const counts = await client.countBackends(20, 5000);
      assert.deepEqual([...counts], [['good', 20]], `RPCs after the bad files: ${[...counts]}`);
      assert.equal(counts.get(FAILED), undefined);

      // Fixed: the errors leave the status bucket.
      for (const f of ['broken.yaml', 'latin1.yaml', '00-dup.yaml', 'huge.yaml'])
        fs.rmSync(path.join(dir, f));
      await eventually(
        async () => {
          await pipeline!.compiler.idle();
          await status.idle();
          assert.deepEqual(await collectObjectErrors(nats.url), []);
        },
        { timeoutMs: 30_000, intervalMs: 250 },
      );
    } finally {
      client?.close();
      await pipeline?.close();
      await status.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('ingest errors on Kubernetes', () => {
  const log = createLogger('e2e-ingest-errors', process.env.ATTACHE_LOG_LEVEL ?? 'warn');
  const MAPPING = { apiVersion: 'getambassador.io/v3alpha1', kind: 'Mapping' };
  let knats: TestServer;
  let kube: FakeKube;
  let pipeline: MulticlusterPipeline;
  let ingestor: KubernetesIngestor;
  let nc: NatsConnection;
  let writer: StatusWriter;
  let client: XdsEchoClient;

  before(async () => {
    // A fresh server: the YAML test's status bucket must not show here.
    knats = await startNats();
    pipeline = await startMulticlusterPipeline({ natsUrl: knats.url, redisUrl: redis.url, policy: {} });
    kube = await startFakeKube();
    for (const o of [echoMapping(), echoService(), echoSlice('east', backend.port)]) kube.apply(o);
    ingestor = new KubernetesIngestor({
      cluster: 'east',
      kubeConfig: kube.kubeconfig(),
      events: pipeline.events,
      log,
      registry: new Registry(),
    });
    await ingestor.start();
    nc = await connect({ servers: knats.url });
    writer = new StatusWriter({
      cluster: 'east',
      kubeConfig: kube.kubeconfig(),
      kv: await new Kvm(nc).create(STATUS_BUCKET, { history: 1 }),
      log,
      registry: new Registry(),
    });
    await writer.start();
    client = createXdsEchoClient({
      serverPort: pipeline.ads.port,
      nodeId: 'ingest-errors-k8s',
      target: `xds:///${ECHO_HOST}`,
    });
  });

  after(async () => {
    client?.close();
    await writer?.close();
    await ingestor?.close();
    await nc?.close();
    await kube?.close();
    await pipeline?.close();
    await knats?.dispose();
  });

  test('ingest errors on Kubernetes — a Mapping too large for the log, never ingested, gets an error status; the good one stays Running', async () => {
    await eventually(() => client.echo('warm-up', 5000), { timeoutMs: 30_000 });
    await eventually(() => assert.deepEqual(kube.get(MAPPING, 'apps', 'echo')?.status, { state: 'Running' }));

    const huge: SourceObject = {
      ...MAPPING,
      metadata: { name: 'huge', namespace: 'apps', generation: 1 },
      spec: { hostname: ECHO_HOST, prefix: '/huge/', service: 'echo.apps:50051', docs: { path: noise() } },
    };
    kube.apply(huge);
    await eventually(
      () => {
        const s = kube.get(MAPPING, 'apps', 'huge')?.status as
          | { state?: string; reason?: string }
          | undefined;
        assert.equal(s?.state, 'Inactive');
        assert.match(String(s?.reason), /could not be ingested: .*max_payload.*it is not served/);
      },
      { timeoutMs: 30_000 },
    );
    assert.deepEqual(kube.get(MAPPING, 'apps', 'echo')?.status, { state: 'Running' });
    const errors = await collectObjectErrors(knats.url);
    assert.deepEqual(
      errors?.map((e) => `${e.cluster} ${e.kind} ${e.namespace}/${e.name}`),
      ['east Mapping apps/huge'],
    );
    const counts = await client.countBackends(20, 5000);
    assert.deepEqual([...counts], [['good', 20]], `RPCs: ${[...counts]}`);
  });
});
