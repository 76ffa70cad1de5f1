/**
 * LiveWatch against a stalled watch: a loopback HTTP server that answers a watch with 200 and
 * then says nothing and never closes — a silently dead connection, which no real API server can
 * be made to show on demand. The watch must end by itself (as a normal close, so the ListWatch
 * resumes from its resourceVersion), and every request must carry timeoutSeconds and bookmarks.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { KubeConfig } from '@kubernetes/client-node';
import { LiveWatch } from './live-watch.ts';

test('live watch — a watch that goes silent ends by itself, and requests carry timeoutSeconds and bookmarks', async () => {
  const urls: URL[] = [];
  const server = http.createServer((req, res) => {
    urls.push(new URL(req.url ?? '/', 'http://x'));
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.write(`${JSON.stringify({ type: 'BOOKMARK', object: { metadata: { resourceVersion: '7' } } })}\n`);
    // ...and then nothing, forever.
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
    users: [{ name: 'u' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  try {
    let activity = 0;
    const watch = new LiveWatch(kc, { minTimeoutSeconds: 1, graceMs: 200, onActivity: () => activity++ });
    const phases: string[] = [];
    const ended = new Promise<unknown>((resolve) => {
      void watch.watch('/api/v1/services', { resourceVersion: '5' }, (phase) => phases.push(phase), resolve);
    });
    const err = await ended;
    assert.equal(err, null, 'ended like a normal close, so the ListWatch resumes from its resourceVersion');
    assert.equal(watch.idleTimeouts, 1);
    assert.deepEqual(phases, ['BOOKMARK']);
    assert.equal(activity, 1);
    const q = urls[0]?.searchParams;
    assert.equal(q?.get('watch'), 'true');
    assert.equal(q?.get('allowWatchBookmarks'), 'true');
    assert.equal(q?.get('resourceVersion'), '5');
    const timeout = Number(q?.get('timeoutSeconds'));
    assert.ok(timeout >= 1 && timeout < 2, `timeoutSeconds ${timeout} in [1, 2)`);
  } finally {
    server.closeAllConnections();
    server.close();
  }
});
