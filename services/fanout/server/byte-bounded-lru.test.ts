/** The byte-bounded LRU evicts the least recently used entries first, however they were used. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ByteBoundedLru } from './byte-bounded-lru.ts';

describe('byte-bounded LRU', () => {
  test('lru — evicts in least-recently-used order across gets, repeated gets, sets and deletes', () => {
    const evicted: string[] = [];
    const lru = new ByteBoundedLru<string, number>(30, (k) => evicted.push(k));
    lru.set('a', 1, 10);
    lru.set('b', 2, 10);
    lru.set('c', 3, 10);
    assert.equal(lru.get('c'), 3); // already the newest
    assert.equal(lru.get('a'), 1);
    assert.equal(lru.get('a'), 1); // the newest again: order unchanged
    lru.set('d', 4, 10); // over budget: b is the least recently used
    assert.deepEqual(evicted, ['b']);
    lru.delete('d');
    assert.equal(lru.get('c'), 3);
    lru.set('e', 5, 10);
    lru.set('f', 6, 10); // a was used before c
    assert.deepEqual(evicted, ['b', 'a']);
    assert.equal(lru.get('a'), undefined);
    assert.deepEqual([lru.get('c'), lru.get('e'), lru.get('f')], [3, 5, 6]);
    lru.set('c', 7, 10); // replaced: the newest
    lru.set('g', 8, 10);
    assert.deepEqual(evicted, ['b', 'a', 'e']);
    assert.equal(lru.bytes, 30);
    assert.equal(lru.size, 3);
  });
});
