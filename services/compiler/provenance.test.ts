/**
 * Provenance: every generated route, virtual host, cluster, listener and secret names the source
 * objects that produced it, and only objects that exist.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { objectId } from '../../shared/snapshot/provenance.ts';
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
