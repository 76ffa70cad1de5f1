/**
 * Provenance: every generated route, virtual host, cluster, listener and secret names the source
 * objects that produced it, and only objects that exist.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { canonicalJson } from '../../shared/snapshot/manifest.ts';
import {
  encodeProvenance,
  objectId,
  type Provenance,
  type ProvenanceObject,
} from '../../shared/snapshot/provenance.ts';
import { SECRET_TYPE } from '../../shared/xds/type-urls.ts';
import { compile } from './compile.ts';
import { listCases, loadCase, loadCaseOptions } from './golden-cases.ts';

test('provenance — every route of every golden case names at least one existing source object', () => {
  let routes = 0;
  for (const name of listCases()) {
    const records = loadCase(name);
    const ids = new Set(
      records.map((r) =>
        objectId({
          cluster: r.cluster,
          kind: r.object.kind,
          namespace: r.object.metadata.namespace ?? '',
          name: r.object.metadata.name,
        }),
      ),
    );
    const { provenance } = compile(records, { ...loadCaseOptions(name), group: 'default' });
    for (const [rc, vhosts] of Object.entries(provenance.routes)) {
      for (const [vh, perRoute] of Object.entries(vhosts)) {
        perRoute.forEach((sources, i) => {
          routes++;
          assert.ok(sources.length > 0, `${name}: ${rc} ${vh} route ${i} has no source`);
          for (const id of sources) assert.ok(ids.has(id), `${name}: ${id} is not a source object`);
        });
      }
    }
    for (const id of Object.keys(provenance.objects)) assert.ok(ids.has(id), `${name}: unknown ${id}`);
  }
  assert.ok(routes > 100, `expected the golden cases to hold many routes, saw ${routes}`);
});

test('provenance — a weighted route names its own Mapping, with file and document', () => {
  const { provenance } = compile(loadCase('canary-30'), { group: 'default' });
  const socket = Object.values(provenance.routes['ambassador-listener-8080-routes'] ?? {})[0] ?? [];
  assert.deepEqual(socket, [['test/Mapping/default/echo-canary'], ['test/Mapping/default/echo']]);
  assert.deepEqual(provenance.objects['test/Mapping/default/echo-canary'], {
    cluster: 'test',
    kind: 'Mapping',
    namespace: 'default',
    name: 'echo-canary',
    file: 'config.yaml',
    document: 1,
  });
  const api = provenance.routes['api:echo.local'];
  assert.ok(api, 'the proxyless gRPC route table is traced too');
  assert.deepEqual(Object.values(api)[0], [
    ['test/Mapping/default/echo-canary'],
    ['test/Mapping/default/echo'],
  ]);
});

test('provenance — a TLS secret traces to its Host and its Kubernetes Secret', () => {
  const { provenance } = compile(loadCase('edge-host-tls'), { group: 'default' });
  const secrets = provenance.resources[SECRET_TYPE] ?? {};
  assert.ok(Object.keys(secrets).length > 0);
  for (const [name, ids] of Object.entries(secrets)) {
    assert.ok(
      ids.some((id) => id.includes('/Host/')),
      `${name} names a Host: ${ids.join(', ')}`,
    );
    assert.ok(
      ids.some((id) => id.includes('/Secret/')),
      `${name} names a Secret: ${ids.join(', ')}`,
    );
  }
});

test('provenance — the blob built from cached pieces is its canonical JSON, also after one object changes', () => {
  let compared = 0;
  for (const name of listCases()) {
    const { provenance } = compile(loadCase(name), { ...loadCaseOptions(name), group: 'default' });
    const want = (p: typeof provenance) => Buffer.from(canonicalJson(p), 'utf8');
    assert.deepEqual(Buffer.from(encodeProvenance(provenance)), want(provenance), name);
    // Twice: the second time from the cache.
    assert.deepEqual(Buffer.from(encodeProvenance(provenance)), want(provenance), name);
    const [id, o] = Object.entries(provenance.objects)[0] ?? [];
    if (id === undefined || o === undefined) continue;
    const changed = {
      ...provenance,
      objects: { ...provenance.objects, [id]: { ...o, seq: (o.seq ?? 0) + 1 } },
    };
    assert.deepEqual(Buffer.from(encodeProvenance(changed)), want(changed), `${name} after ${id} changed`);
    compared++;
  }
  assert.ok(compared > 10, `compared only ${compared} golden cases`);
});

test('provenance — the cached blob of a large map stays its canonical JSON when entries change in place or by copy', () => {
  const objects: Record<string, ProvenanceObject> = {};
  for (let i = 0; i < 300; i++) {
    const o = {
      cluster: 'c',
      kind: 'Mapping',
      namespace: 'ns',
      name: `m-${String(i).padStart(3, '0')}`,
      seq: i,
    };
    objects[objectId(o)] = o;
  }
  const p: Provenance = { objects, resources: {}, routes: {}, virtualHosts: {} };
  const check = (q: Provenance, what: string) =>
    assert.deepEqual(Buffer.from(encodeProvenance(q)), Buffer.from(canonicalJson(q), 'utf8'), what);
  check(p, 'first');
  const ids = Object.keys(objects).sort();
  for (const changes of [[0], [299], [5, 6, 150], ids.map((_, i) => i).filter((i) => i % 4 === 0)]) {
    for (const i of changes) {
      const id = ids[i] as string;
      objects[id] = { ...(objects[id] as ProvenanceObject), seq: 1000 + i, resourceVersion: `rv-${i}` };
    }
    check({ ...p, objects }, `in place: ${changes.length} changed`);
    check({ ...p, objects: { ...objects } }, `copied: ${changes.length} changed`);
  }
});
