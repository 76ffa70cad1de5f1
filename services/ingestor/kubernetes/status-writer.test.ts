/**
 * Status write-back against a real nats-server (KV) and the fake Kubernetes API server (the one
 * stand-in: no kube-apiserver can run here). The compiler side is the real StatusPublisher fed
 * by real compile() results.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type KV, Kvm } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Registry } from 'prom-client';
import type { SourceObject } from '../../../shared/events/envelope.ts';
import { STATUS_BUCKET, statusKey } from '../../../shared/events/status-keys.ts';
import { createLogger } from '../../../shared/runtime/logger.ts';
import { DEFAULT_RESOURCE_TYPES, type FakeKube, startFakeKube } from '../../../test/fake-kube/fake-kube.ts';
import { eventually } from '../../../test/harness/eventually.ts';
import { startNats, type TestServer } from '../../../test/harness/servers.ts';
import { compile } from '../../compiler/compile.ts';
import type { SourceRecord } from '../../compiler/contracts.ts';
import { StatusPublisher } from '../../compiler/status-publisher.ts';
import { LeaderElector } from './leader-election.ts';
import { IngressStatusSync } from './status-ingress.ts';
import { StatusWriter } from './status-writer.ts';

/** coordination.k8s.io/v1 leases, served in addition to the fake's default types. */
export const LEASE_TYPE = {
  group: 'coordination.k8s.io',
  version: 'v1',
  plural: 'leases',
  kind: 'Lease',
  namespaced: true,
  builtin: true,
  statusSubresource: false,
} as const;

const log = createLogger('test', 'warn');
const MAPPING = { apiVersion: 'getambassador.io/v3alpha1', kind: 'Mapping' };

function mapping(name: string, spec: Record<string, unknown>): SourceObject {
  return { ...MAPPING, metadata: { name, namespace: 'apps', generation: 1 }, spec };
}

