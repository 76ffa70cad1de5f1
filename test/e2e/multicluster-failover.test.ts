/**
 * Multi-cluster failover, end to end on real parts: nats-server -js, redis-server, the compiler
 * runner (local cluster `east`, remote endpoints `prefer-local`), the ADS server, two real gRPC
 * echo backends (one per cluster) and a real @grpc/grpc-js-xds client. The two clusters' objects
 * are published to the event log exactly as their ingestors publish them.
 *
 * Scenario: traffic goes to east (priority 0). East's backend dies and, 200 ms later (the
 * endpoint controller's reaction), east's EndpointSlice loses its endpoint: the client fails over
 * to west. The failure window is measured from the backend's death to the last failed RPC and
 * must stay under FAILOVER_WINDOW_MS; every RPC after it succeeds. East comes back: traffic
 * returns to east with no failed RPC at all (west never went away).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Kvm } from '@nats-io/kv';
import { connect } from '@nats-io/transport-node';
import { decodeStatus, STATUS_BUCKET, statusKey } from '../../shared/events/status-keys.ts';
import { eventually } from '../harness/eventually.ts';
import { startEchoBackend } from '../harness/grpc-echo.ts';
import { rpcLoop } from '../harness/rpc-loop.ts';
import { FAILED, type XdsEchoClient } from '../harness/xds-client.ts';
import { type EastWest, echoClient, startEastWest, untilAllOnEast } from './east-west.ts';
import { echoMapping, echoService, echoSlice, publishObject } from './multicluster-pipeline.ts';

/**
 * Documented failover window: RPCs may fail only this long after the local backend dies. gRPC
 * notices the refused connections and moves to priority 1 within ~100 ms; the bound leaves room
 * for a loaded machine.
 */
const FAILOVER_WINDOW_MS = 2000;

describe('multi-cluster failover', () => {
  let rig: EastWest;
  let eastPort: number;
  let client: XdsEchoClient;

  before(async () => {
    rig = await startEastWest();
    eastPort = rig.east.port;
    const ev = rig.pipeline.events;
    await publishObject(ev, 'east', echoMapping());
    await publishObject(ev, 'east', echoService());
    await publishObject(ev, 'east', echoSlice('east', rig.east.port));
    await publishObject(ev, 'west', echoService());
    await publishObject(ev, 'west', echoSlice('west', rig.west.port));
    client = echoClient(rig, 'mc-node');
  });

  after(async () => {
    client?.close();
    await rig?.close();
  });

  test('multi-cluster failover — traffic goes to the local cluster while it has endpoints', async () => {
    await untilAllOnEast(client);
    const counts = await client.countBackends(200);
    assert.deepEqual([...counts], [['east', 200]]);
  });

  test('multi-cluster failover — the Mapping is published as accepted in the status bucket', async () => {
    const nc = await connect({ servers: rig.nats.url });
    try {
      const kv = await new Kvm(nc).open(STATUS_BUCKET);
      const key = statusKey({ cluster: 'east', kind: 'Mapping', namespace: 'apps', name: 'echo' });
      const entry = await eventually(async () => {
        const e = await kv.get(key);
        assert.ok(e && e.operation === 'PUT');
        return e;
      });
      assert.deepEqual(decodeStatus(entry.string())?.state, 'accepted');
    } finally {
      await nc.close();
    }
  });

  test('multi-cluster failover — losing east fails over to west within the documented window', async (t) => {
    const loop = rpcLoop(client);
    await new Promise((r) => setTimeout(r, 300));
    const killedAt = Date.now();
    await rig.east.stop();
    await new Promise((r) => setTimeout(r, 200));
    await publishObject(rig.pipeline.events, 'east', echoSlice('east', undefined));
    await eventually(() =>
      assert.ok(loop.samples.filter((s) => s.at > killedAt && s.backend === 'west').length >= 50),
    );
    await new Promise((r) => setTimeout(r, Math.max(0, killedAt + FAILOVER_WINDOW_MS + 500 - Date.now())));
    await loop.stop();

    const after = loop.samples.filter((s) => s.at > killedAt);
    const failures = after.filter((s) => s.backend === FAILED);
    const firstWest = after.find((s) => s.backend === 'west');
    const lastFailure = failures.at(-1);
    const windowMs = lastFailure ? lastFailure.at - killedAt : 0;
    t.diagnostic(
      `failover: ${failures.length} failed of ${after.length} RPCs after east died; last failure at +${windowMs} ms; ` +
        `first west reply at +${(firstWest?.at ?? Number.NaN) - killedAt} ms`,
    );
    assert.ok(
      loop.samples.some((s) => s.at <= killedAt && s.backend === 'east'),
      'east served before',
    );
    assert.ok(windowMs <= FAILOVER_WINDOW_MS, `RPCs failed for ${windowMs} ms (> ${FAILOVER_WINDOW_MS} ms)`);
    const settled = after.filter((s) => s.at > killedAt + FAILOVER_WINDOW_MS);
    assert.ok(
      settled.length > 0 && settled.every((s) => s.backend === 'west'),
      'after the window: all on west',
    );
  });

  test('multi-cluster failover — when east returns, traffic returns to east without a failed RPC', async (t) => {
    rig.east = await startEchoBackend('east', eastPort);
    const loop = rpcLoop(client);
    const returnedAt = Date.now();
    await publishObject(rig.pipeline.events, 'east', echoSlice('east', eastPort));
    await eventually(() =>
      assert.ok(loop.samples.filter((s) => s.at > returnedAt && s.backend === 'east').length >= 50),
    );
    await loop.stop();
    const failures = loop.samples.filter((s) => s.backend === FAILED);
    const firstEast = loop.samples.find((s) => s.at > returnedAt && s.backend === 'east');
    t.diagnostic(`return: first east reply at +${(firstEast?.at ?? Number.NaN) - returnedAt} ms`);
    assert.equal(failures.length, 0);
    const counts = await client.countBackends(200);
    assert.deepEqual([...counts], [['east', 200]]);
  });
});
