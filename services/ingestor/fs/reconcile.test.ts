import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { SourceObject } from '../../../shared/events/envelope.ts';
import {
  changeFor,
  contentVersion,
  type DesiredObject,
  eventFor,
  isHeld,
  type LogRecord,
  publicationOrder,
} from './reconcile.ts';

const id = { kind: 'Mapping', namespace: 'default', name: 'a' };
const object: SourceObject = { apiVersion: 'v', kind: 'Mapping', metadata: { name: 'a', generation: 4 } };

function desired(order: number, hash = 'h1'.padEnd(64, '0')): DesiredObject {
  return { ...id, object, hash, origin: { file: 'a.yaml', document: order }, order };
}

function record(live: boolean, hash = 'h1'.padEnd(64, '0')): LogRecord {
  return { ...id, seq: 7, live, hash, origin: { file: 'dir/a.yaml', document: 0 } };
}

test('reconcile — isHeld covers the file itself, directories above it and the root', () => {
  const origin = { file: 'dir/a.yaml', document: 0 };
  assert.equal(isHeld(origin, []), false);
  assert.equal(isHeld(origin, ['dir/a.yaml']), true);
  assert.equal(isHeld(origin, ['dir']), true);
  assert.equal(isHeld(origin, ['di']), false);
  assert.equal(isHeld(origin, ['']), true);
  assert.equal(isHeld(undefined, ['dir']), false);
});

test('reconcile — changeFor: new, changed, unchanged, removed, held and already deleted objects', () => {
  const k = 'c/Mapping/default/a';
  const none = new Map<string, never>();
  assert.equal(changeFor(k, new Map([[k, desired(0)]]), none, [])?.op, 'upsert');
  assert.equal(
    changeFor(k, new Map([[k, desired(0, 'h2')]]), new Map([[k, record(true)]]), [])?.op,
    'upsert',
  );
  assert.equal(changeFor(k, new Map([[k, desired(0)]]), new Map([[k, record(true)]]), []), undefined);
  assert.equal(changeFor(k, new Map([[k, desired(0)]]), new Map([[k, record(false)]]), [])?.op, 'upsert');
  assert.equal(changeFor(k, none, new Map([[k, record(true)]]), [])?.op, 'delete');
  assert.equal(changeFor(k, none, new Map([[k, record(true)]]), ['dir/a.yaml']), undefined);
  assert.equal(changeFor(k, none, new Map([[k, record(false)]]), []), undefined);
});

test('reconcile — publication order: upserts in file order, then deletes by key', () => {
  const d = new Map([
    ['k/b', desired(1)],
    ['k/a', desired(2)],
  ]);
  assert.deepEqual(publicationOrder(['z/del', 'k/a', 'a/del', 'k/b'], d), ['k/b', 'k/a', 'a/del', 'z/del']);
});

test('reconcile — events carry a content version chained to the previous sequence', () => {
  const ctx = { cluster: 'c', ingestor: 'fs/c/h', observedAt: '2024-01-01T00:00:00.000Z' };
  const up = eventFor(
    { op: 'upsert', key: 'k', desired: desired(0, 'ab'.repeat(32)), prev: record(false) },
    ctx,
  );
  assert.equal(up.resourceVersion, `${'ab'.repeat(8)}.7`);
  assert.equal(up.generation, 4);
  assert.deepEqual(up.origin, { file: 'a.yaml', document: 0 });
  assert.equal(up.object, object);
  const del = eventFor({ op: 'delete', key: 'k', prev: record(true, 'cd'.repeat(32)) }, ctx);
  assert.equal(del.op, 'delete');
  assert.equal(del.resourceVersion, `${'cd'.repeat(8)}.7`);
  assert.equal(del.object, undefined);
  assert.deepEqual(del.origin, { file: 'dir/a.yaml', document: 0 });
  assert.equal(contentVersion('0123456789abcdef0123', 0), '0123456789abcdef.0');
});
