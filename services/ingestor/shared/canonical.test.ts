import assert from 'node:assert/strict';
import { test } from 'node:test';
import { canonicalJson } from '../../../shared/snapshot/manifest.ts';
import { canonicalize } from '../../../shared/xds/encoding.ts';
import { contentHash } from './canonical.ts';

test('canonical — key order does not change the canonical JSON or the hash', () => {
  const a = { kind: 'Mapping', metadata: { name: 'x', labels: { b: '2', a: '1' } }, spec: [{ z: 1, y: 2 }] };
  const b = { spec: [{ y: 2, z: 1 }], metadata: { labels: { a: '1', b: '2' }, name: 'x' }, kind: 'Mapping' };
  assert.equal(canonicalJson(a), canonicalJson(b));
  assert.equal(contentHash(a), contentHash(b));
  assert.match(contentHash(a), /^[0-9a-f]{64}$/);
  assert.deepEqual(Object.keys(canonicalize(b)), ['kind', 'metadata', 'spec']);
});

test('canonical — different content or array order gives a different hash', () => {
  assert.notEqual(contentHash({ a: [1, 2] }), contentHash({ a: [2, 1] }));
  assert.notEqual(contentHash({ a: '1' }), contentHash({ a: 1 }));
});
