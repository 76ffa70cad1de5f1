import assert from 'node:assert/strict';
import { test } from 'node:test';
import { conditionalFraction } from '../translate/api-listener.ts';
import { normalizeWeights, roundHalfEven } from './weights.ts';

test('weights — a lone Mapping gets 100 whatever its weight', () => {
  assert.deepEqual(normalizeWeights([0]), { ok: true, order: [0], cumulative: [100] });
  assert.deepEqual(normalizeWeights([undefined]), { ok: true, order: [0], cumulative: [100] });
});

test('weights — weighted first and cumulative, unweighted share the rest, the last gets 100', () => {
  assert.deepEqual(normalizeWeights([undefined, 30]), { ok: true, order: [1, 0], cumulative: [30, 100] });
  assert.deepEqual(normalizeWeights([undefined, 100]), { ok: true, order: [1, 0], cumulative: [100, 100] });
  assert.deepEqual(normalizeWeights([20, undefined, 30]), {
    ok: true,
    order: [0, 2, 1],
    cumulative: [20, 50, 100],
  });
  assert.deepEqual(normalizeWeights([10, undefined, undefined]), {
    ok: true,
    order: [0, 1, 2],
    cumulative: [10, 55, 100],
  });
});

test('weights — all weighted below 100 leaves the rest unrouted, as in Emissary', () => {
  assert.deepEqual(normalizeWeights([10, 30]), { ok: true, order: [0, 1], cumulative: [10, 40] });
});

test('weights — a total above 100 is an error', () => {
  const r = normalizeWeights([60, 50]);
  assert.equal(r.ok, false);
  assert.match(r.ok ? '' : r.message, /110/);
});

test('weights — remainder shares round half to even and never pass 100', () => {
  assert.equal(roundHalfEven(2.5), 2);
  assert.equal(roundHalfEven(3.5), 4);
  assert.equal(roundHalfEven(0.5), 0);
  assert.equal(roundHalfEven(1.4), 1);
  const r = normalizeWeights([96, undefined, undefined, undefined, undefined, undefined, undefined]);
  assert.ok(r.ok);
  assert.deepEqual(r.cumulative, [96, 97, 98, 99, 100, 100, 100]);
});

test('weights — gRPC conditional fractions reproduce the cumulative split', () => {
  assert.deepEqual(conditionalFraction(0, 30), { numerator: 300000, denominator: 'MILLION' });
  assert.deepEqual(conditionalFraction(30, 100), { numerator: 1000000, denominator: 'MILLION' });
  assert.deepEqual(conditionalFraction(20, 50), { numerator: 375000, denominator: 'MILLION' });
  assert.deepEqual(conditionalFraction(100, 100), { numerator: 0, denominator: 'MILLION' });
  // 30 then 40 more of the remaining 70: P(second) = 0.7 × 40/70 = 0.4.
  assert.deepEqual(conditionalFraction(30, 70), { numerator: 571429, denominator: 'MILLION' });
});
