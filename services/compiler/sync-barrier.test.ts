/**
 * The sync barrier as a pure state machine over folded events, with an injected clock.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SyncBarrier } from './sync-barrier.ts';

const upsert = (cluster: string, relist?: true) => ({
  cluster,
  op: 'upsert' as const,
  ...(relist ? { relist } : {}),
});
const resync = (cluster: string) => ({ cluster, op: 'resync' as const });

test('sync barrier — a relist holds commits until its resync marker; watch events never do', () => {
  let now = 1_000;
  const b = new SyncBarrier(5_000, () => now);
  b.observe(upsert('east'));
  assert.deepEqual(b.check(), { expired: [] }, 'watch events hold nothing');
  b.observe(upsert('east', true));
  now += 100;
  b.observe(upsert('east', true)); // the sync started at the first one
  assert.deepEqual(b.check(), { holdUntil: 6_000, expired: [] });
  assert.deepEqual(b.open(), ['east']);
  b.observe(resync('east'));
  assert.deepEqual(b.check(), { expired: [] });
  assert.deepEqual(b.open(), []);
});

test('sync barrier — the earliest open sync bounds the hold; past the maximum wait a sync is reported once and holds nothing', () => {
  let now = 0;
  const b = new SyncBarrier(1_000, () => now);
  b.observe(upsert('east', true));
  now = 400;
  b.observe(upsert('west', true));
  assert.deepEqual(b.check(), { holdUntil: 1_000, expired: [] });
  now = 1_000;
  assert.deepEqual(b.check(), { holdUntil: 1_400, expired: [{ cluster: 'east', syncingMs: 1_000 }] });
  assert.deepEqual(b.check(), { holdUntil: 1_400, expired: [] }, 'reported once');
  now = 2_000;
  assert.deepEqual(b.check(), { expired: [{ cluster: 'west', syncingMs: 1_600 }] });
  // The marker closes the expired sync; the next relist holds again.
  b.observe(resync('east'));
  b.observe(upsert('east', true));
  assert.deepEqual(b.check(), { holdUntil: 3_000, expired: [] });
});

test('sync barrier — a maximum wait of 0 never holds', () => {
  const b = new SyncBarrier(0, () => 0);
  b.observe(upsert('east', true));
  assert.equal(b.check().holdUntil, undefined);
});
