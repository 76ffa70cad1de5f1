/**
 * The fake API server against the real `@kubernetes/client-node` 1.4 client: informers (list +
 * watch), typed APIs, the raw Watch, discovery. What it does not emulate is listed in fake-kube.ts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  ApisApi,
  CoreV1Api,
  CustomObjectsApi,
  type KubernetesObject,
  makeInformer,
  PatchStrategy,
  setHeaderOptions,
  Watch,
} from '@kubernetes/client-node';
import { eventually } from '../harness/eventually.ts';
import { type FakeKube, startFakeKube } from './fake-kube.ts';

const MAPPING = { apiVersion: 'getambassador.io/v3alpha1', kind: 'Mapping' };
const SERVICE = { apiVersion: 'v1', kind: 'Service' };

function mapping(name: string, prefix: string, namespace = 'default') {
  return { ...MAPPING, metadata: { name, namespace }, spec: { prefix, service: 'backend' } };
}

function service(name: string, namespace = 'default', labels: Record<string, string> = {}) {
  return { ...SERVICE, metadata: { name, namespace, labels }, spec: { ports: [{ port: 80 }] } };
}

interface Seen {
  events: string[];
  errors: unknown[];
}

function mappingInformer(fake: FakeKube, namespace?: string) {
  const kc = fake.kubeconfig();
  const api = kc.makeApiClient(CustomObjectsApi);
  const base = { group: 'getambassador.io', version: 'v3alpha1', plural: 'mappings' };
  const path = namespace
    ? `/apis/getambassador.io/v3alpha1/namespaces/${namespace}/mappings`
    : '/apis/getambassador.io/v3alpha1/mappings';
  const informer = makeInformer<KubernetesObject>(kc, path, () =>
    namespace ? api.listNamespacedCustomObject({ ...base, namespace }) : api.listClusterCustomObject(base),
  );
  const seen: Seen = { events: [], errors: [] };
  for (const verb of ['add', 'update', 'delete'] as const) {
    informer.on(verb, (o) => seen.events.push(`${verb} ${o.metadata?.name} ${o.metadata?.resourceVersion}`));
  }
  informer.on('error', (err) => seen.errors.push(err));
  return { informer, seen };
}

const listCount = (fake: FakeKube, resource: string) =>
  fake.requests().filter((r) => r.verb === 'list' && r.resource === resource).length;

describe('fake kube API server', () => {
  let fake: FakeKube;

  before(async () => {
    fake = await startFakeKube({ bookmarkIntervalMs: 100 });
  });

  after(async () => {
    await fake.close();
  });

  test('fake kube — discovery lists the Emissary groups, both versions and the status subresource', async () => {
    const kc = fake.kubeconfig();
    const groups = await kc.makeApiClient(ApisApi).getAPIVersions();
    const ambassador = groups.groups.find((g) => g.name === 'getambassador.io');
    assert.deepEqual(ambassador?.versions.map((v) => v.version).sort(), ['v2', 'v3alpha1']);
    assert.equal(ambassador?.preferredVersion?.version, 'v3alpha1');
    assert.ok(
      groups.groups.some((g) => g.name === 'x.getambassador.io'),
      'x.getambassador.io served',
    );
    const res = await fetch(`${fake.url}/apis/getambassador.io/v3alpha1`).then((r) => r.json());
    const names = (res as { resources: { name: string; namespaced: boolean }[] }).resources.map(
      (r) => r.name,
    );
    assert.ok(names.includes('listeners') && names.includes('mappings/status'), names.join());
    const v2 = await fetch(`${fake.url}/apis/getambassador.io/v2`).then((r) => r.json());
    assert.ok(
      !(v2 as { resources: { name: string }[] }).resources.some((r) => r.name === 'listeners'),
      'no v2 Listener',
    );
    const core = await kc.makeApiClient(CoreV1Api).getAPIResources();
    assert.ok(
      core.resources.some((r) => r.name === 'endpoints' && r.namespaced),
      'core endpoints',
    );
  });

  test('fake kube — an informer lists, then sees add, update and delete in order with rising resourceVersions', async () => {
    fake.apply(mapping('inf-a', '/a/', 'inf'));
    const { informer, seen } = mappingInformer(fake, 'inf');
    await informer.start();
    assert.equal(informer.list('inf').length, 1);
    fake.apply(mapping('inf-b', '/b/', 'inf'));
    fake.apply(mapping('inf-a', '/a2/', 'inf'));
    fake.apply(mapping('other', '/o/', 'elsewhere'));
    fake.delete(MAPPING, 'inf', 'inf-b');
    await eventually(() => assert.equal(seen.events.length, 4));
    assert.deepEqual(
      seen.events.map((e) => e.split(' ').slice(0, 2).join(' ')),
      ['add inf-a', 'add inf-b', 'update inf-a', 'delete inf-b'],
    );
    const rvs = seen.events.map((e) => Number(e.split(' ')[2]));
    assert.ok(
      rvs.slice(1).every((rv, i) => rv > (rvs[i] as number)),
      `rising: ${rvs.join(',')}`,
    );
    assert.equal(
      informer.get('inf-a', 'inf')?.metadata?.resourceVersion,
      fake.get(MAPPING, 'inf', 'inf-a')?.metadata.resourceVersion,
    );
    assert.equal(informer.get('other', 'elsewhere'), undefined);
    await informer.stop();
  });

  test('fake kube — a dropped watch resumes from the last resourceVersion without a relist', async () => {
    const { informer, seen } = mappingInformer(fake, 'drop');
    await informer.start();
    const lists = listCount(fake, 'mappings.getambassador.io');
    assert.ok(fake.dropWatches() >= 1, 'a watch was open');
    fake.apply(mapping('d1', '/d1/', 'drop'));
    await eventually(() =>
      assert.deepEqual(
        seen.events.map((e) => e.split(' ')[1]),
        ['d1'],
      ),
    );
    assert.equal(listCount(fake, 'mappings.getambassador.io'), lists);
    await eventually(() => assert.ok(fake.openWatches() >= 1, 'the informer watches again'));
    await informer.stop();
  });

  test('fake kube — after compaction a watch from an old revision gets a 410 ERROR and the informer relists', async () => {
    fake.apply(mapping('c1', '/c1/', 'compact'));
    const { informer, seen } = mappingInformer(fake, 'compact');
    await informer.start();
    // The informer's watch is older than the compaction once it is dropped: it must relist.
    await informer.stop();
    fake.apply(mapping('c2', '/c2/', 'compact'));
    fake.delete(MAPPING, 'compact', 'c1');
    fake.compact();
    const lists = listCount(fake, 'mappings.getambassador.io');
    await informer.start();
    await eventually(() => assert.equal(listCount(fake, 'mappings.getambassador.io'), lists + 1));
    await eventually(() =>
      assert.deepEqual(
        informer.list('compact').map((o) => o.metadata?.name),
        ['c2'],
      ),
    );
    assert.ok(
      seen.events.some((e) => e.startsWith('delete c1')),
      'the relist deleted c1',
    );

    const raw: { type: string; object: { code?: number; reason?: string } }[] = [];
    const ended = new Promise<void>((resolve) => {
      void new Watch(fake.kubeconfig()).watch(
        '/apis/getambassador.io/v3alpha1/namespaces/compact/mappings',
        { resourceVersion: '2' },
        (type, object) => raw.push({ type, object }),
        () => resolve(),
      );
    });
    await ended;
    assert.deepEqual(
      raw.map((e) => [e.type, e.object.code]),
      [['ERROR', 410]],
    );
    await informer.stop();
  });

  test('fake kube — list chunking with limit and continue, and an expired continue token gets 410', async () => {
    for (let i = 0; i < 5; i++) fake.apply(service(`s${i}`, 'chunk'));
    const core = fake.kubeconfig().makeApiClient(CoreV1Api);
    const names: string[] = [];
    let token: string | undefined;
    let pages = 0;
    let rv: string | undefined;
    do {
      const page = await core.listNamespacedService({
        namespace: 'chunk',
        limit: 2,
        ...(token ? { _continue: token } : {}),
      });
      rv ??= page.metadata?.resourceVersion;
      assert.equal(page.metadata?.resourceVersion, rv, 'every page carries the first page revision');
      names.push(...page.items.map((s) => s.metadata?.name ?? ''));
      token = page.metadata?._continue;
      pages++;
    } while (token);
    assert.deepEqual(names, ['s0', 's1', 's2', 's3', 's4']);
    assert.equal(pages, 3);
    const first = await core.listNamespacedService({ namespace: 'chunk', limit: 2 });
    fake.apply(service('s5', 'chunk'));
    fake.compact();
    await assert.rejects(
      core.listNamespacedService({
        namespace: 'chunk',
        limit: 2,
        _continue: first.metadata?._continue as string,
      }),
      (err: { code?: number }) => err.code === 410,
    );
    // Built-in list items carry no apiVersion/kind, as from a real API server.
    const raw = (await fetch(`${fake.url}/api/v1/namespaces/chunk/services?limit=1`).then((r) =>
      r.json(),
    )) as {
      kind: string;
      items: Record<string, unknown>[];
    };
    assert.equal(raw.kind, 'ServiceList');
    assert.equal(raw.items[0]?.kind, undefined);
  });

  test('fake kube — label and field selectors filter lists and watches', async () => {
    fake.apply(service('web', 'sel', { app: 'web' }));
    fake.apply(service('db', 'sel', { app: 'db' }));
    fake.apply(service('web', 'sel2', { app: 'web' }));
    const core = fake.kubeconfig().makeApiClient(CoreV1Api);
    const byLabel = await core.listServiceForAllNamespaces({ labelSelector: 'app=web' });
    assert.deepEqual(
      byLabel.items.map((s) => `${s.metadata?.namespace}/${s.metadata?.name}`),
      ['sel/web', 'sel2/web'],
    );
    const both = await core.listServiceForAllNamespaces({
      labelSelector: 'app=web',
      fieldSelector: 'metadata.namespace=sel',
    });
    assert.deepEqual(
      both.items.map((s) => s.metadata?.name),
      ['web'],
    );
    const notWeb = await core.listNamespacedService({ namespace: 'sel', labelSelector: 'app!=web' });
    assert.deepEqual(
      notWeb.items.map((s) => s.metadata?.name),
      ['db'],
    );
    await assert.rejects(
      core.listServiceForAllNamespaces({ labelSelector: 'app in (web)' }),
      (e: { code?: number }) => e.code === 400,
    );

    const seen: string[] = [];
    const ctl = await new Watch(fake.kubeconfig()).watch(
      '/api/v1/namespaces/sel/services',
      { labelSelector: 'app=web', resourceVersion: fake.resourceVersion() },
      (type, o: KubernetesObject) => seen.push(`${type} ${o.metadata?.name}`),
      () => {},
    );
    fake.apply(service('db', 'sel', { app: 'web' })); // enters the selector
    fake.apply(service('web', 'sel', { app: 'api' })); // leaves it
    await eventually(() => assert.deepEqual(seen, ['ADDED db', 'DELETED web']));
    ctl.abort();
  });

  test('fake kube — watches that allow bookmarks receive BOOKMARK events with the current revision', async () => {
    const events: { type: string; rv: string }[] = [];
    const ctl = await new Watch(fake.kubeconfig()).watch(
      '/api/v1/services',
      { allowWatchBookmarks: true, resourceVersion: fake.resourceVersion() },
      (type, o: KubernetesObject) => events.push({ type, rv: o.metadata?.resourceVersion ?? '' }),
      () => {},
    );
    await eventually(() =>
      assert.ok(
        events.some((e) => e.type === 'BOOKMARK'),
        'a bookmark arrived',
      ),
    );
    assert.equal(events.find((e) => e.type === 'BOOKMARK')?.rv, fake.resourceVersion());
    ctl.abort();
  });

  test('fake kube — the status subresource changes only status, bumps the revision, and rejects a stale resourceVersion with 409', async () => {
    const stored = fake.apply({ ...mapping('st', '/st/', 'status') });
    const kc = fake.kubeconfig();
    const api = kc.makeApiClient(CustomObjectsApi);
    const ref = {
      group: 'getambassador.io',
      version: 'v3alpha1',
      namespace: 'status',
      plural: 'mappings',
      name: 'st',
    };
    const replaced = (await api.replaceNamespacedCustomObjectStatus({
      ...ref,
      body: { ...stored, spec: { prefix: '/ignored/' }, status: { state: 'Running' } },
    })) as { spec: { prefix: string }; status: { state: string }; metadata: { resourceVersion: string } };
    assert.equal(replaced.status.state, 'Running');
    assert.equal(replaced.spec.prefix, '/st/', 'a status write never changes the spec');
    assert.ok(
      Number(replaced.metadata.resourceVersion) > Number(stored.metadata.resourceVersion),
      'revision bumped',
    );

    await assert.rejects(
      api.replaceNamespacedCustomObjectStatus({ ...ref, body: { ...stored, status: { state: 'Stale' } } }),
      (e: { code?: number }) => e.code === 409,
    );
    const patched = (await api.patchNamespacedCustomObjectStatus(
      { ...ref, body: { status: { state: 'Inactive' } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    )) as { status: { state: string }; metadata: { resourceVersion: string } };
    assert.equal(patched.status.state, 'Inactive');
    // A write that changes nothing keeps the revision.
    const again = (await api.patchNamespacedCustomObjectStatus(
      { ...ref, body: [{ op: 'replace', path: '/status/state', value: 'Inactive' }] },
      setHeaderOptions('Content-Type', PatchStrategy.JsonPatch),
    )) as { metadata: { resourceVersion: string } };
    assert.equal(again.metadata.resourceVersion, patched.metadata.resourceVersion);
    // The main resource keeps the stored status on replace.
    const main = (await api.replaceNamespacedCustomObject({
      ...ref,
      body: { ...fake.get(MAPPING, 'status', 'st'), spec: { prefix: '/new/' }, status: { state: 'Hacked' } },
    })) as { spec: { prefix: string }; status: { state: string } };
    assert.deepEqual([main.spec.prefix, main.status.state], ['/new/', 'Inactive']);

    const writes = fake.statusWrites().filter((w) => w.name === 'st');
    assert.deepEqual(
      writes.map((w) => [w.method, w.code, w.changed]),
      [
        ['PUT', 200, true],
        ['PUT', 409, false],
        ['PATCH', 200, true],
        ['PATCH', 200, false],
      ],
    );
  });

  test('fake kube — RBAC denial answers 403 Forbidden for that resource and verb only', async () => {
    const kc = fake.kubeconfig();
    const api = kc.makeApiClient(CustomObjectsApi);
    fake.setRbacDenied('hosts', 'list');
    await assert.rejects(
      api.listClusterCustomObject({ group: 'getambassador.io', version: 'v3alpha1', plural: 'hosts' }),
      (e: { code?: number; body?: string }) => e.code === 403 && /Forbidden/.test(String(e.body)),
    );
    await api.listClusterCustomObject({ group: 'getambassador.io', version: 'v3alpha1', plural: 'mappings' });
    fake.setRbacDenied('hosts', 'list', false);
    await api.listClusterCustomObject({ group: 'getambassador.io', version: 'v3alpha1', plural: 'hosts' });

    fake.setRbacDenied('mappings.getambassador.io', 'watch');
    const { informer, seen } = mappingInformer(fake);
    await informer.start();
    await eventually(() =>
      assert.ok(
        seen.errors.some((e) => (e as { statusCode?: number }).statusCode === 403),
        'the informer reported 403',
      ),
    );
    fake.setRbacDenied('mappings.getambassador.io', 'watch', false);
    await informer.stop();
  });

  test('fake kube — a type that is not served answers 404 and discovery drops it', async () => {
    fake.setServed('getambassador.io/v3alpha1', 'listeners', false);
    const res = await fetch(`${fake.url}/apis/getambassador.io/v3alpha1/listeners`);
    assert.equal(res.status, 404);
    assert.equal(((await res.json()) as { reason: string }).reason, 'NotFound');
    const d = (await fetch(`${fake.url}/apis/getambassador.io/v3alpha1`).then((r) => r.json())) as {
      resources: { name: string }[];
    };
    assert.ok(!d.resources.some((r) => r.name === 'listeners'), 'listeners dropped from discovery');
    fake.setServed('getambassador.io/v3alpha1', 'listeners', true);
    assert.equal((await fetch(`${fake.url}/apis/getambassador.io/v3alpha1/listeners`)).status, 200);
  });

  test('fake kube — v2 and v3alpha1 share storage; only apiVersion is rewritten', async () => {
    fake.apply({
      apiVersion: 'getambassador.io/v2',
      kind: 'Host',
      metadata: { name: 'h', namespace: 'ver' },
      spec: { hostname: 'x' },
    });
    const v3 = (await fetch(`${fake.url}/apis/getambassador.io/v3alpha1/namespaces/ver/hosts/h`).then((r) =>
      r.json(),
    )) as {
      apiVersion: string;
      spec: { hostname: string };
    };
    assert.deepEqual([v3.apiVersion, v3.spec.hostname], ['getambassador.io/v3alpha1', 'x']);
  });
});
