/** Runs the event log contract suite against the in-memory log and against a real nats-server. */
import { after, before, describe } from 'node:test';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { startNats, type TestServer } from '../../test/harness/servers.ts';
import { silentLogger } from '../runtime/logger.ts';
import { eventLogContract } from './event-log.contract.ts';
import { JetStreamEventLog } from './jetstream-event-log.ts';
import { MemoryEventLog } from './memory-event-log.ts';

eventLogContract('memory', async () => {
  const log = new MemoryEventLog();
  return { log, cleanup: () => log.close() };
});

describe('JetStreamEventLog', () => {
  let server: TestServer;
  let admin: NatsConnection;
  let streams = 0;

  before(async () => {
    server = await startNats();
    admin = await connect({ servers: server.url, name: 'event-log-test-admin' });
  });

  after(async () => {
    await admin?.close();
    await server?.dispose();
  });

  // Every stream claims the same subjects, so each test's stream is deleted before the next starts.
  eventLogContract('jetstream', async () => {
    const streamName = `EVENTS_TEST_${++streams}`;
    const log = await JetStreamEventLog.connect({ url: server.url, log: silentLogger(), streamName });
    return {
      log,
      cleanup: async () => {
        await log.close();
        const jsm = await jetstreamManager(admin);
        await jsm.streams.delete(streamName);
      },
    };
  });
});
