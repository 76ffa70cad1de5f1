/**
 * The frame every `attache ingest …` command shares. Runners, in start order:
 *   1. event log — JetStream connection and stream (everything below publishes into it)
 *   2. the command's own runners (its ingestor, then anything that needs the published state)
 *   3. admin     — last, so /readyz only turns green once the initial state is published
 */
import type { Registry } from 'prom-client';
import type { EventLog } from '../../../shared/events/event-log.ts';
import { JetStreamEventLog } from '../../../shared/events/jetstream-event-log.ts';
import { SecretSealingEventLog } from '../../../shared/events/sealed-secrets.ts';
import { AdminServer, adminTokenFromFlags } from '../../../shared/runtime/admin-server.ts';
import { type FlagValue, flag } from '../../../shared/runtime/config.ts';
import { natsSecurityFromFlags } from '../../../shared/runtime/connection-flags.ts';
import { createLogger, type Logger } from '../../../shared/runtime/logger.ts';
import { createRegistry } from '../../../shared/runtime/metrics.ts';
import { fatalChannel, type Runner, runService } from '../../../shared/runtime/runner.ts';
import { PLAINTEXT_SECRETS_WARNING, productionSecretKeys } from '../../../shared/runtime/secret-keys.ts';

/** What an ingest command's runners are built from. */
export interface IngestContext {
  /** The source cluster name (`--cluster`); every event published carries it. */
  cluster: string;
  /** The service logger, already bound to the cluster. */
  log: Logger;
  registry: Registry;
  /** The event log; Secret material is sealed on the way in (shared/events/sealed-secrets.ts). */
  events: EventLog;
}

/**
 * Connects the event log (`--nats`), builds the command's runners and runs them between the event
 * log and the admin server (`--admin-host`, `--admin-port`) until the process is told to stop.
 */
export async function runIngestService(
  flags: Record<string, FlagValue>,
  loggerName: string,
  build: (c: IngestContext) => Runner[],
): Promise<never> {
  const cluster = flag.str(flags, 'cluster') ?? '';
  const log = createLogger(loggerName).child({ cluster });
  const registry = createRegistry('ingestor');
  const fatal = fatalChannel();
  // Before connecting anywhere: without keys (or the explicit plaintext flag) the command exits.
  const secrets = productionSecretKeys(flags, 'publishes TLS Secrets (private keys) into NATS');
  if (!secrets.keys) log.warn(PLAINTEXT_SECRETS_WARNING);
  const jetstream = await JetStreamEventLog.connect({
    url: flag.str(flags, 'nats') ?? '',
    security: natsSecurityFromFlags(flags),
    log,
  });
  const events = new SecretSealingEventLog(jetstream, { ...secrets, log });
  const runners: Runner[] = [];
  runners.push({
    name: 'event-log',
    start: async () => {},
    ready: () => true,
    close: () => events.close(),
  });
  runners.push(...build({ cluster, log, registry, events }));
  runners.push(
    new AdminServer({
      host: flag.str(flags, 'admin-host') ?? '0.0.0.0',
      port: flag.num(flags, 'admin-port'),
      token: adminTokenFromFlags(flags),
      registry,
      runners: () => runners,
      log,
    }),
  );
  return runService(runners, log, fatal);
}
