/**
 * The Kubernetes ingestor against the fake API server (test/fake-kube: the one stand-in, as no
 * kube-apiserver can run here) and the in-memory event log (NATS is not the point of these tests;
 * see kubernetes-ingestor.jetstream.test.ts for that).
 */
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { Registry } from 'prom-client';
import { ENVELOPE_VERSION } from '../../../shared/events/envelope.ts';
import type { LoggedEvent } from '../../../shared/events/event-log.ts';
import { MemoryEventLog } from '../../../shared/events/memory-event-log.ts';
import { clusterSubjects, subjectMatches } from '../../../shared/events/subjects.ts';
import { startFakeKube } from '../../../test/fake-kube/fake-kube.ts';
import { eventually } from '../../../test/harness/eventually.ts';
import { FlakyEventLog } from '../shared/flaky-event-log.ts';
import type { KubernetesIngestor } from './kubernetes-ingestor.ts';
import {
  ambassador,
  describeEvents,
  endpointSlice,
  endpoints,
  finalStates,
  metricValue,
  readAll,
  secret,
  service,
  testIngestor,
  V3,
} from './testing.ts';

const AMBASSADOR_KINDS = [
  'Mapping',
  'Host',
  'Listener',
  'TLSContext',
  'Module',
  'AuthService',
  'RateLimitService',
  'TCPMapping',
  'KubernetesServiceResolver',
  'KubernetesEndpointResolver',
  'ConsulResolver',
  'LogService',
  'TracingService',
];

