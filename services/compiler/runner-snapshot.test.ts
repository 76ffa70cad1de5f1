import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { SourceObject } from '../../shared/events/envelope.ts';
import { decodeManifest, encodeManifest, manifestHashes } from '../../shared/snapshot/manifest.ts';
import { newHashes } from '../../shared/snapshot/redis-snapshot-store.ts';
import { chunkedResourceHash } from '../../shared/snapshot/resource-chunks.ts';
import { splitManifest } from '../../shared/snapshot/stored-manifest.ts';
import { sha256Hex } from '../../shared/xds/encoding.ts';
import {
  CLUSTER_TYPE,
  ENDPOINT_TYPE,
  LISTENER_TYPE,
  ROUTE_TYPE,
  type TypeUrl,
} from '../../shared/xds/type-urls.ts';
import { compile } from './compile.ts';
import type { CompiledResource, CompileResult, SourceRecord } from './contracts.ts';
import { IncrementalCompiler } from './incremental.ts';
import { type BuiltSnapshot, buildSnapshot } from './runner-snapshot.ts';
import { prng } from './test-prng.ts';

const mapping = (i: number, extra: Record<string, unknown> = {}): SourceRecord => ({
  cluster: 'east',
  object: {
    apiVersion: 'getambassador.io/v3alpha1',
    kind: 'Mapping',
    metadata: { name: `m-${String(i).padStart(3, '0')}`, namespace: 'default' },
    // Long prefixes: the route configuration is stored in chunks (route-chunks.ts).
    spec: { prefix: `/m-${i}/${'part/'.repeat(60)}`, service: 'svc-1', hostname: '*', ...extra },
  } as SourceObject,
});

const sorted = (m: ReadonlyMap<string, Uint8Array>) =>
  [...m].map(([h, b]) => [h, Buffer.from(b).toString('base64')]).sort();

test('buildSnapshot — built on the previous build, it equals a fresh build: manifest bytes and every blob', () => {
  const r = prng(7);
  const records = Array.from({ length: 300 }, (_, i) => mapping(i));
  const incremental = new IncrementalCompiler('default');
  let previous: { result: CompileResult; snapshot: BuiltSnapshot } | undefined;
  let chunked = 0;
  for (let step = 0; step < 12; step++) {
    if (step > 0) {
      const i = Math.floor(r() * records.length);
      // Mostly a Mapping's timeout (the fast path keeps every other resource object), sometimes
      // a new Mapping (a full compile: new objects everywhere).
      if (step % 5 === 0) records.push(mapping(records.length));
      else records[i] = mapping(i, { timeout_ms: 1000 + step });
    }
    const sortedRecords = [...records].sort((a, b) =>
      a.object.metadata.name < b.object.metadata.name ? -1 : 1,
    );
    const result = incremental.compile(sortedRecords, { group: 'default' });
    const built = buildSnapshot('default', step + 1, result, previous);
    const fresh = buildSnapshot('default', step + 1, compile(sortedRecords, { group: 'default' }));
    assert.deepEqual(
      Buffer.from(encodeManifest(built.manifest)).toString(),
      Buffer.from(encodeManifest(fresh.manifest)).toString(),
      `step ${step}: manifest`,
    );
    // Lookups first (the new hashes are indexed at once), then the whole map.
    for (const h of fresh.blobs.keys()) assert.ok(built.blobs.get(h), `step ${step}: blob ${h}`);
    assert.deepEqual(sorted(built.blobs), sorted(fresh.blobs), `step ${step}: blobs`);
    chunked += result.resources.filter((x) => x.chunks).length;
    previous = { result, snapshot: built };
  }
  assert.ok(incremental.fastPath >= 5, `only ${incremental.fastPath} fast-path compiles`);
  assert.ok(chunked > 0, 'no route configuration was stored in chunks');
});

