/**
 * Per-stream memory of idle streams on the server (clients in a child process, many streams per
 * HTTP/2 connection). The budget is 20 KB per stream at 10,000 streams; at this small N fixed
 * costs weigh more, so passing here is a conservative check.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { measureStreamMemory } from './measure-stream-memory.ts';

for (const protocol of ['sotw', 'delta'] as const) {
  test(`stream memory — an idle ${protocol} stream costs the server under 20 KB of heap and buffers`, async () => {
    const r = await measureStreamMemory(protocol, 600, 4);
    assert.ok(r.perStreamBytes > 0, `measured ${r.perStreamBytes} B`);
    assert.ok(
      r.perStreamBytes <= 20_000,
      `${protocol}: ${r.perStreamBytes} B per stream (${JSON.stringify(r)})`,
    );
  });
}