describe('KubernetesIngestor', () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn();
  });

  async function setup(opts: Parameters<typeof startFakeKube>[0] = {}) {
    const fake = await startFakeKube(opts);
    cleanup.push(() => fake.close());
    return fake;
  }

  function run(ingestor: KubernetesIngestor) {
    cleanup.push(() => ingestor.close());
    return ingestor;
  }

  test('kubernetes ingestor — create, update and delete of every kind reach the log with the object resourceVersion', async () => {
    const fake = await setup();
    for (const kind of AMBASSADOR_KINDS)
      fake.apply(ambassador(kind, `a-${kind.toLowerCase()}`, { hostname: 'x' }));
    fake.apply({
      apiVersion: 'x.getambassador.io/v3alpha1',
      kind: 'AmbassadorMapping',
      metadata: { name: 'xm' },
      spec: { prefix: '/x/' },
    });
    fake.apply({
      ...service('svc'),
      metadata: {
        name: 'svc',
        namespace: 'default',
        annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{"big":"copy"}', keep: 'me' },
        managedFields: [{ manager: 'kubectl' }],
      },
    });
    fake.apply(endpointSlice('svc-abc', 'svc', ['10.0.0.1']));
    fake.apply(endpoints('lonely', ['10.0.0.9']));
    fake.apply({
      apiVersion: 'networking.k8s.io/v1',
      kind: 'Ingress',
      metadata: { name: 'ing', namespace: 'default' },
      spec: {},
    });
    fake.apply({
      apiVersion: 'networking.k8s.io/v1',
      kind: 'IngressClass',
      metadata: { name: 'ambassador' },
      spec: {},
    });
    fake.apply(secret('tls-cert'));
    fake.apply(ambassador('Host', 'a-host', { hostname: 'x', tlsSecret: { name: 'tls-cert' } }));

    const events = new MemoryEventLog();
    const ingestor = run(testIngestor(fake, events));
    await ingestor.start();
    const first = await readAll(events);
    const kinds = [
      ...AMBASSADOR_KINDS,
      'AmbassadorMapping',
      'Service',
      'EndpointSlice',
      'Endpoints',
      'Ingress',
      'IngressClass',
      'Secret',
    ];
    const upserted = first.filter((e) => e.event.op === 'upsert');
    assert.deepEqual([...new Set(upserted.map((e) => e.event.kind))].sort(), kinds.sort());
    assert.equal(upserted.length, 20, describeEvents(first).join('\n'));
    assert.equal(first.at(-1)?.event.op, 'resync');
    for (const { event, subject } of upserted) {
      const live = fake.get(
        event.object as { apiVersion: string; kind: string },
        event.namespace || undefined,
        event.name,
      );
      assert.equal(
        event.resourceVersion,
        live?.metadata.resourceVersion,
        `${event.kind} ${event.name} resourceVersion`,
      );
      assert.equal(
        subject.startsWith('attache.ep.'),
        event.kind === 'EndpointSlice' || event.kind === 'Endpoints',
        subject,
      );
      assert.ok(
        clusterSubjects('kube').some((f) => subjectMatches(f, subject)),
        subject,
      );
    }
    const xm = upserted.find((e) => e.event.name === 'xm');
    assert.deepEqual([xm?.event.kind, xm?.event.object?.kind], ['AmbassadorMapping', 'AmbassadorMapping']);
    const svc = upserted.find((e) => e.event.kind === 'Service')?.event.object;
    assert.equal(svc?.metadata.annotations?.['kubectl.kubernetes.io/last-applied-configuration'], undefined);
    assert.equal(svc?.metadata.annotations?.keep, 'me');
    assert.ok(svc && !('managedFields' in svc.metadata), 'managedFields are dropped');
    assert.equal(svc?.apiVersion, 'v1', 'list items of built-in kinds get their apiVersion back');

    // Updates and deletes arrive through the watches.
    const seq = await events.lastSeq();
    fake.apply(ambassador('Mapping', 'a-mapping', { prefix: '/v2/' }));
    fake.apply(endpointSlice('svc-abc', 'svc', ['10.0.0.1', '10.0.0.2']));
    fake.delete({ apiVersion: V3, kind: 'TCPMapping' }, 'default', 'a-tcpmapping');
    fake.delete({ apiVersion: 'networking.k8s.io/v1', kind: 'IngressClass' }, undefined, 'ambassador');
    await eventually(async () => {
      const later = describeEvents(await readAll(events, seq + 1)).sort();
      assert.deepEqual(later, [
        'delete IngressClass /ambassador',
        'delete TCPMapping default/a-tcpmapping',
        'upsert EndpointSlice default/svc-abc',
        'upsert Mapping default/a-mapping',
      ]);
    });
    const m = finalStates(await readAll(events)).get('Mapping default/a-mapping');
    assert.equal(
      m?.event.resourceVersion,
      fake.get({ apiVersion: V3, kind: 'Mapping' }, 'default', 'a-mapping')?.metadata.resourceVersion,
    );
  });

  test('kubernetes ingestor — a Mapping and an AmbassadorMapping with one namespace/name are two log objects; old logs holding AmbassadorMappings as Mapping are migrated', async () => {
    const fake = await setup();
    const xm = (prefix: string) => ({
      apiVersion: 'x.getambassador.io/v3alpha1',
      kind: 'AmbassadorMapping',
      metadata: { name: 'same', namespace: 'default' },
      spec: { prefix },
    });
    fake.apply(ambassador('Mapping', 'same', { prefix: '/plain/' }));
    fake.apply(xm('/x/'));
    const prefixOf = (e: LoggedEvent | undefined) =>
      (e?.event.object?.spec as { prefix?: string } | undefined)?.prefix;
    const events = new MemoryEventLog();
    // What an older ingestor published for the AmbassadorMapping: kind Mapping, group x.getambassador.io.
    await events.publish({
      v: ENVELOPE_VERSION,
      cluster: 'kube',
      kind: 'Mapping',
      namespace: 'default',
      name: 'legacy',
      op: 'upsert',
      resourceVersion: '1',
      generation: 0,
      observedAt: new Date(0).toISOString(),
      ingestor: 'k8s/kube/old',
      object: { ...xm('/legacy/'), metadata: { name: 'legacy', namespace: 'default' } },
    });
    const ingestor = run(testIngestor(fake, events));
    await ingestor.start();
    const live = [...finalStates(await readAll(events)).values()]
      .filter((e) => e.event.op === 'upsert')
      .map((e) => `${e.event.kind} ${e.event.name} ${prefixOf(e)}`);
    assert.deepEqual(live.sort(), ['AmbassadorMapping same /x/', 'Mapping same /plain/']);
    fake.apply(xm('/x2/'));
    await eventually(async () => {
      const m = finalStates(await readAll(events));
      assert.equal(prefixOf(m.get('AmbassadorMapping default/same')), '/x2/');
      assert.equal(prefixOf(m.get('Mapping default/same')), '/plain/');
    });
  });

  test('kubernetes ingestor — a restart publishes tombstones for objects deleted while it was down, and nothing for unchanged ones', async () => {
    const fake = await setup();
    for (let i = 0; i < 5; i++) fake.apply(ambassador('Mapping', `m${i}`, { prefix: `/m${i}/` }));
    const events = new MemoryEventLog();
    let ingestor = testIngestor(fake, events);
    await ingestor.start();
    await ingestor.close();
    assert.equal((await readAll(events)).length, 6);

    fake.delete({ apiVersion: V3, kind: 'Mapping' }, 'default', 'm1');
    fake.delete({ apiVersion: V3, kind: 'Mapping' }, 'default', 'm3');
    fake.apply(ambassador('Mapping', 'm4', { prefix: '/changed/' }));
    fake.apply(ambassador('Mapping', 'm5', { prefix: '/new/' }));
    ingestor = run(testIngestor(fake, events));
    await ingestor.start();
    const after = describeEvents(await readAll(events, 7));
    assert.deepEqual(after.slice(0, -1).sort(), [
      'delete Mapping default/m1',
      'delete Mapping default/m3',
      'upsert Mapping default/m4',
      'upsert Mapping default/m5',
    ]);
    assert.equal(after.at(-1), 'resync');
    const live = [...finalStates(await readAll(events)).values()].filter((e) => e.event.op === 'upsert');
    assert.deepEqual(live.map((e) => e.event.name).sort(), ['m0', 'm2', 'm4', 'm5']);
  });

  test('kubernetes ingestor — a watch gap ending in 410 relists: changes made in the gap arrive once, nothing is duplicated', async () => {
    const fake = await setup();
    for (let i = 0; i < 4; i++) fake.apply(ambassador('Mapping', `g${i}`, { prefix: `/g${i}/` }));
    const events = new MemoryEventLog();
    const registry = new Registry();
    const ingestor = run(testIngestor(fake, events, { registry }));
    await ingestor.start();
    const before = (await readAll(events)).length;
    const lists = await metricValue(registry, 'attache_ingestor_kube_lists_total', {
      kind: 'mappings.getambassador.io',
    });

    // Every watch ends; before anyone can re-watch, objects change and the history is compacted.
    fake.dropWatches();
    fake.delete({ apiVersion: V3, kind: 'Mapping' }, 'default', 'g0');
    fake.apply(ambassador('Mapping', 'g1', { prefix: '/g1-v2/' }));
    fake.apply(ambassador('Mapping', 'g9', { prefix: '/g9/' }));
    fake.compact();

    await eventually(async () => {
      const lines = describeEvents(await readAll(events, before + 1));
      assert.deepEqual(lines.filter((l) => l !== 'resync').sort(), [
        'delete Mapping default/g0',
        'upsert Mapping default/g1',
        'upsert Mapping default/g9',
      ]);
      assert.ok(lines.includes('resync'), 'a resync marker follows the relist');
    });
    assert.ok(
      (await metricValue(registry, 'attache_ingestor_kube_lists_total', {
        kind: 'mappings.getambassador.io',
      })) > lists,
      'mappings were relisted',
    );
    // Quiet afterwards: no duplicate arrives late.
    const changes = async () => (await readAll(events)).filter((e) => e.event.op !== 'resync').length;
    const count = await changes();
    fake.apply(ambassador('Mapping', 'g2', { prefix: '/g2-v2/' }));
    await eventually(async () => assert.equal(await changes(), count + 1, 'exactly the one change'));
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(await changes(), count + 1, 'and nothing after it');
    const upserts = (await readAll(events)).filter((e) => e.event.op === 'upsert');
    const ids = upserts.map((e) => `${e.event.name}@${e.event.resourceVersion}`);
    assert.equal(new Set(ids).size, ids.length, `no duplicate upserts: ${ids.join(' ')}`);
  });

  test('kubernetes ingestor — dropped watch connections resume from their resourceVersion without a relist', async () => {
    const fake = await setup();
    const events = new MemoryEventLog();
    const registry = new Registry();
    const ingestor = run(testIngestor(fake, events, { registry }));
    await ingestor.start();
    const lists = await metricValue(registry, 'attache_ingestor_kube_lists_total', { kind: 'services' });
    for (let round = 0; round < 3; round++) {
      assert.ok(fake.dropWatches() > 10, 'every kind had a watch open');
      await eventually(() => assert.ok(fake.openWatches() > 10, 'watches re-opened'));
      fake.apply(service(`s${round}`));
      await eventually(async () =>
        assert.ok(
          describeEvents(await readAll(events)).includes(`upsert Service default/s${round}`),
          `s${round} arrived`,
        ),
      );
    }
    assert.equal(
      await metricValue(registry, 'attache_ingestor_kube_lists_total', { kind: 'services' }),
      lists,
    );
  });

  test('kubernetes ingestor — secrets are published only while a Host or TLSContext refers to them', async () => {
    const fake = await setup();
    for (const name of ['unused', 'host-cert', 'ca', 'ctx-cert']) fake.apply(secret(name));
    fake.apply(secret('far-cert', 'other'));
    fake.apply(
      ambassador('Host', 'h', {
        hostname: 'a.example',
        tlsSecret: { name: 'host-cert' },
        tls: { ca_secret: 'ca' },
      }),
    );
    fake.apply(ambassador('TLSContext', 'ctx', { hosts: ['b.example'], secret: 'far-cert.other' }));
    const events = new MemoryEventLog();
    const ingestor = run(testIngestor(fake, events));
    await ingestor.start();
    const secrets = async () =>
      describeEvents((await readAll(events)).filter((e) => e.event.kind === 'Secret'));
    assert.deepEqual((await secrets()).sort(), [
      'upsert Secret default/ca',
      'upsert Secret default/host-cert',
      'upsert Secret other/far-cert',
    ]);

    // A new reference publishes the secret; dropping the last reference tombstones it.
    fake.apply(ambassador('TLSContext', 'ctx', { hosts: ['b.example'], secret: 'ctx-cert' }));
    await eventually(async () =>
      assert.deepEqual((await secrets()).slice(3).sort(), [
        'delete Secret other/far-cert',
        'upsert Secret default/ctx-cert',
      ]),
    );
    fake.delete({ apiVersion: V3, kind: 'Host' }, 'default', 'h');
    await eventually(async () =>
      assert.deepEqual((await secrets()).slice(5).sort(), [
        'delete Secret default/ca',
        'delete Secret default/host-cert',
      ]),
    );
    // Referenced again at the same resourceVersion: a new event, not swallowed as a duplicate.
    fake.apply(ambassador('Host', 'h2', { hostname: 'c.example', tlsSecret: { name: 'host-cert' } }));
    await eventually(async () =>
      assert.deepEqual((await secrets()).slice(7), ['upsert Secret default/host-cert']),
    );
    // Changes to an unreferenced secret never reach the log.
    fake.apply({ ...secret('unused'), data: { 'tls.crt': 'Y2hhbmdlZA==' } });
    fake.apply(service('marker'));
    await eventually(async () =>
      assert.ok(
        describeEvents(await readAll(events)).includes('upsert Service default/marker'),
        'marker arrived',
      ),
    );
    assert.ok(!(await secrets()).some((l) => l.includes('unused')), 'the unreferenced secret never appears');
  });

  test('kubernetes ingestor — Endpoints are published only for Services without EndpointSlices', async () => {
    const fake = await setup();
    fake.apply(endpoints('sliced', ['10.0.0.1']));
    fake.apply(endpointSlice('sliced-1', 'sliced', ['10.0.0.1']));
    fake.apply(endpoints('plain', ['10.0.0.2']));
    const events = new MemoryEventLog();
    const ingestor = run(testIngestor(fake, events));
    await ingestor.start();
    const eps = async () =>
      describeEvents((await readAll(events)).filter((e) => e.event.kind === 'Endpoints'));
    assert.deepEqual(await eps(), ['upsert Endpoints default/plain']);
    fake.apply(endpointSlice('plain-1', 'plain', ['10.0.0.2']));
    await eventually(async () =>
      assert.deepEqual(await eps(), ['upsert Endpoints default/plain', 'delete Endpoints default/plain']),
    );
    fake.delete({ apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice' }, 'default', 'sliced-1');
    await eventually(async () =>
      assert.deepEqual((await eps()).slice(2), ['upsert Endpoints default/sliced']),
    );
  });

  test('kubernetes ingestor — an RBAC-denied kind is a warning and a metric, never stops the others, and is picked up once allowed', async () => {
    const fake = await setup();
    fake.setRbacDenied('hosts', 'list');
    fake.apply(ambassador('Host', 'h', { hostname: 'a.example' }));
    fake.apply(ambassador('Mapping', 'm', { prefix: '/m/' }));
    const events = new MemoryEventLog();
    const registry = new Registry();
    const ingestor = run(testIngestor(fake, events, { registry }));
    await ingestor.start();
    assert.deepEqual(describeEvents(await readAll(events)), ['upsert Mapping default/m', 'resync']);
    assert.equal(
      await metricValue(registry, 'attache_ingestor_kube_kind_unavailable', {
        kind: 'hosts.getambassador.io',
        reason: 'Forbidden',
      }),
      1,
    );
    fake.apply(ambassador('Mapping', 'm2', { prefix: '/m2/' }));
    await eventually(async () =>
      assert.ok(describeEvents(await readAll(events)).includes('upsert Mapping default/m2'), 'm2'),
    );
    fake.setRbacDenied('hosts', 'list', false);
    await eventually(async () => {
      const lines = describeEvents(await readAll(events));
      assert.deepEqual(lines.slice(3), ['upsert Host default/h', 'resync']);
    });
    assert.equal(
      await metricValue(registry, 'attache_ingestor_kube_kind_unavailable', {
        kind: 'hosts.getambassador.io',
        reason: 'Forbidden',
      }),
      0,
    );
  });

  test('kubernetes ingestor — watches v2 when v3alpha1 is not served, and skips a CRD that is missing', async () => {
    const fake = await setup({ exclude: ['getambassador.io/v3alpha1', 'x.getambassador.io/v3alpha1'] });
    fake.apply({
      apiVersion: 'getambassador.io/v2',
      kind: 'Mapping',
      metadata: { name: 'old' },
      spec: { prefix: '/old/' },
    });
    const events = new MemoryEventLog();
    const registry = new Registry();
    const ingestor = run(testIngestor(fake, events, { registry }));
    await ingestor.start();
    const all = await readAll(events);
    assert.deepEqual(describeEvents(all), ['upsert Mapping default/old', 'resync']);
    assert.equal(all[0]?.event.object?.apiVersion, 'getambassador.io/v2');
    assert.equal(
      await metricValue(registry, 'attache_ingestor_kube_kind_unavailable', {
        kind: 'listeners.getambassador.io',
        reason: 'NotFound',
      }),
      1,
      'Listener exists only in v3alpha1',
    );
    assert.equal(
      await metricValue(registry, 'attache_ingestor_kube_kind_unavailable', {
        kind: 'ambassadormappings.x.getambassador.io',
        reason: 'NotFound',
      }),
      1,
    );
  });

  test('kubernetes ingestor — while the log refuses publishes the outbox stays bounded and coalesced; every final state arrives after', async () => {
    const fake = await setup();
    const memory = new MemoryEventLog();
    const events = new FlakyEventLog(memory);
    const registry = new Registry();
    const ingestor = run(testIngestor(fake, events, { registry, maxBufferedObjects: 5, publishWindow: 2 }));
    await ingestor.start();
    events.failing = true;
    for (let v = 0; v < 3; v++)
      for (let i = 0; i < 20; i++) fake.apply(ambassador('Mapping', `b${i}`, { prefix: `/b${i}/v${v}/` }));
    fake.delete({ apiVersion: V3, kind: 'Mapping' }, 'default', 'b7');
    await eventually(async () =>
      assert.ok(
        (await metricValue(registry, 'attache_ingestor_kube_buffer_overflows_total')) > 0,
        'the outbox overflowed',
      ),
    );
    assert.ok(ingestor.buffered <= 7, `bounded: ${ingestor.buffered}`);
    assert.ok(
      (await metricValue(registry, 'attache_ingestor_pending_changes', { source: 'k8s' })) > 0,
      'gauge rose',
    );
    events.failing = false;
    await eventually(async () => {
      const finals = finalStates(await readAll(memory));
      for (let i = 0; i < 20; i++) {
        const e = finals.get(`Mapping default/b${i}`);
        if (i === 7) assert.equal(e?.event.op ?? 'delete', 'delete', 'b7 is gone');
        else
          assert.equal(
            (e?.event.object?.spec as { prefix?: string })?.prefix,
            `/b${i}/v2/`,
            `b${i} final state`,
          );
      }
    });
    await ingestor.flush();
    assert.equal(
      await metricValue(registry, 'attache_ingestor_pending_changes', { source: 'k8s' }),
      0,
      'gauge fell',
    );
    // Coalesced: far fewer events than the 61 changes made.
    const published = (await readAll(memory)).filter((e) => e.event.op !== 'resync').length;
    assert.ok(published < 45, `coalesced: ${published} events`);
  });
});
