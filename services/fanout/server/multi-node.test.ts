/**
 * Many fan-out nodes on one snapshot store: each with its own cache derives identical versions
 * from content, so a client moving from one node to another gets no re-push and no regression,
 * in SotW (version_info) and delta (initial_resource_versions).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Registry } from 'prom-client';
import { CLUSTER_TYPE, ENDPOINT_TYPE } from '../../../shared/xds/type-urls.ts';
import { SnapshotCache } from '../cache/snapshot-cache.ts';
import { AdsFixture, nodeIn, until } from '../testing/ads-fixture.ts';
import { edsCluster, loadAssignment } from '../testing/echo-resources.ts';
import { RawAdsClient } from '../testing/raw-ads-client.ts';
import { RawDeltaClient } from '../testing/raw-delta-client.ts';
import { AdsServerRunner } from './ads-server.ts';

const world = (port: number) => [
  edsCluster('cluster-a'),
  edsCluster('cluster-b'),
  loadAssignment('cluster-a', [port]),
  loadAssignment('cluster-b', [9002]),
];

describe('fan-out across nodes', () => {
  const f = new AdsFixture();
  let otherCache: SnapshotCache;
  let other: AdsServerRunner;
  const clients: Array<{ close(): void }> = [];

  before(async () => {
    await f.start();
    await f.publish('move', 1, world(9001));
    otherCache = new SnapshotCache({ store: f.store, log: f.log, registry: new Registry() });
    await otherCache.start();
    other = new AdsServerRunner({
      auth: { allowUnauthenticated: true },
      cache: otherCache,
      host: '127.0.0.1',
      port: 0,
      log: f.log,
      registry: new Registry(),
    });
    await other.start();
  });
  after(async () => {
    for (const c of clients) c.close();
    await other.close();
    await otherCache.close();
    await f.close();
  });

  test('many nodes — a SotW client moving to another node resumes without a re-push, then follows updates', async () => {
    const a = f.sotw();
    a.send({ node: nodeIn('move', 'mover'), type_url: CLUSTER_TYPE, resource_names: [] });
    const cds = await a.next();
    a.ack(cds);
    a.send({ type_url: ENDPOINT_TYPE, resource_names: ['cluster-a'] });
    const eds = await a.next();
    a.close();

    const b = new RawAdsClient(other.port);
    clients.push(b);
    b.send({
      node: nodeIn('move', 'mover'),
      type_url: CLUSTER_TYPE,
      resource_names: [],
      version_info: cds.version_info,
    });
    b.send({ type_url: ENDPOINT_TYPE, resource_names: ['cluster-a'], version_info: eds.version_info });
    assert.deepEqual(await b.drain(300), [], 'same content, same versions: nothing to re-push');
    assert.deepEqual(other.streams()[0]?.types.EDS, {
      sent: eds.version_info,
      acked: eds.version_info,
      nacked: false,
      wildcard: false,
      names: 1,
    });
    await f.publish('move', 2, world(9100));
    await until(() => otherCache.current('move')?.version === 2, 'other node at v2');
    const pushed = await b.next();
    assert.equal(pushed.type_url, ENDPOINT_TYPE);
    assert.notEqual(pushed.version_info, eds.version_info);
  });

  test('many nodes — a delta client moving with initial_resource_versions gets only what changed meanwhile', async () => {
    await f.publish('dmove', 1, world(9001));
    await until(() => otherCache.current('dmove')?.version === 1, 'other node at dmove v1');
    const a = f.delta();
    a.send({
      node: nodeIn('dmove', 'dmover'),
      type_url: ENDPOINT_TYPE,
      resource_names_subscribe: ['cluster-a', 'cluster-b'],
    });
    const eds = await a.next();
    a.close();

    const same = new RawDeltaClient(other.port);
    clients.push(same);
    same.send({
      node: nodeIn('dmove', 'dmover'),
      type_url: ENDPOINT_TYPE,
      resource_names_subscribe: ['cluster-a', 'cluster-b'],
      initial_resource_versions: eds.versions,
    });
    assert.deepEqual(await same.drain(300), [], 'holds every resource at the current hash');

    // Meanwhile cluster-a's endpoints changed: a client holding the old hash gets just that one.
    await f.publish('dmove', 2, world(9200));
    await until(() => otherCache.current('dmove')?.version === 2, 'other node at dmove v2');
    assert.deepEqual((await same.next()).names, ['cluster-a']);
    const late = new RawDeltaClient(other.port);
    clients.push(late);
    late.send({
      node: nodeIn('dmove', 'late'),
      type_url: ENDPOINT_TYPE,
      resource_names_subscribe: ['cluster-a', 'cluster-b'],
      initial_resource_versions: eds.versions,
    });
    const update = await late.next();
    assert.deepEqual([update.names, update.removed], [['cluster-a'], []]);
    assert.equal(
      update.versions['cluster-a'],
      otherCache.current('dmove')?.types.get(ENDPOINT_TYPE)?.resources.get('cluster-a')?.hash,
    );
  });
});
