import assert from 'node:assert/strict';
import { test } from 'node:test';
import v8 from 'node:v8';
import { IdleScavenger } from './runner-idle-gc.ts';

/** Where the garbage goes, so that the compiler cannot leave it out. */
let sink: object[] | undefined;

const young = () => v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');

test('idle scavenger — collects the young generation once it is over half full, and only then', () => {
  const scavenger = new IdleScavenger();
  // Short-lived garbage until the young generation is over half full (V8 may collect meanwhile).
  for (let i = 0; i < 1_000; i++) {
    const s = young();
    if (s && s.space_used_size > (s.space_used_size + s.space_available_size) * 0.6) break;
    sink = Array.from({ length: 1_000 }, (_, k) => ({ k, i }));
  }
  assert.ok(sink !== undefined || (young()?.space_used_size ?? 0) > 0);
  const before = young()?.space_used_size ?? 0;
  assert.equal(scavenger.collectIfFull(), true);
  const after = young()?.space_used_size ?? 0;
  assert.ok(after < before, `young generation ${before} → ${after} bytes`);
  assert.equal(scavenger.collectIfFull(), false, 'just collected: not half full');
});
