/**
 * Fleet events on a real nats-server: a NACK becomes an `attache.fleet.<group>.nack` message
 * naming node, type, rejected version, error detail and resources; status summaries reach
 * `attache.fleet.<group>.status` and `attache status` aggregates them across fan-out nodes.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Registry } from 'prom-client';
import { CLUSTER_TYPE } from '../../../shared/xds/type-urls.ts';
import { startNats, type TestServer } from '../../../test/harness/servers.ts';
import { collectStatus } from '../status-command.ts';
import { AdsFixture, nodeIn, until } from '../testing/ads-fixture.ts';
import { edsCluster } from '../testing/echo-resources.ts';
import { aggregateStatus, formatStatus } from './convergence.ts';
import { FleetEventPublisher } from './fleet-event-publisher.ts';
import type { NackEvent, StatusEvent } from './fleet-messages.ts';
import { FleetReporter } from './fleet-reporter.ts';

describe('fan-out fleet events over NATS', () => {
  let nats: TestServer;
  let nc: NatsConnection;
  const f = new AdsFixture();
  const reporters: FleetReporter[] = [];
  const publishers: FleetEventPublisher[] = [];
  const received: Array<NackEvent | StatusEvent> = [];

  /** A publisher and reporter for the fixture's server `i`, as fanout-service wires them. */
  async function wire(fanoutId: string, i: number): Promise<FleetReporter> {
    const publisher = new FleetEventPublisher({ servers: nats.url, log: f.log, registry: new Registry() });
    await publisher.start();
    publishers.push(publisher);
    const reporter = new FleetReporter({
      fanoutId,
      source: {
        groups: () => f.servers[i]?.groups() ?? [],
        summary: (g) => f.servers[i]?.summary(g) ?? { streams: 0, types: {} },
      },
      publish: (s, b) => publisher.publish(s, b),
      log: f.log,
      intervalMs: 300,
      coalesceMs: 50,
    });
    await reporter.start();
    reporters.push(reporter);
    await until(() => publisher.connected, 'publisher connected');
    return reporter;
  }

  before(async () => {
    nats = await startNats();
    nc = await connect({ servers: nats.url });
    nc.subscribe('attache.fleet.>', {
      callback: (_e, m) => {
        received.push(JSON.parse(Buffer.from(m.data).toString()) as NackEvent | StatusEvent);
      },
    });
    await f.cache.start();
    const r0 = await wire('fanout-0', 0);
    await f.addServer({ events: r0 });
    const r1 = await wire('fanout-1', 1);
    await f.addServer({ events: r1 });
    await f.publish('fleet', 1, [edsCluster('a'), edsCluster('b')]);
  });
  after(async () => {
    await f.close();
    for (const r of reporters) await r.close();
    for (const p of publishers) await p.close();
    await nc.close();
    await nats.dispose();
  });

  test('fleet events — a NACK is published with node, type, rejected version, error detail and resources', async () => {
    const c = f.sotw();
    c.send({ node: nodeIn('fleet', 'envoy-1'), type_url: CLUSTER_TYPE, resource_names: [] });
    const cds = await c.next();
    c.send({
      type_url: CLUSTER_TYPE,
      resource_names: [],
      version_info: '',
      response_nonce: cds.nonce,
      error_detail: { code: 3, message: 'cluster b: unsupported lb_policy' },
    });
    await until(() => received.some((e) => e.kind === 'nack'), 'a NACK event');
    const nack = received.find((e): e is NackEvent => e.kind === 'nack');
    assert.deepEqual(
      { ...nack, at: undefined },
      {
        kind: 'nack',
        fanout: 'fanout-0',
        group: 'fleet',
        node: 'envoy-1',
        cluster: 'test',
        type: 'CDS',
        typeUrl: CLUSTER_TYPE,
        protocol: 'sotw',
        rejectedVersion: cds.version_info,
        clientVersion: '',
        errorDetail: { code: 3, message: 'cluster b: unsupported lb_policy' },
        resources: ['a', 'b'],
        at: undefined,
      },
    );
  });

  test('fleet status — each fan-out node reports ACKed versions, and attache status sums them', async () => {
    const version = f.cache.current('fleet')?.types.get(CLUSTER_TYPE)?.version as string;
    for (const [i, id] of [
      [0, 'x0'],
      [1, 'x1'],
      [1, 'x2'],
    ] as const) {
      const c = f.sotw(f.servers[i]);
      c.send({ node: nodeIn('fleet', id), type_url: CLUSTER_TYPE, resource_names: [] });
      c.ack(await c.next());
    }
    // /debug/fleet's source: this node's view.
    await until(
      () => reporters[1]?.statusOf('fleet').types.CDS?.acked[version] === 2,
      'fanout-1 sees 2 ACKs',
    );
    const reports = await collectStatus(nats.url, 'fleet', 800);
    const [fleet] = aggregateStatus(reports);
    assert.deepEqual(fleet?.fanouts, ['fanout-0', 'fanout-1']);
    assert.equal(fleet?.streams, 4);
    assert.deepEqual(fleet?.types.CDS, {
      versions: [{ version, nodes: 3, share: 1 }],
      nacking: 1,
      nacksTotal: 1,
    });
    // envoy-1's NACK still stands (it never ACKed CDS since): every report of fanout-0 names it.
    assert.deepEqual(
      fleet?.nacks.map((n) => [n.fanout, n.node, n.type, n.errorDetail.message]),
      [['fanout-0', 'envoy-1', 'CDS', 'cluster b: unsupported lb_policy']],
    );
    const text = formatStatus(aggregateStatus(reports));
    assert.match(text, /group fleet: 4 streams on 2 fan-out node\(s\)/);
    assert.match(text, /NACK CDS from node envoy-1 \(fan-out fanout-0\).*cluster b: unsupported lb_policy/);
  });

  test('fleet status — a NACK stands until its node ACKs that type, and goes when the node disconnects', async () => {
    const standing = () =>
      (reporters[0]?.statusOf('fleet').nacks ?? []).filter((n) => n.node === 'envoy-9').map((n) => n.type);
    const nack = (c: ReturnType<typeof f.sotw>, nonce: string) =>
      c.send({
        type_url: CLUSTER_TYPE,
        resource_names: [],
        version_info: '',
        response_nonce: nonce,
        error_detail: { code: 3, message: 'cluster a: rejected' },
      });
    const c = f.sotw();
    c.send({ node: nodeIn('fleet', 'envoy-9'), type_url: CLUSTER_TYPE, resource_names: [] });
    nack(c, (await c.next()).nonce);
    await until(() => standing().length === 1, 'envoy-9 NACK stands');
    assert.deepEqual(standing(), ['CDS']);
    // A new snapshot: the node ACKs the CDS it is sent, and its NACK no longer stands.
    await f.publish('fleet', 2, [edsCluster('a'), edsCluster('b'), edsCluster('c')]);
    const next = await c.next();
    c.ack(next);
    await until(() => standing().length === 0, 'the ACK clears it');
    // NACKed again, then gone: a node that left rejects nothing.
    await f.publish('fleet', 3, [edsCluster('a'), edsCluster('c')]);
    nack(c, (await c.next()).nonce);
    await until(() => standing().length === 1, 'envoy-9 NACK stands again');
    c.close();
    await until(() => standing().length === 0, 'the disconnect clears it');
  });

  test('fleet events — while NATS is unreachable events wait in a bounded queue and the oldest are dropped', async () => {
    const registry = new Registry();
    const p = new FleetEventPublisher({ servers: 'nats://127.0.0.1:1', log: f.log, registry, maxQueue: 2 });
    await p.start();
    for (let i = 0; i < 5; i++) p.publish('attache.fleet.x.nack', { i });
    assert.equal(p.queued, 2);
    const dropped = await registry.getSingleMetric('attache_fanout_fleet_events_dropped_total')?.get();
    assert.equal(dropped?.values[0]?.value, 3);
    await p.close();
  });
});
