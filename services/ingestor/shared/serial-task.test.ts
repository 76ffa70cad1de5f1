import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SerialTask } from './serial-task.ts';

test('SerialTask — requests during a run are coalesced into one further run', async () => {
  let runs = 0;
  let active = 0;
  let maxActive = 0;
  let release: () => void = () => {};
  const task = new SerialTask(async () => {
    runs++;
    active++;
    maxActive = Math.max(maxActive, active);
    if (runs === 1) await new Promise<void>((r) => (release = r));
    active--;
  });
  const first = task.request();
  await new Promise((r) => setImmediate(r));
  const later = [task.request(), task.request(), task.request()];
  release();
  await Promise.all([first, ...later]);
  assert.equal(runs, 2);
  assert.equal(maxActive, 1);
});

test('SerialTask — a request resolves only after a run that started after it', async () => {
  const seen: number[] = [];
  let value = 0;
  const task = new SerialTask(async () => {
    await new Promise((r) => setTimeout(r, 5));
    seen.push(value);
  });
  task.trigger();
  value = 1;
  await task.request();
  assert.equal(seen.at(-1), 1);
});

test('SerialTask — a failing run rejects its waiters and later runs still happen', async () => {
  let fail = true;
  const task = new SerialTask(async () => {
    if (fail) throw new Error('boom');
  });
  await assert.rejects(task.request(), /boom/);
  fail = false;
  await task.request();
  await task.settled();
});
