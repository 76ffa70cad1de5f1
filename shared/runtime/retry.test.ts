import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RetryBackoff } from './retry.ts';

test('RetryBackoff — follows backoffDelay attempt by attempt, capped, and starts over on reset', () => {
  const retry = new RetryBackoff({ initialMs: 100, maxMs: 1000, factor: 2 });
  const first = [retry.next(), retry.next(), retry.next(), retry.next()];
  const bounds = [100, 200, 400, 800];
  for (const [i, d] of first.entries()) {
    const max = bounds[i] as number;
    assert.ok(d >= max / 2 && d <= max, `attempt ${i}: ${d}`);
  }
  for (let i = 0; i < 10; i++) assert.ok(retry.next() <= 1000, 'capped');
  retry.reset();
  const again = retry.next();
  assert.ok(again >= 50 && again <= 100, `after reset: ${again}`);
});

test('RetryBackoff — wait returns as soon as the signal aborts', async () => {
  const retry = new RetryBackoff({ initialMs: 60_000, maxMs: 60_000, factor: 1 });
  const abort = new AbortController();
  const start = Date.now();
  setTimeout(() => abort.abort(), 20);
  await retry.wait(abort.signal);
  assert.ok(Date.now() - start < 10_000);
});
