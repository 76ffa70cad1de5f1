/**
 * encodeProvenancePieces patched from a noted change (noteObjectsChanged, as the Mapping fast
 * path notes it) gives the pieces a split from nothing gives, over random in-place changes,
 * including ones that grow the section past a bucket boundary and notes that do not match.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { prng } from '../../services/compiler/test-prng.ts';
import { ROUTE_TYPE } from '../xds/type-urls.ts';
import {
  encodeProvenancePieces,
  noteObjectsChanged,
  objectId,
  type Provenance,
  type ProvenanceObject,
  type ProvenancePieces,
} from './provenance.ts';

function same(got: ProvenancePieces, p: Provenance, what: string): void {
  const cold = encodeProvenancePieces(p);
  assert.deepEqual(got.hashes, cold.hashes, what);
  for (const h of cold.hashes)
    assert.equal(
      Buffer.compare(
        Buffer.from(got.blobs.get(h) as Uint8Array),
        Buffer.from(cold.blobs.get(h) as Uint8Array),
      ),
      0,
      what,
    );
}

test('provenance pieces patched from noted object changes equal a split from nothing', () => {
  const rand = prng(7);
  const object = (i: number, seq: number, pad = 0): ProvenanceObject => ({
    cluster: 'c',
    kind: 'Mapping',
    namespace: 'ns',
    name: `m-${i}${'x'.repeat(pad)}`.slice(0, 8 + pad),
    resourceVersion: String(seq),
    seq,
  });
  const objects: Record<string, ProvenanceObject> = {};
  const ids: string[] = [];
  for (let i = 0; i < 2_000; i++) {
    const o = object(i, i);
    objects[objectId(o)] = o;
    ids.push(objectId(o));
  }
  const routes = { rc: { vh: ids.map((id) => [id]) } };
  let p: Provenance = {
    objects,
    resources: { [ROUTE_TYPE]: { rc: ids.slice(0, 5) } },
    routes,
    virtualHosts: { rc: { vh: [] } },
  };
  let pieces = encodeProvenancePieces(p);
  let patched = 0;
  for (let step = 0; step < 60; step++) {
    const changed: string[] = [];
    const n = 1 + Math.floor(rand() * 4);
    for (let k = 0; k < n; k++) {
      const id = ids[Math.floor(rand() * ids.length)] as string;
      const was = objects[id] as ProvenanceObject;
      // Now and then a large value, so the section crosses a bucket boundary.
      objects[id] = {
        ...was,
        seq: (was.seq ?? 0) + 1,
        ...(rand() < 0.05 ? { file: 'f'.repeat(20_000) } : {}),
      };
      changed.push(id);
    }
    const next: Provenance = { ...p, objects };
    // Mostly a true note; sometimes against another base (it must then be ignored).
    if (rand() < 0.9) noteObjectsChanged(next, p, changed);
    else noteObjectsChanged(next, { ...p }, changed);
    const before = pieces;
    pieces = encodeProvenancePieces(next, pieces);
    same(pieces, next, `step ${step}`);
    if (pieces.sections.get('["routes","rc"]') === before.sections.get('["routes","rc"]')) patched++;
    p = next;
  }
  assert.ok(patched > 30, `only ${patched} of 60 splits took the patch`);
});
