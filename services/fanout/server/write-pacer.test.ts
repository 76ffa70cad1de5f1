/**
 * Push waves: the pacer lets writes start while the bytes in flight are under its budget, wakes
 * waiting streams in arrival order as bytes drain (skipping closed ones), and tells the
 * initial-push gate when room frees up, so admission follows drain speed.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { InitialPushGate } from './initial-push-gate.ts';
import { WritePacer } from './write-pacer.ts';

describe('fan-out push waves', () => {
  test('pacer — a wave is bounded by bytes in flight; waiters wake in order as bytes drain', () => {
    const p = new WritePacer(300);
    const woken: string[] = [];
    const stream = (name: string, closed = false) => ({ closed, paced: () => woken.push(name) });
    p.started(200);
    assert.equal(p.hasRoom(), true);
    p.started(200);
    assert.equal(p.hasRoom(), false, 'one write may overshoot; the next waits');
    p.wait(stream('a'));
    p.wait(stream('gone', true));
    p.wait(stream('b'));
    p.finished(200);
    assert.deepEqual(woken, ['a', 'b'], 'the closed waiter is skipped');
    assert.equal(p.queued, 0);
  });

  test('gate — admission waits while the wave is full and resumes when bytes drain', () => {
    const p = new WritePacer(100);
    const gate = new InitialPushGate(10, () => p.hasRoom());
    p.onRoom = () => gate.pump();
    const admitted: number[] = [];
    const s = (i: number) => ({ closed: false, admitted: () => admitted.push(i) });
    assert.equal(gate.tryAcquire(s(0)), true);
    p.started(150);
    assert.equal(gate.tryAcquire(s(1)), false, 'no room: queued although permits are free');
    assert.equal(gate.tryAcquire(s(2)), false);
    p.finished(150);
    assert.deepEqual(admitted, [1, 2]);
    assert.equal(gate.inUse, 3);
  });
});
