/**
 * `attache ingest fs`: one YAML-directory ingestor publishing into NATS JetStream.
 *
 * Runners, in start order:
 *   1. event log   — JetStream connection and stream (everything below publishes into it)
 *   2. fs ingestor — reconciles the directory with what the log holds for this cluster, then watches
 *   3. admin       — last, so /readyz only turns green once the initial state is published
 */
import os from 'node:os';
import { JetStreamEventLog } from '../../shared/events/jetstream-event-log.ts';
import { AdminServer } from '../../shared/runtime/admin-server.ts';
import { type FlagValue, flag } from '../../shared/runtime/config.ts';
import { createLogger } from '../../shared/runtime/logger.ts';
import { createRegistry } from '../../shared/runtime/metrics.ts';
import { fatalChannel, type Runner, runService } from '../../shared/runtime/runner.ts';
import { FsIngestor } from './fs/fs-ingestor.ts';

export async function runFsIngestor(flags: Record<string, FlagValue>): Promise<never> {
  const cluster = flag.str(flags, 'cluster') ?? '';
  const log = createLogger('attache-ingest-fs').child({ cluster });
  const registry = createRegistry('ingestor');
  const fatal = fatalChannel();
  const events = await JetStreamEventLog.connect({ url: flag.str(flags, 'nats') ?? '', log });
  const runners: Runner[] = [];
  runners.push({
    name: 'event-log',
    start: async () => {},
    ready: () => true,
    close: () => events.close(),
  });
  runners.push(
    new FsIngestor({
      dir: flag.str(flags, 'dir') ?? '',
      cluster,
      events,
      log,
      registry,
      pollIntervalMs: flag.num(flags, 'poll-interval-ms'),
      ingestorId: `fs/${cluster}/${os.hostname()}`,
    }),
  );
  runners.push(
    new AdminServer({
      host: flag.str(flags, 'admin-host') ?? '0.0.0.0',
      port: flag.num(flags, 'admin-port'),
      registry,
      runners: () => runners,
      log,
    }),
  );
  return runService(runners, log, fatal);
}
