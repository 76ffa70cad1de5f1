/**
 * The delta (incremental) xDS protocol as a scripted client sees it: raw DeltaDiscoveryRequests
 * over a real grpc-js stream to the real server. Each test uses its own group.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { decodeResource } from '../../../shared/xds/encoding.ts';
import {
  CLUSTER_TYPE,
  ENDPOINT_TYPE,
  LISTENER_TYPE,
  ROUTE_TYPE,
  VIRTUAL_HOST_TYPE,
} from '../../../shared/xds/type-urls.ts';
import { AdsFixture, nodeIn } from '../testing/ads-fixture.ts';
import { apiListener, echoWorld, edsCluster, socketListener } from '../testing/echo-resources.ts';
import type { RawDeltaClient, ReceivedDelta } from '../testing/raw-delta-client.ts';
import type { TestResource } from '../testing/test-snapshots.ts';
import { deltaResponse, encodedResource, internDeclared } from './delta-diff.ts';
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

  test('delta — make before break: a change that takes a routed cluster away pushes the routes first', async () => {
    await f.publish('d-mbb', 1, echoWorld({ route: 'cluster-b' }));
    const c = f.delta();
    c.send({ node: nodeIn('d-mbb'), type_url: LISTENER_TYPE, resource_names_subscribe: ['echo.test'] });
    c.ack(await c.next());
    c.send({ type_url: ROUTE_TYPE, resource_names_subscribe: ['echo-route'] });
    c.ack(await c.next());
    c.send({ type_url: CLUSTER_TYPE, resource_names_subscribe: ['cluster-a', 'cluster-b'] });
    c.ack(await c.next());
    c.send({ type_url: ENDPOINT_TYPE, resource_names_subscribe: ['cluster-a', 'cluster-b'] });
    c.ack(await c.next());
    await f.publish(
      'd-mbb',
      2,
      echoWorld({ route: 'cluster-a' }).filter((r) => r.name !== 'cluster-b'),
    );
    const pushed = [await c.next(), await c.next(), await c.next()];
    assert.deepEqual(
      pushed.map((r) => r.type_url),
      [ROUTE_TYPE, CLUSTER_TYPE, ENDPOINT_TYPE],
      'the route leaves cluster-b before cluster-b and its endpoints go',
    );
    assert.deepEqual(pushed[1]?.removed, ['cluster-b']);
    assert.deepEqual(pushed[2]?.removed, ['cluster-b']);

    // A wildcard Envoy and a move to a new cluster: cluster-c added at once, cluster-a removed
    // only after the route that names it was replaced.
    const w = f.delta();
    w.send({
      node: nodeIn('d-mbb', 'wild'),
      type_url: LISTENER_TYPE,
      resource_names_subscribe: ['echo.test'],
    });
    w.ack(await w.next());
    w.send({ type_url: ROUTE_TYPE, resource_names_subscribe: ['echo-route'] });
    w.ack(await w.next());
    w.send({ type_url: CLUSTER_TYPE, resource_names_subscribe: ['*'] });
    w.ack(await w.next());
    await f.publish('d-mbb', 3, [
      ...echoWorld({ route: 'cluster-c' }).filter((r) => r.name !== 'cluster-a' && r.name !== 'cluster-b'),
      edsCluster('cluster-c'),
    ]);
    const moved = [await w.next(), await w.next(), await w.next()];
    assert.deepEqual(
      moved.map((r) => [r.type_url, r.names, r.removed]),
      [
        [CLUSTER_TYPE, ['cluster-c'], []],
        [ROUTE_TYPE, ['echo-route'], []],
        [CLUSTER_TYPE, [], ['cluster-a']],
      ],
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

  test('delta — a fresh subscription to existing names, and a declaration many streams share, are one shared response', async () => {
    await f.publish('d-shared', 1, echoWorld({ extra: true }));
    const eds = f.cache.current('d-shared')?.types.get(ENDPOINT_TYPE) ?? emptyTypeSnapshot(ENDPOINT_TYPE);
    const names = ['cluster-a', 'cluster-b'];
    const to = servedSet(eds, subscription(false, names));
    // Newly subscribed names that all exist: nothing to report missing, the same bytes for all.
    const fresh = deltaResponse(null, to, names);
    assert.ok(fresh?.shared);
    assert.equal(deltaResponse(null, to, [...names]), fresh);
    assert.deepEqual(
      deltaResponse(null, to, [...names, 'nope'])?.removed,
      ['nope'],
      'a missing one is still reported',
    );
    // Streams reconnecting with the same initial_resource_versions (any order) share one map and
    // one response; a different declaration gets its own.
    const a = eds.resources.get('cluster-a')?.hash ?? '';
    const one = internDeclared([
      ['cluster-a', 'old'],
      ['cluster-b', eds.resources.get('cluster-b')?.hash ?? ''],
    ]);
    const two = internDeclared([
      ['cluster-b', eds.resources.get('cluster-b')?.hash ?? ''],
      ['cluster-a', 'old'],
    ]);
    assert.equal(one, two);
    const moved = deltaResponse(one, to);
    assert.ok(moved?.shared);
    assert.deepEqual(moved.names, ['cluster-a']);
    assert.equal(deltaResponse(two, to), moved);
    assert.notEqual(internDeclared([['cluster-a', a]]), one);
    // Entries that would run together when joined stay distinct declarations.
    assert.notEqual(internDeclared([['x\u0000a', 'v']]), internDeclared([['x', 'a\u0000v']]));
    assert.notEqual(internDeclared([['1:x', '1:y']]), internDeclared([['1', 'x1:1:y']]));
  });

  /** One RouteConfiguration `l-routes` with a virtual host per Host; `tag` marks a.example's route. */
  const twoHosts = (tag: string, hosts = ['a.example', 'b.example']): TestResource => ({
    typeUrl: ROUTE_TYPE,
    name: 'l-routes',
    message: {
      name: 'l-routes',
      virtual_hosts: hosts.map((h) => ({
        name: `l-${h}`,
        domains: [h],
        routes: [
          { match: { prefix: h === 'a.example' ? `/a-${tag}/` : '/' }, route: { cluster: 'cluster-a' } },
        ],
      })),
    },
  });
  const vhdsNode = (group: string, id: string) => ({
    id,
    cluster: 'test',
    metadata: { fields: { ambassador_id: { stringValue: group }, attache_vhds: { boolValue: true } } },
  });
  const decoded = (res: ReceivedDelta, i = 0) => {
    const r = res.raw.resources[i]?.resource;
    assert.ok(r, 'a resource body');
    return decodeResource(r.type_url, r.value);
  };
  const subscribeRoutes = async (c: RawDeltaClient, node: object) => {
    c.send({ node, type_url: ROUTE_TYPE, resource_names_subscribe: ['l-routes'] });
    const rds = await c.next();
    c.ack(rds);
    return rds;
  };

  test('delta — a VHDS node gets its route configuration without virtual hosts, then each Host as a VirtualHost; one Host changed sends that Host only', async () => {
    await f.publish('d-vhds', 1, [edsCluster('cluster-a'), twoHosts('1')]);
    const c = f.delta();
    const rds = await subscribeRoutes(c, vhdsNode('d-vhds', 'v1'));
    assert.deepEqual(rds.names, ['l-routes']);
    const rc = decoded(rds);
    assert.equal(rc.name, 'l-routes');
    assert.deepEqual(rc.virtual_hosts ?? [], [], 'no virtual hosts in the route configuration');
    assert.deepEqual(rc.vhds, { config_source: { ads: {}, resource_api_version: 'V3' } });
    // Envoy subscribes with the route configuration's name as a namespace.
    c.send({ type_url: VIRTUAL_HOST_TYPE, resource_names_subscribe: ['l-routes'] });
    const vh = await c.next();
    assert.equal(vh.type_url, VIRTUAL_HOST_TYPE);
    assert.deepEqual(vh.names, ['l-routes/a.example', 'l-routes/b.example']);
    assert.deepEqual(vh.removed, [], 'the namespace itself is not reported missing');
    assert.equal(decoded(vh, 0).name, 'l-routes/a.example', 'the message is named as the resource');
    assert.deepEqual(decoded(vh, 0).domains, ['a.example']);
    c.ack(vh);

    // a.example's routes change: only its virtual host is sent; the route configuration is unchanged.
    await f.publish('d-vhds', 2, [edsCluster('cluster-a'), twoHosts('2')]);
    const changed = await c.next();
    assert.equal(changed.type_url, VIRTUAL_HOST_TYPE);
    assert.deepEqual(changed.names, ['l-routes/a.example']);
    assert.match(JSON.stringify(decoded(changed)), /\/a-2\//);
    c.ack(changed);
    assert.deepEqual(await c.drain(200), []);

    // a.example goes away: removed by its resource name, which is the name Envoy keys it by.
    await f.publish('d-vhds', 3, [edsCluster('cluster-a'), twoHosts('3', ['b.example'])]);
    const gone = await c.next();
    assert.equal(gone.type_url, VIRTUAL_HOST_TYPE);
    assert.deepEqual(gone.names, []);
    assert.deepEqual(gone.removed, ['l-routes/a.example']);
    c.ack(gone);

    // A reconnecting VHDS node presenting what it holds is sent nothing new.
    const again = f.delta();
    const rds2 = await subscribeRoutes(again, vhdsNode('d-vhds', 'v2'));
    again.send({
      type_url: VIRTUAL_HOST_TYPE,
      resource_names_subscribe: ['l-routes'],
      initial_resource_versions: { 'l-routes/b.example': vh.versions['l-routes/b.example'] as string },
    });
    assert.equal(rds2.versions['l-routes'], rds.versions['l-routes'], 'content-derived version');
    assert.deepEqual(await again.drain(300), []);

    // An on-demand lookup for an authority no virtual host is named after gets the name back as
    // its alias, with no body (how Envoy resumes the request it paused), not a removal.
    c.send({ type_url: VIRTUAL_HOST_TYPE, resource_names_subscribe: ['l-routes/unknown.example'] });
    const lookup = await c.next();
    assert.deepEqual(lookup.names, ['l-routes/unknown.example']);
    assert.deepEqual(lookup.removed, []);
    const entry = lookup.raw.resources[0] as { resource: unknown; aliases?: string[] };
    assert.equal(entry.resource, null);
    assert.deepEqual(entry.aliases, ['l-routes/unknown.example']);
    c.ack(lookup);

    // Unsubscribing the namespace drops its hosts without removals.
    c.send({ type_url: VIRTUAL_HOST_TYPE, resource_names_unsubscribe: ['l-routes'] });
    assert.deepEqual(await c.drain(200), []);
  });

  test('delta — a node that did not opt into VHDS gets the route configuration with every virtual host', async () => {
    await f.publish('d-novhds', 1, [edsCluster('cluster-a'), twoHosts('1')]);
    const c = f.delta();
    const rds = await subscribeRoutes(c, nodeIn('d-novhds'));
    const rc = decoded(rds);
    assert.equal(rc.vhds, undefined);
    assert.deepEqual(
      (rc.virtual_hosts as Array<{ name: string }>).map((v) => v.name),
      ['l-a.example', 'l-b.example'],
    );
    c.send({ type_url: VIRTUAL_HOST_TYPE, resource_names_subscribe: ['l-routes'] });
    const vh = await c.next();
    assert.deepEqual(vh.names, []);
    assert.deepEqual(vh.removed, ['l-routes'], 'no VHDS without opting in: the name does not exist');
  });
});
