/**
 * The fuzzer's minimiser (ddmin in fuzz.ts) on a runner whose failure is known: the smallest
 * failing input it returns is exactly the items that make the round fail, within its budget of
 * rounds, and an input that does not fail again is returned whole with a failure saying so. The
 * same minimiser on real rounds is in fuzz.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { prng } from '../../services/compiler/test-prng.ts';
import { ddmin } from './fuzz.ts';
import type { Item } from './generate.ts';

const doc = (name: string): Item => ({ t: 'doc', name, yaml: `name: ${name}\n` });
const names = (items: readonly Item[]) => items.map((i) => (i.t === 'doc' ? i.name : i.t));

/** A round that fails while every one of `culprits` is among its items, and counts its runs. */
function culpritRunner(culprits: readonly string[]) {
  const calls: string[][] = [];
  const run = async (items: Item[]) => {
    calls.push(names(items));
    const present = new Set(names(items));
    return culprits.every((c) => present.has(c)) ? [`fails with ${culprits.join(', ')}`] : [];
  };
  return { run, calls };
}

describe('fuzz minimiser', () => {
  test('fuzz minimiser — two culprits among eight items are found, in their order, with their failures', async () => {
    const items = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'].map(doc);
    const { run, calls } = culpritRunner(['g', 'b']);
    const lines: string[] = [];
    const result = await ddmin(items, run, 100, (l) => lines.push(l));
    assert.deepEqual(names(result.items), ['b', 'g']);
    assert.deepEqual(result.failures, ['fails with g, b']);
    assert.deepEqual(calls[0], names(items), 'the first round is the whole input');
    assert.ok(
      lines.some((l) => /minimised to 2 items/.test(l)),
      lines.join('\n'),
    );
  });

  test('fuzz minimiser — any set of culprits in any input is found exactly (seeded)', async () => {
    const r = prng(7);
    for (let round = 0; round < 200; round++) {
      const size = 1 + Math.floor(r() * 40);
      const items = Array.from({ length: size }, (_, i) => doc(`i${i}`));
      const culprits = items
        .filter(() => r() < 0.15)
        .map((i) => (i.t === 'doc' ? i.name : ''))
        .slice(0, 4);
      if (culprits.length === 0) culprits.push(`i${Math.floor(r() * size)}`);
      const { run } = culpritRunner(culprits);
      const result = await ddmin(items, run, 10_000);
      assert.deepEqual(
        names(result.items),
        names(items).filter((n) => culprits.includes(n)),
        `input of ${size}, culprits ${culprits.join(',')}`,
      );
    }
  });

  test('fuzz minimiser — never runs more rounds than its budget, keeping the smallest failing input so far', async () => {
    const items = Array.from({ length: 64 }, (_, i) => doc(`i${i}`));
    const { run, calls } = culpritRunner(['i3', 'i60']);
    const result = await ddmin(items, run, 5);
    assert.equal(calls.length, 5);
    assert.ok(result.items.length < items.length, 'some reduction within the budget');
    assert.ok(names(result.items).includes('i3') && names(result.items).includes('i60'));
    assert.ok((await run(result.items)).length > 0, 'what it returns still fails');
  });

  test('fuzz minimiser — an input that does not fail again is returned whole, marked flaky', async () => {
    const items = ['a', 'b', 'c'].map(doc);
    let calls = 0;
    const result = await ddmin(
      items,
      async () => {
        calls++;
        return [];
      },
      10,
    );
    assert.equal(calls, 1);
    assert.deepEqual(names(result.items), ['a', 'b', 'c']);
    assert.deepEqual(result.failures, ['did not fail again when minimising (flaky?)']);
  });
});