/** A made-up resource: bytes from its name and version, in 1–3 chunks when `chunked`. */
function resource(typeUrl: TypeUrl, name: string, v: number, chunked: boolean, onDemand: boolean) {
  const bytes = Buffer.from(`${typeUrl} ${name} ${v} ${'x'.repeat(v % 7)}`, 'utf8');
  const r: CompiledResource = { typeUrl, name, bytes, hash: sha256Hex(bytes), message: {} };
  if (chunked) {
    const cut = Math.max(1, bytes.length >> 1);
    const chunks = [
      { start: 0, end: cut, hash: sha256Hex(bytes.subarray(0, cut)) },
      { start: cut, end: bytes.length, hash: sha256Hex(bytes.subarray(cut)) },
    ];
    r.chunks = chunks;
    r.hash = chunkedResourceHash(
      typeUrl,
      chunks.map((c) => c.hash),
    );
  }
  if (onDemand) r.onDemand = true;
  return r;
}

test('buildSnapshot — patching the changed entries equals a rebuilt manifest, stored pieces and new hashes, over random change sequences', () => {
  const r = prng(11);
  const types: TypeUrl[] = [CLUSTER_TYPE, ENDPOINT_TYPE, LISTENER_TYPE, ROUTE_TYPE];
  const provenance = { objects: {}, resources: {}, virtualHosts: {}, routes: {} };
  let patched = 0;
  for (let sequence = 0; sequence < 40; sequence++) {
    // Output order: by type URL, then name (encode.ts).
    let resources: CompiledResource[] = [];
    for (const t of types)
      for (let i = 0; i < 1 + Math.floor(r() * 120); i++)
        resources.push(
          resource(t, `${t.slice(-8)}/${String(i).padStart(4, '0')}`, 0, t === ROUTE_TYPE, r() < 0.05),
        );
    resources.sort((a, b) =>
      a.typeUrl < b.typeUrl ? -1 : a.typeUrl > b.typeUrl ? 1 : a.name < b.name ? -1 : 1,
    );
    let previous: { result: CompileResult; snapshot: BuiltSnapshot } | undefined;
    for (let step = 0; step < 15; step++) {
      if (step > 0) {
        resources = resources.slice();
        const kind = r();
        if (kind < 0.8) {
          // What the fast paths do: a few resources replaced, same type and name.
          for (let k = 0; k < 1 + Math.floor(r() * 3); k++) {
            const i = Math.floor(r() * resources.length);
            const was = resources[i] as CompiledResource;
            resources[i] = resource(was.typeUrl, was.name, step * 10 + k, !!was.chunks, r() < 0.1);
          }
        } else if (kind < 0.9) {
          // The same content in new objects (a full compile of an unchanged state).
          const i = Math.floor(r() * resources.length);
          resources[i] = { ...(resources[i] as CompiledResource) };
        } else {
          // A resource removed: the lists no longer line up.
          resources.splice(Math.floor(r() * resources.length), 1);
        }
      }
      const result: CompileResult = { resources, diagnostics: [], provenance };
      const built = buildSnapshot('g', step + 1, result, previous);
      const fresh = buildSnapshot('g', step + 1, result);
      const where = `sequence ${sequence} step ${step}`;
      assert.equal(
        Buffer.from(encodeManifest(built.manifest)).toString(),
        Buffer.from(encodeManifest(fresh.manifest)).toString(),
        `${where}: manifest`,
      );
      for (const h of manifestHashes(built.manifest)) assert.ok(built.blobs.get(h), `${where}: blob ${h}`);
      if (previous) {
        const before = previous.snapshot.manifest;
        // The stored form split on top of the previous one equals a split from scratch.
        splitManifest(before);
        const split = splitManifest(built.manifest, before);
        const scratch = splitManifest(decodeManifest(encodeManifest(built.manifest)));
        assert.equal(
          Buffer.from(split.bytes).toString(),
          Buffer.from(scratch.bytes).toString(),
          `${where}: stored`,
        );
        assert.deepEqual(
          split.pieces.map((p) => p.hash),
          scratch.pieces.map((p) => p.hash),
          `${where}: pieces`,
        );
        // The store's new hashes (what it checks and writes) cover every hash the base lacks.
        const known = new Set(manifestHashes(before));
        const listed = new Set(newHashes(built.manifest, before));
        for (const h of manifestHashes(built.manifest))
          if (!known.has(h)) assert.ok(listed.has(h), `${where}: new hash ${h} not listed`);
        if (Object.values(built.manifest.types).some((t, i) => t !== Object.values(before.types)[i]))
          patched++;
      }
      previous = { result, snapshot: built };
    }
  }
  assert.ok(patched > 300, `only ${patched} builds changed a type list`);
});
