/**
 * The running ACK tally behind fleet status (ack-tally.ts): whatever streams do — ACK, NACK, resume
 * at the current version, take a new snapshot, disconnect — a group's summary equals the count a
 * walk over its streams' own per-type status gives. Real SotW and delta clients over loopback.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CLUSTER_TYPE, ENDPOINT_TYPE } from '../../../shared/xds/type-urls.ts';
import { AdsFixture, nodeIn, until } from '../testing/ads-fixture.ts';
import { edsCluster, loadAssignment } from '../testing/echo-resources.ts';
import { AckTally } from './ack-tally.ts';
import type { GroupSummary } from './stream-hub.ts';

/** The summary of `group` counted the slow way, from every stream's status. */
function walked(f: AdsFixture, group: string): GroupSummary {
  const types: GroupSummary['types'] = {};
  let streams = 0;
  for (const s of f.ads.streams()) {
    if (s.group !== group) continue;
    streams++;
    for (const [type, st] of Object.entries(s.types)) {
      const t = types[type] ?? { acked: {}, nacking: 0 };
      types[type] = t;
      if (st.acked !== undefined) t.acked[st.acked] = (t.acked[st.acked] ?? 0) + 1;
      if (st.nacked) t.nacking++;
    }
  }
  return { streams, types };
}

describe('fan-out fleet summary — running ACK tally', () => {
  const f = new AdsFixture();
  before(async () => {
    await f.start();
    await f.publish('g1', 1, [edsCluster('a'), edsCluster('b'), loadAssignment('a', [1001])]);
    await f.publish('g2', 1, [edsCluster('c')]);
  });
  after(() => f.close());

  /** Waits until the walk shows `ready`, then the tally must say exactly what the walk says. */
  async function agree(ready: (g1: GroupSummary, g2: GroupSummary) => boolean, what: string): Promise<void> {
    await until(() => ready(walked(f, 'g1'), walked(f, 'g2')), what);
    for (const g of ['g1', 'g2']) assert.deepEqual(f.ads.summary(g), walked(f, g), `${what}: group ${g}`);
  }

  test('tally — ACKs, NACKs, resumes, new snapshots and disconnects keep the summary equal to a walk over the streams', async () => {
    const v1 = f.cache.current('g1')?.types.get(CLUSTER_TYPE)?.version as string;
    const acker = f.sotw();
    acker.send({ node: nodeIn('g1', 'acker'), type_url: CLUSTER_TYPE, resource_names: [] });
    acker.ack(await acker.next());
    acker.send({ type_url: ENDPOINT_TYPE, resource_names: ['a'] });
    const eds = await acker.next();
    const nacker = f.sotw();
    nacker.send({ node: nodeIn('g1', 'nacker'), type_url: CLUSTER_TYPE, resource_names: [] });
    const cds = await nacker.next();
    nacker.send({
      type_url: CLUSTER_TYPE,
      resource_names: [],
      version_info: '',
      response_nonce: cds.nonce,
      error_detail: { code: 3, message: 'no' },
    });
    const resumer = f.sotw();
    resumer.send({
      node: nodeIn('g1', 'resumer'),
      type_url: CLUSTER_TYPE,
      resource_names: [],
      version_info: v1,
    });
    const delta = f.delta();
    delta.send({ node: nodeIn('g1', 'delta'), type_url: CLUSTER_TYPE });
    delta.ack(await delta.next());
    const other = f.delta();
    other.send({ node: nodeIn('g2', 'other'), type_url: CLUSTER_TYPE });
    const otherCds = await other.next();
    other.send({
      type_url: CLUSTER_TYPE,
      response_nonce: otherCds.nonce,
      error_detail: { code: 3, message: 'no' },
    });
    await agree(
      (g1, g2) =>
        g1.streams === 4 &&
        g1.types.CDS?.acked[v1] === 3 &&
        g1.types.CDS.nacking === 1 &&
        g2.types.CDS?.nacking === 1,
      'first answers',
    );
    assert.deepEqual(f.ads.summary('g1').types.EDS, { acked: {}, nacking: 0 }, 'requested, not yet answered');

    acker.ack(eds, ['a']);
    await agree((g1) => g1.types.EDS?.acked[eds.version_info] === 1, 'EDS ACKed');
    await f.publish('g1', 2, [edsCluster('a'), loadAssignment('a', [1002])]);
    const v2 = f.cache.current('g1')?.types.get(CLUSTER_TYPE)?.version as string;
    acker.ack(await acker.next());
    await agree(
      (g1) => g1.types.CDS?.acked[v2] === 1 && Object.keys(g1.types.EDS?.acked ?? {}).length === 1,
      'v2 on one stream',
    );

    nacker.close();
    delta.close();
    await agree((g1) => g1.streams === 2 && g1.types.CDS?.nacking === 0, 'two streams gone');
    acker.close();
    resumer.close();
    other.close();
    await agree((g1, g2) => g1.streams === 0 && g2.streams === 0, 'every stream gone');
    assert.deepEqual(f.ads.summary('g1'), { streams: 0, types: {} });
  });

  test('tally — counts taken back leave no empty versions or groups behind', () => {
    const t = new AckTally();
    t.add('g', 0, { ackedVersion: 'v1', nacked: false });
    t.add('g', 0, { ackedVersion: 'v1', nacked: true });
    t.add('g', 1, { nacked: false });
    assert.deepEqual(t.types('g'), { CDS: { acked: { v1: 2 }, nacking: 1 }, EDS: { acked: {}, nacking: 0 } });
    t.remove('g', 0, { ackedVersion: 'v1', nacked: true });
    t.add('g', 0, { ackedVersion: 'v2', nacked: false });
    t.remove('g', 0, { ackedVersion: 'v1', nacked: false });
    assert.deepEqual(t.types('g'), { CDS: { acked: { v2: 1 }, nacking: 0 }, EDS: { acked: {}, nacking: 0 } });
    t.remove('g', 0, { ackedVersion: 'v2', nacked: false });
    t.remove('g', 1, { nacked: false });
    assert.deepEqual(t.types('g'), {});
  });
});
