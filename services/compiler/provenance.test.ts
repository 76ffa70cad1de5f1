/**
 * Provenance: every generated route, virtual host, cluster, listener and secret names the source
 * objects that produced it, and only objects that exist.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { canonicalJson } from '../../shared/snapshot/manifest.ts';
import { MemorySnapshotStore } from '../../shared/snapshot/memory-snapshot-store.ts';
import {
  decodeProvenancePieces,
  encodeProvenancePieces,
  loadProvenance,
  objectId,
  type Provenance,
  type ProvenanceObject,
  type ProvenancePieces,
} from '../../shared/snapshot/provenance.ts';
import { sha256Hex } from '../../shared/xds/encoding.ts';
import { SECRET_TYPE } from '../../shared/xds/type-urls.ts';
import { compile } from './compile.ts';
import { listCases, loadCase, loadCaseOptions } from './golden-cases.ts';
import { buildSnapshot } from './runner-snapshot.ts';

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

/** Splits `p` (reusing `previous`) and checks the pieces against a split from nothing. */
function checkedPieces(p: Provenance, what: string, previous?: ProvenancePieces): ProvenancePieces {
  const pieces = encodeProvenancePieces(p, previous);
  const cold = encodeProvenancePieces(p);
  assert.deepEqual(pieces.hashes, cold.hashes, `${what}: the same pieces as a split from nothing`);
  for (const h of pieces.hashes) {
    const bytes = Buffer.from(pieces.blobs.get(h) as Uint8Array);
    assert.equal(sha256Hex(bytes), h, `${what}: piece ${h} is addressed by its content`);
    assert.equal(
      bytes.toString('utf8'),
      canonicalJson(JSON.parse(bytes.toString('utf8'))),
      `${what}: canonical`,
    );
  }
  assert.equal(
    canonicalJson(decodeProvenancePieces(pieces.hashes.map((h) => pieces.blobs.get(h) as Uint8Array))),
    canonicalJson(p),
    `${what}: the pieces merge back into the provenance`,
  );
  return pieces;
}

test('provenance — its pieces merge back into it, also after one object changes, and reuse every piece it left', () => {
  let compared = 0;
  for (const name of listCases()) {
    const { provenance } = compile(loadCase(name), { ...loadCaseOptions(name), group: 'default' });
    const first = checkedPieces(provenance, name);
    const [id, o] = Object.entries(provenance.objects)[0] ?? [];
    if (id === undefined || o === undefined) continue;
    const changed = {
      ...provenance,
      objects: { ...provenance.objects, [id]: { ...o, seq: (o.seq ?? 0) + 1 } },
    };
    const second = checkedPieces(changed, `${name} after ${id} changed`, first);
    assert.equal(
      second.hashes.filter((h) => !first.blobs.has(h)).length,
      1,
      `${name}: one object changed, one piece changed`,
    );
    compared++;
  }
  assert.ok(compared > 10, `compared only ${compared} golden cases`);
});

test('provenance — the pieces of a large map: one changed, added or deleted entry changes one piece', () => {
  const objects: Record<string, ProvenanceObject> = {};
  const object = (i: number, seq = i): ProvenanceObject => ({
    cluster: 'c',
    kind: 'Mapping',
    namespace: 'ns',
    name: `m-${String(i).padStart(4, '0')}`,
    seq,
  });
  for (let i = 0; i < 3000; i++) objects[objectId(object(i))] = object(i);
  const routes = { rc: { vh: Object.keys(objects).map((id) => [id]) }, empty: {} };
  const p: Provenance = {
    objects,
    resources: { [SECRET_TYPE]: {} },
    routes,
    virtualHosts: { rc: { vh: [] } },
  };
  let last = checkedPieces(p, 'first');
  assert.ok(last.hashes.length > 8, `a 3,000-object map is several pieces, not ${last.hashes.length}`);
  const step = (q: Provenance, what: string, changedPieces: number) => {
    const next = checkedPieces(q, what, last);
    const fresh = next.hashes.filter((h) => !last.blobs.has(h));
    assert.equal(fresh.length, changedPieces, `${what}: ${fresh.length} pieces changed`);
    last = next;
  };
  const ids = Object.keys(objects).sort();
  objects[ids[7] as string] = object(7, 1007);
  step({ ...p, objects }, 'one changed in place', 1);
  const copied = { ...objects, [ids[8] as string]: object(8, 1008) };
  step({ ...p, objects: copied }, 'one changed, by copy', 1);
  const added = { ...copied, [objectId(object(5000))]: object(5000) };
  step({ ...p, objects: added }, 'one added', 1);
  const { [ids[9] as string]: _, ...deleted } = added;
  step({ ...p, objects: deleted }, 'one deleted', 1);
  // In place, as the Mapping fast path does: values replaced, no key added or removed.
  for (let i = 0; i < 3000; i += 3)
    if (Object.hasOwn(deleted, ids[i] as string)) deleted[ids[i] as string] = object(i, 2000 + i);
  const objectPieces = last.sections.get('["objects"]')?.pieces.filter(Boolean).length ?? 0;
  step({ ...p, objects: deleted }, 'a third changed: every object piece, nothing else', objectPieces);
});

test('provenance — a manifest before pieces (one blob) and one with pieces load the same provenance', async () => {
  const { provenance } = compile(loadCase('canary-30'), { group: 'default' });
  const store = new MemorySnapshotStore();
  const epoch = await store.acquireEpoch('default');
  const snapshot = buildSnapshot('default', 1, compile(loadCase('canary-30'), { group: 'default' }));
  await store.commit({ epoch, manifest: snapshot.manifest, blobs: snapshot.blobs });
  const blob = Buffer.from(canonicalJson(provenance), 'utf8');
  const { provenancePieces: _, ...rest } = snapshot.manifest;
  const old = { ...rest, version: 2, provenance: sha256Hex(blob) };
  await store.commit({ epoch, manifest: old, blobs: new Map([...snapshot.blobs, [sha256Hex(blob), blob]]) });
  const getBlobs = (hashes: readonly string[]) => store.getBlobs(hashes);
  const want = canonicalJson(provenance);
  for (const version of [1, 2]) {
    const manifest = await store.getManifest('default', version);
    assert.ok(manifest);
    const loaded = await loadProvenance(manifest, getBlobs);
    assert.ok(loaded, `version ${version} has provenance`);
    assert.equal(canonicalJson(loaded), want, `version ${version}`);
    assert.equal(JSON.stringify(loaded), want, `version ${version}: maps in sorted order`);
  }
  assert.equal(
    await loadProvenance({ provenancePieces: ['0'.repeat(64)] }, getBlobs),
    null,
    'a piece missing',
  );
  assert.equal(await loadProvenance({}, getBlobs), null, 'none');
});
