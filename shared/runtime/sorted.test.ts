import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sortedIndexOf } from './sorted.ts';

test('sortedIndexOf finds every member at its position and nothing else, on random sorted lists', () => {
  let seed = 7;
  const next = (n: number): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  for (let round = 0; round < 500; round++) {
    const names = [...new Set(Array.from({ length: next(40) }, () => `k${next(60)}`))].sort();
    for (let probe = 0; probe < 70; probe++) {
      const key = probe < 60 ? `k${probe}` : `z${probe}`;
      assert.equal(sortedIndexOf(names, key), names.indexOf(key), `${key} in [${names.join(',')}]`);
    }
  }
  assert.equal(sortedIndexOf([], 'a'), -1);
});
