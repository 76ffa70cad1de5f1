/**
 * The event log on a three-node JetStream cluster (three `nats-server` processes routed on
 * loopback, stream replicas 3): the node leading the stream is killed (SIGKILL) while events are
 * being published. Every acknowledged event must be in the log exactly once; the publisher, given
 * every node's URL, carries on with the survivors, retrying unacknowledged events with the same
 * message id (JetStream's de-duplication makes the retry safe).
 *
 * ATTACHE_CLUSTER_EVENTS sets how many events (default 10,000).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { eventually } from '../../test/harness/eventually.ts';
import { type NatsCluster, startNatsCluster, type TestServer } from '../../test/harness/servers.ts';
import { natsServers } from '../runtime/connection-flags.ts';
import { silentLogger } from '../runtime/logger.ts';
import { ENVELOPE_VERSION, type EventEnvelope } from './envelope.ts';
import { JetStreamEventLog } from './jetstream-event-log.ts';

const EVENTS = Number(process.env.ATTACHE_CLUSTER_EVENTS ?? 10_000);
const IN_FLIGHT = 64;
const STREAM = 'CLUSTER_TEST';

function event(name: string): EventEnvelope {
  return {
    v: ENVELOPE_VERSION,
    cluster: 'east',
    kind: 'Mapping',
    namespace: 'default',
    name,
    op: 'upsert',
    resourceVersion: '1',
    generation: 1,
    observedAt: new Date(0).toISOString(),
    ingestor: 'test/east/host',
    object: {
      apiVersion: 'getambassador.io/v3alpha1',
      kind: 'Mapping',
      metadata: { name, namespace: 'default' },
      spec: { prefix: `/${name}/`, service: 'svc:80' },
    },
  };
}

describe('JetStream cluster — stream leader killed during publishing', () => {
  let cluster: NatsCluster;
  let log: JetStreamEventLog;
  let admin: NatsConnection;

  before(async () => {
    cluster = await startNatsCluster(3);
    // The cluster elects its JetStream meta leader after the ports open.
    log = await eventually(
      () =>
        JetStreamEventLog.connect({
          url: cluster.urls,
          log: silentLogger(),
          streamName: STREAM,
          replicas: 3,
          publishTimeoutMs: 2_000,
          requestTimeoutMs: 2_000,
        }),
      { timeoutMs: 60_000, intervalMs: 500 },
    );
    admin = await connect({ servers: natsServers(cluster.urls), name: 'cluster-test-admin' });
  });

  after(async () => {
    await log?.close();
    await admin?.close();
    await cluster?.dispose();
  });

  const streamLeader = async (): Promise<string> => {
    const jsm = await jetstreamManager(admin, { timeout: 2_000 });
    const leader = (await jsm.streams.info(STREAM)).cluster?.leader;
    assert.ok(leader, 'the stream has a leader');
    return leader;
  };

  test(`every acknowledged event of ${EVENTS} is in the log exactly once`, {
    timeout: 600_000,
  }, async (t) => {
    const jsm = await jetstreamManager(admin);
    assert.equal((await jsm.streams.info(STREAM)).config.num_replicas, 3);
    const leaderBefore = await eventually(streamLeader, { timeoutMs: 30_000 });
    const acked = new Set<string>();
    let retries = 0;
    let killedAt = 0;
    let firstAckAfterKill = 0;
    let next = 0;
    const startedAt = Date.now();
    const publishOne = async (name: string) => {
      for (;;) {
        try {
          await log.publish(event(name));
          acked.add(name);
          if (killedAt && !firstAckAfterKill) firstAckAfterKill = Date.now();
          return;
        } catch {
          retries++;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    };
    const worker = async () => {
      while (next < EVENTS) {
        const i = next++;
        if (i === Math.floor(EVENTS / 3) && !killedAt) {
          killedAt = Date.now();
          await cluster.node(leaderBefore)?.stop('SIGKILL');
        }
        await publishOne(`ev-${i}`);
      }
    };
    await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
    const elapsed = Date.now() - startedAt;
    assert.ok(killedAt > 0, 'the leader was killed mid-publish');
    assert.equal(acked.size, EVENTS);
    const leaderAfter = await eventually(streamLeader, { timeoutMs: 30_000 });
    assert.notEqual(leaderAfter, leaderBefore, 'a surviving node leads the stream');

    // Reading back creates a consumer, which a cluster still settling after the kill may time out.
    const { counts, last } = await eventually(
      async () => {
        const counts = new Map<string, number>();
        const last = await log.lastSeq();
        for await (const e of log.read({ fromSeq: 1, toSeq: last })) {
          counts.set(e.event.name, (counts.get(e.event.name) ?? 0) + 1);
        }
        return { counts, last };
      },
      { timeoutMs: 60_000, intervalMs: 1_000 },
    );
    const missing = [...acked].filter((n) => !counts.has(n));
    const duplicated = [...counts].filter(([, c]) => c > 1).map(([n]) => n);
    assert.deepEqual(missing, [], 'no acknowledged event lost');
    assert.deepEqual(duplicated, [], 'no event stored twice');
    assert.equal(last, EVENTS, 'the stream holds exactly the events published');
    t.diagnostic(
      `${EVENTS} events in ${elapsed} ms with ${IN_FLIGHT} in flight; leader ${leaderBefore} killed, ` +
        `${leaderAfter} took over; first ack ${firstAckAfterKill - killedAt} ms after the kill; ${retries} retried publishes`,
    );
  });
});

describe('JetStream cluster — a follower on a surviving node when the stream leader dies', () => {
  let cluster: NatsCluster;
  let admin: NatsConnection;
  const logs: JetStreamEventLog[] = [];

  before(async () => {
    cluster = await startNatsCluster(3);
    admin = await connect({ servers: natsServers(cluster.urls), name: 'cluster-follow-admin' });
  });

  after(async () => {
    for (const l of logs) await l.close();
    await admin?.close();
    await cluster?.dispose();
  });

  // The follower's ordered consumer has one replica, on one node; the follower is connected to
  // another, so no disconnect tells the client anything when that node dies. Before `follow`
  // replaced a silent consumer, it waited until the dead node came back (the fault suite saw 90 s).
  test('follow — keeps delivering after the node hosting its consumer is killed', async (t) => {
    const open = (url: string) =>
      eventually(
        () =>
          JetStreamEventLog.connect({
            url,
            log: silentLogger(),
            streamName: 'FOLLOW_TEST',
            replicas: 3,
            publishTimeoutMs: 2_000,
            requestTimeoutMs: 2_000,
            pullExpiresMs: 2_000,
          }),
        { timeoutMs: 60_000, intervalMs: 500 },
      );
    const publisher = await open(cluster.urls);
    logs.push(publisher);
    await publisher.publish(event('before'));
    const jsm = await jetstreamManager(admin, { timeout: 2_000 });
    // Start followers on n0 until one's consumer lives on another node.
    const follower = await open((cluster.nodes[0] as TestServer).url);
    logs.push(follower);
    let host: string | undefined;
    let seen: string[] = [];
    let abort = new AbortController();
    let following: Promise<void> = Promise.resolve();
    for (let attempt = 0; attempt < 20 && !host; attempt++) {
      abort.abort();
      await following;
      abort = new AbortController();
      const mine: string[] = [];
      seen = mine;
      const signal = abort.signal;
      following = (async () => {
        for await (const e of follower.follow({ fromSeq: 1, signal })) mine.push(e.event.name);
      })();
      await eventually(() => assert.deepEqual(mine, ['before']), { timeoutMs: 30_000 });
      const hosts: string[] = [];
      for await (const c of jsm.consumers.list('FOLLOW_TEST'))
        if (c.cluster?.leader) hosts.push(c.cluster.leader);
      if (hosts.length === 1 && hosts[0] !== 'n0') host = hosts[0];
    }
    try {
      assert.ok(host, 'a follow consumer placed on a node other than the one the follower is connected to');
      const killedAt = Date.now();
      await cluster.node(host)?.stop('SIGKILL');
      await eventually(() => publisher.publish(event('after')), { timeoutMs: 60_000, intervalMs: 500 });
      await eventually(() => assert.deepEqual(seen, ['before', 'after']), {
        timeoutMs: 60_000,
        intervalMs: 100,
      });
      t.diagnostic(
        `consumer host ${host} killed; the next event delivered ${Date.now() - killedAt} ms after`,
      );
    } finally {
      abort.abort();
      await following;
    }
  });
});