describe('status write-back', () => {
  let nats: TestServer;
  let kube: FakeKube;
  let nc: NatsConnection;
  let kv: KV;

  before(async () => {
    nats = await startNats();
    kube = await startFakeKube({ resources: [...DEFAULT_RESOURCE_TYPES, LEASE_TYPE] });
    nc = await connect({ servers: nats.url });
    kv = await new Kvm(nc).create(STATUS_BUCKET, { history: 1 });
  });

  after(async () => {
    await nc?.close();
    await kube?.close();
    await nats?.dispose();
  });

  test('status write-back — Mapping status is written once per change, never when unchanged', async () => {
    const good = mapping('good', { prefix: '/good/', service: 'good:80' });
    const bad = mapping('bad', { prefix: '/bad/', service: 'bad:80', weight: 'heavy' });
    for (const o of [good, bad]) kube.apply(o);
    const publisher = new StatusPublisher({
      url: nats.url,
      log,
      registry: new Registry(),
      groups: ['default'],
    });
    await publisher.start();
    const writer = new StatusWriter({
      cluster: 'east',
      kubeConfig: kube.kubeconfig(),
      kv,
      log,
      registry: new Registry(),
    });
    await writer.start();
    try {
      const commit = (version: number, objects: SourceObject[]) => {
        const records: SourceRecord[] = objects.map((object) => ({ cluster: 'east', object }));
        const { diagnostics } = compile(records, { group: 'default' });
        publisher.onCommit({ group: 'default', version, records, diagnostics });
      };
      commit(10, [good, bad]);
      await eventually(() => {
        const stored = (n: string) => kube.get(MAPPING, 'apps', n)?.status as Record<string, unknown>;
        assert.deepEqual(stored('good'), { state: 'Running' });
        assert.equal(stored('bad')?.state, 'Inactive');
        assert.match(String(stored('bad')?.reason), /weight/);
      });
      const entry = await kv.get(
        statusKey({ cluster: 'east', kind: 'Mapping', namespace: 'apps', name: 'bad' }),
      );
      assert.equal(entry?.json<{ version: number }>().version, 10);
      const writesAfterFirst = kube.statusWrites().filter((w) => w.changed).length;
      assert.equal(writesAfterFirst, 2);

      // The same statuses again (a new snapshot version): no KV write, no Kubernetes write.
      const revision = (await kv.status()).values;
      commit(11, [good, bad]);
      await publisher.idle();
      await new Promise((r) => setTimeout(r, 300));
      await writer.idle();
      assert.equal((await kv.status()).values, revision, 'unchanged statuses are not re-published');
      assert.equal(kube.statusWrites().length, writesAfterFirst, 'no status PUT when nothing changed');

      // A restarted compiler's publisher reads what is written from the bucket: the same
      // statuses are not published again.
      const restarted = new StatusPublisher({
        url: nats.url,
        log,
        registry: new Registry(),
        groups: ['default'],
      });
      await restarted.start();
      try {
        const records: SourceRecord[] = [good, bad].map((object) => ({ cluster: 'east', object }));
        const { diagnostics } = compile(records, { group: 'default' });
        restarted.onCommit({ group: 'default', version: 11, records, diagnostics });
        await restarted.idle();
        assert.equal((await kv.status()).values, revision, 'a restarted publisher re-publishes nothing');
      } finally {
        await restarted.close();
      }

      // Fixing the bad Mapping: exactly one more write.
      const fixed = mapping('bad', { prefix: '/bad/', service: 'bad:80' });
      kube.apply(fixed);
      commit(12, [good, fixed]);
      await eventually(() =>
        assert.deepEqual(kube.get(MAPPING, 'apps', 'bad')?.status, { state: 'Running' }),
      );
      await writer.idle();
      assert.equal(kube.statusWrites().filter((w) => w.changed).length, writesAfterFirst + 1);
      assert.ok(kube.statusWrites().every((w) => w.code === 200));
    } finally {
      await writer.close();
      await publisher.close();
    }
  });

  test('status publisher — a commit that replaces a few records under the same diagnostics updates only theirs, as a full pass would', async () => {
    const publisher = new StatusPublisher({
      url: nats.url,
      log,
      registry: new Registry(),
      groups: ['default'],
    });
    await publisher.start();
    try {
      const objects = [
        mapping('inc-a', { prefix: '/a/', service: 'a:80' }),
        mapping('inc-b', { prefix: '/b/', service: 'b:80', weight: 'heavy' }),
        mapping('inc-c', { prefix: '/c/', service: 'c:80' }),
      ];
      const records: SourceRecord[] = objects.map((object) => ({ cluster: 'east', object }));
      const { diagnostics } = compile(records, { group: 'default' });
      publisher.onCommit({ group: 'default', version: 20, records, diagnostics });
      await publisher.idle();
      const state = async (name: string) => {
        const entry = await kv.get(statusKey({ cluster: 'east', kind: 'Mapping', namespace: 'apps', name }));
        return entry?.operation === 'PUT' ? entry.json<{ state: string }>().state : undefined;
      };
      assert.equal(await state('inc-a'), 'accepted');
      assert.equal(await state('inc-b'), 'error');
      // inc-c's record is replaced by inc-d's (same position, same diagnostics: the incremental
      // path): inc-c's status goes, inc-d's comes; the others are untouched.
      const next = [...records];
      next[2] = { cluster: 'east', object: mapping('inc-d', { prefix: '/c/', service: 'c:80' }) };
      publisher.onCommit({ group: 'default', version: 21, records: next, diagnostics });
      await publisher.idle();
      assert.equal(await state('inc-c'), undefined, 'the replaced object keeps no status');
      assert.equal(await state('inc-d'), 'accepted');
      assert.equal(await state('inc-b'), 'error');
    } finally {
      await publisher.close();
    }
  });

  test('status write-back — only the lease holder writes; the other replica takes over on release', async () => {
    kube.apply(mapping('leased', { prefix: '/leased/', service: 'x:80' }));
    const mk = (identity: string) =>
      new LeaderElector({
        cluster: 'west',
        kubeConfig: kube.kubeconfig(),
        namespace: 'attache',
        leaseName: 'attache-status-west',
        identity,
        retryPeriodMs: 100,
        leaseDurationSec: 2,
        renewDeadlineMs: 1500,
        log,
        registry: new Registry(),
      });
    const a = mk('replica-a');
    const b = mk('replica-b');
    await a.start();
    await b.start();
    try {
      await eventually(() => assert.equal(Number(a.isLeader()) + Number(b.isLeader()), 1));
      const leader = a.isLeader() ? a : b;
      const follower = leader === a ? b : a;
      const writerOf = (e: LeaderElector) =>
        new StatusWriter({
          cluster: 'west',
          kubeConfig: kube.kubeconfig(),
          kv,
          log,
          registry: new Registry(),
          isLeader: () => e.isLeader(),
        });
      const followerWriter = writerOf(follower);
      await followerWriter.start();
      await kv.put(
        statusKey({ cluster: 'west', kind: 'Mapping', namespace: 'apps', name: 'leased' }),
        JSON.stringify({ state: 'accepted', reason: '', version: 1 }),
      );
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(kube.get(MAPPING, 'apps', 'leased')?.status, undefined, 'a follower writes nothing');

      await leader.close();
      await eventually(() => assert.ok(follower.isLeader(), 'the follower acquires the released lease'));
      followerWriter.leadershipChanged();
      await eventually(() =>
        assert.deepEqual(kube.get(MAPPING, 'apps', 'leased')?.status, { state: 'Running' }),
      );
      const lease = kube.get(
        { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease' },
        'attache',
        'attache-status-west',
      );
      const spec = lease?.spec as Record<string, unknown>;
      assert.equal(spec.holderIdentity, follower === a ? 'replica-a' : 'replica-b');
      assert.equal(spec.leaseTransitions, 1);
      await followerWriter.close();
    } finally {
      await a.close();
      await b.close();
    }
  });

  test('status write-back — Ingress load-balancer status follows the Attaché Service, written only when different', async () => {
    kube.apply({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: {
        name: 'attache',
        namespace: 'attache',
        labels: { 'app.kubernetes.io/component': 'ambassador-service' },
      },
      spec: { type: 'LoadBalancer', ports: [{ port: 80 }] },
      status: { loadBalancer: { ingress: [{ ip: '203.0.113.7' }] } },
    });
    kube.apply({
      apiVersion: 'networking.k8s.io/v1',
      kind: 'IngressClass',
      metadata: { name: 'attache' },
      spec: { controller: 'getambassador.io/ingress-controller' },
    });
    const ingress = (name: string, spec: Record<string, unknown>, annotations: Record<string, string> = {}) =>
      kube.apply({
        apiVersion: 'networking.k8s.io/v1',
        kind: 'Ingress',
        metadata: { name, namespace: 'apps', annotations },
        spec,
      });
    ingress('by-class', {
      ingressClassName: 'attache',
      defaultBackend: { service: { name: 'x', port: { number: 80 } } },
    });
    ingress('by-annotation', {}, { 'kubernetes.io/ingress.class': 'ambassador' });
    ingress('not-ours', { ingressClassName: 'nginx' });
    const sync = new IngressStatusSync({
      cluster: 'east',
      kubeConfig: kube.kubeconfig(),
      serviceNamespace: 'attache',
      log,
    });
    await sync.start();
    await sync.syncNow();
    const ING = { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress' };
    const lbOf = (n: string) =>
      (kube.get(ING, 'apps', n)?.status as { loadBalancer?: unknown } | undefined)?.loadBalancer;
    assert.deepEqual(lbOf('by-class'), { ingress: [{ ip: '203.0.113.7' }] });
    assert.deepEqual(lbOf('by-annotation'), { ingress: [{ ip: '203.0.113.7' }] });
    assert.equal(lbOf('not-ours'), undefined);
    assert.equal(sync.written, 2);
    await sync.syncNow();
    assert.equal(sync.written, 2, 'in-sync Ingresses are not written again');
    // Inputs are watched: a new load-balancer address reaches the Ingresses with no call here,
    // and nothing is listed again to find it.
    const lists = () => kube.requests().filter((r) => r.verb === 'list').length;
    const listsBefore = lists();
    kube.apply({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: {
        name: 'attache',
        namespace: 'attache',
        labels: { 'app.kubernetes.io/component': 'ambassador-service' },
      },
      spec: { type: 'LoadBalancer', ports: [{ port: 80 }] },
      status: { loadBalancer: { ingress: [{ ip: '203.0.113.8' }] } },
    });
    await eventually(() => assert.deepEqual(lbOf('by-class'), { ingress: [{ ip: '203.0.113.8' }] }));
    await eventually(() => assert.deepEqual(lbOf('by-annotation'), { ingress: [{ ip: '203.0.113.8' }] }));
    assert.equal(lbOf('not-ours'), undefined);
    assert.equal(lists(), listsBefore, 'no list: the change arrived through the watches');
    await sync.close();
  });
});
