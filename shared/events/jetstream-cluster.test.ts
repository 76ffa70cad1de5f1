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
import { type NatsCluster, startNatsCluster } from '../../test/harness/servers.ts';
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
