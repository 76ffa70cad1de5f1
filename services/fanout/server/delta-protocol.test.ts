/**
 * The delta (incremental) xDS protocol as a scripted client sees it: raw DeltaDiscoveryRequests
 * over a real grpc-js stream to the real server. Each test uses its own group.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CLUSTER_TYPE, ENDPOINT_TYPE, LISTENER_TYPE, ROUTE_TYPE } from '../../../shared/xds/type-urls.ts';
import { AdsFixture, nodeIn } from '../testing/ads-fixture.ts';
import { apiListener, echoWorld, edsCluster, socketListener } from '../testing/echo-resources.ts';
import { deltaResponse, encodedResource } from './delta-diff.ts';
import { emptyTypeSnapshot, servedSet, subscription } from './served-set.ts';

describe('fan-out delta xDS protocol', () => {
  const f = new AdsFixture();
  before(() => f.start());
  after(() => f.close());

  const hashOf = (group: string, typeUrl: typeof CLUSTER_TYPE, name: string) =>
    f.cache.current(group)?.types.get(typeUrl)?.resources.get(name)?.hash;

  test('delta — a legacy wildcard gets every resource but on-demand ones, versioned by content hash', async () => {
    await f.publish('d-wild', 1, echoWorld());
    const c = f.delta();
    c.send({ node: nodeIn('d-wild'), type_url: LISTENER_TYPE });
    const lds = await c.next();
    assert.deepEqual(lds.names, ['http-listener']);
    assert.equal(
      lds.versions['http-listener'],
      hashOf('d-wild', LISTENER_TYPE as typeof CLUSTER_TYPE, 'http-listener'),
    );
    c.send({ type_url: CLUSTER_TYPE });
    const cds = await c.next();
    assert.deepEqual(cds.names, ['cluster-a', 'cluster-b']);
    assert.equal(cds.system_version_info, f.cache.current('d-wild')?.types.get(CLUSTER_TYPE)?.version);
    assert.deepEqual(cds.removed, []);
    // Explicit "*" plus an on-demand name.
    const d = f.delta();
    d.send({
      node: nodeIn('d-wild', 'n2'),
      type_url: LISTENER_TYPE,
      resource_names_subscribe: ['*', 'echo.test'],
    });
    assert.deepEqual((await d.next()).names, ['echo.test', 'http-listener']);
  });

  test('delta — a change carries only changed resources and removed_resources for deleted ones', async () => {
    await f.publish('d-change', 1, echoWorld({ extra: true }));
    const c = f.delta();
    c.send({ node: nodeIn('d-change'), type_url: CLUSTER_TYPE });
    c.ack(await c.next());
    c.send({ type_url: ENDPOINT_TYPE, resource_names_subscribe: ['cluster-a', 'cluster-b'] });
    c.ack(await c.next());
    // cluster-a changes, cluster-c is deleted, endpoints are untouched.
    await f.publish('d-change', 2, [
      ...echoWorld().filter((r) => !(r.typeUrl === CLUSTER_TYPE && r.name === 'cluster-a')),
      edsCluster('cluster-a', 'RING_HASH'),
    ]);
    const pushed = await c.next();
    assert.equal(pushed.type_url, CLUSTER_TYPE);
    assert.deepEqual(pushed.names, ['cluster-a']);
    assert.deepEqual(pushed.removed, ['cluster-c']);
    assert.deepEqual(await c.drain(200), [], 'EDS unchanged: nothing for it');
    // An endpoint-only change sends just the changed assignment.
    c.ack(pushed);
    await f.publish('d-change', 3, [
      ...echoWorld({ ports: [9100] }).filter((r) => !(r.typeUrl === CLUSTER_TYPE && r.name === 'cluster-a')),
      edsCluster('cluster-a', 'RING_HASH'),
    ]);
    const eds = await c.next();
    assert.equal(eds.type_url, ENDPOINT_TYPE);
    assert.deepEqual(eds.names, ['cluster-a']);
    assert.deepEqual(await c.drain(200), []);
  });

  test('delta — named subscribe, missing names reported removed, unsubscribe forgets, re-subscribe resends', async () => {
    await f.publish('d-named', 1, echoWorld());
    const c = f.delta();
    c.send({
      node: nodeIn('d-named'),
      type_url: ENDPOINT_TYPE,
      resource_names_subscribe: ['cluster-a', 'no-such-cluster'],
    });
    const first = await c.next();
    assert.deepEqual(first.names, ['cluster-a']);
    assert.deepEqual(first.removed, ['no-such-cluster'], 'non-existence is signalled as removed');
    c.ack(first);
    c.send({ type_url: ENDPOINT_TYPE, resource_names_subscribe: ['cluster-b'] });
    const grown = await c.next();
    assert.deepEqual(grown.names, ['cluster-b'], 'only the newly subscribed resource');
    c.ack(grown);
    c.send({ type_url: ENDPOINT_TYPE, resource_names_unsubscribe: ['cluster-a'] });
    assert.deepEqual(await c.drain(200), [], 'an unsubscribe is not answered');
    // A change to the unsubscribed resource is not pushed.
    await f.publish('d-named', 2, echoWorld({ ports: [9200] }));
    assert.deepEqual(await c.drain(200), []);
    c.send({ type_url: ENDPOINT_TYPE, resource_names_subscribe: ['cluster-a'] });
    const again = await c.next();
    assert.deepEqual(again.names, ['cluster-a'], 're-subscribing sends it again');
    assert.deepEqual(again.removed, []);
  });

  test('delta — legacy wildcard ends on a specific subscription, and unsubscribing * leaves the wildcard', async () => {
    await f.publish('d-leave', 1, echoWorld());
    const c = f.delta();
    c.send({ node: nodeIn('d-leave'), type_url: LISTENER_TYPE });
    c.ack(await c.next());
    c.send({ type_url: LISTENER_TYPE, resource_names_subscribe: ['echo.test'] });
    const named = await c.next();
    assert.deepEqual(named.names, ['echo.test']);
    // No longer wildcard: a new socket listener is not pushed.
    c.ack(named);
    await f.publish('d-leave', 2, [...echoWorld(), socketListener('https-listener', 8443)]);
    assert.deepEqual(await c.drain(200), []);

    const w = f.delta();
    w.send({ node: nodeIn('d-leave', 'w'), type_url: CLUSTER_TYPE, resource_names_subscribe: ['*'] });
    w.ack(await w.next());
    w.send({ type_url: CLUSTER_TYPE, resource_names_unsubscribe: ['*'] });
    assert.deepEqual(await w.drain(150), [], 'an unsubscribe is not answered');
    await f.publish('d-leave', 3, [
      ...echoWorld({ lb: 'RING_HASH' }),
      socketListener('https-listener', 8443),
    ]);
    assert.deepEqual(await w.drain(200), [], 'left the wildcard: no cluster pushes');
  });

  test('delta — reconnecting with initial_resource_versions re-sends nothing the client holds', async () => {
    await f.publish('d-resume', 1, echoWorld({ extra: true }));
    const a = f.delta();
    a.send({ node: nodeIn('d-resume'), type_url: CLUSTER_TYPE });
    const cds = await a.next();
    a.ack(cds);
    a.close();

    const same = f.delta();
    same.send({ node: nodeIn('d-resume'), type_url: CLUSTER_TYPE, initial_resource_versions: cds.versions });
    assert.deepEqual(await same.drain(250), [], 'holds exactly the current clusters');
    // Still subscribed: a later change arrives as a diff.
    await f.publish('d-resume', 2, echoWorld({ extra: true, lb: 'RING_HASH' }));
    assert.deepEqual((await same.next()).names, ['cluster-a', 'cluster-b'], 'cluster-c is unchanged');

    // Holding an outdated cluster-a and a cluster that no longer exists.
    const behind = f.delta();
    behind.send({
      node: nodeIn('d-resume', 'behind'),
      type_url: CLUSTER_TYPE,
      initial_resource_versions: {
        'cluster-a': cds.versions['cluster-a'] as string,
        'cluster-b': hashOf('d-resume', CLUSTER_TYPE, 'cluster-b') as string,
        gone: 'abc',
      },
    });
    const update = await behind.next();
    assert.deepEqual(update.names, ['cluster-a', 'cluster-c'], 'cluster-a changed, cluster-c was not held');
    assert.deepEqual(update.removed, ['gone']);
  });

  test('delta — a NACK is counted with no resend; a stale nonce is not an ACK but its subscription applies', async () => {
    await f.publish('d-nack', 1, echoWorld());
    const c = f.delta();
    c.send({ node: nodeIn('d-nack'), type_url: CLUSTER_TYPE });
    c.ack(await c.next());
    await f.publish('d-nack', 2, echoWorld({ lb: 'LEAST_REQUEST' }));
    const bad = await c.next();
    const before = await f.metric('attache_fanout_nacks_total', { type: 'CDS', group: 'd-nack' });
    c.send({
      type_url: CLUSTER_TYPE,
      response_nonce: bad.nonce,
      error_detail: { code: 3, message: 'unsupported lb_policy' },
    });
    assert.deepEqual(await c.drain(250), [], 'no resend after a NACK');
    assert.equal(await f.metric('attache_fanout_nacks_total', { type: 'CDS', group: 'd-nack' }), before + 1);
    const status = f.ads.streams().find((s) => s.node === 'd-nack-node');
    assert.equal(status?.protocol, 'delta');
    assert.equal(status?.types.CDS?.nacked, true);
    // A stale nonce: counted, not an ACK, but the EDS subscription it carries is honoured.
    const stale = await f.metric('attache_fanout_stale_nonces_total', { type: 'EDS', group: 'd-nack' });
    c.send({ type_url: ENDPOINT_TYPE, resource_names_subscribe: ['cluster-a'] });
    const eds = await c.next();
    c.send({ type_url: ENDPOINT_TYPE, response_nonce: 'old', resource_names_subscribe: ['cluster-b'] });
    const more = await c.next();
    assert.deepEqual([eds.names, more.names], [['cluster-a'], ['cluster-b']]);
    assert.equal(
      await f.metric('attache_fanout_stale_nonces_total', { type: 'EDS', group: 'd-nack' }),
      stale + 1,
    );
    // The fixed cluster is pushed again (content changed back).
    await f.publish('d-nack', 3, echoWorld());
    const fixed = await c.next();
    assert.deepEqual(fixed.names, ['cluster-a', 'cluster-b']);
  });

  test('delta — an update pushes changed types in the order CDS, EDS, LDS, RDS', async () => {
    await f.publish('d-order', 1, echoWorld());
    const c = f.delta();
    c.send({ node: nodeIn('d-order'), type_url: LISTENER_TYPE, resource_names_subscribe: ['echo.test'] });
    c.ack(await c.next());
    c.send({ type_url: ROUTE_TYPE, resource_names_subscribe: ['echo-route'] });
    c.ack(await c.next());
    c.send({ type_url: CLUSTER_TYPE, resource_names_subscribe: ['*'] });
    c.ack(await c.next());
    c.send({ type_url: ENDPOINT_TYPE, resource_names_subscribe: ['cluster-a', 'cluster-b'] });
    c.ack(await c.next());
    await f.publish('d-order', 2, [
      ...echoWorld({ ports: [9400], lb: 'RING_HASH', route: 'cluster-b' }).filter(
        (r) => r.name !== 'echo.test',
      ),
      apiListener('echo.test', 'echo-route-2'),
    ]);
    const pushed = [await c.next(), await c.next(), await c.next(), await c.next()];
    assert.deepEqual(
      pushed.map((r) => r.type_url),
      [CLUSTER_TYPE, ENDPOINT_TYPE, LISTENER_TYPE, ROUTE_TYPE],
    );
  });

  test('delta — resources are encoded once and a shared move is diffed once for every stream', async () => {
    await f.publish('d-once', 1, echoWorld());
    const v1 = f.cache.current('d-once')?.types.get(CLUSTER_TYPE) ?? emptyTypeSnapshot(CLUSTER_TYPE);
    await f.publish('d-once', 2, echoWorld({ extra: true }));
    const v2 = f.cache.current('d-once')?.types.get(CLUSTER_TYPE) ?? emptyTypeSnapshot(CLUSTER_TYPE);
    const sub = subscription(true, []);
    const from = servedSet(v1, sub);
    const to = servedSet(v2, sub);
    assert.equal(
      servedSet(v2, subscription(true, [])),
      to,
      'one served set per (type version, subscription)',
    );
    const once = deltaResponse(from, to);
    assert.ok(once);
    assert.equal(deltaResponse(from, to), once, 'the same move reuses the same encoded response');
    assert.deepEqual(once.names, ['cluster-c']);
    const r = v2.resources.get('cluster-a');
    assert.ok(r);
    assert.equal(encodedResource(r), encodedResource(r));
    assert.equal(
      v1.resources.get('cluster-a'),
      r,
      'an unchanged resource keeps its cached object across versions',
    );
  });
});
