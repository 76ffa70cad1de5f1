import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { SourceObject } from '../../shared/events/envelope.ts';
import { encodeManifest } from '../../shared/snapshot/manifest.ts';
import { compile } from './compile.ts';
import type { CompileResult, SourceRecord } from './contracts.ts';
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
