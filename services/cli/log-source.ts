/**
 * Where the debugging commands read the event log: NATS JetStream (`--nats`) or a running
 * `attache dev` / `attache compile` admin port (`--admin`, which serves its log at
 * `/debug/events`, the only way to reach the embedded log of `attache dev`).
 */
import { JetStreamEventLog } from '../../shared/events/jetstream-event-log.ts';
import { SecretSealingEventLog } from '../../shared/events/sealed-secrets.ts';
import { type FlagValue, flag } from '../../shared/runtime/config.ts';
import { natsSecurityFromFlags } from '../../shared/runtime/connection-flags.ts';
import { ConfigError } from '../../shared/runtime/errors.ts';
import type { Logger } from '../../shared/runtime/logger.ts';
import { keyRingFromFlags } from '../../shared/runtime/secret-keys.ts';
import { HttpEventSource } from '../debug/http-event-source.ts';
import { LogHistory } from '../debug/log-history.ts';

/** Opens the history of the group the flags name; the caller closes it. */
export async function openHistory(
  flags: Record<string, FlagValue>,
  log: Logger,
): Promise<{ history: LogHistory; close(): Promise<void> }> {
  const group = flag.str(flags, 'group') ?? 'default';
  const nats = flag.str(flags, 'nats');
  const admin = flag.str(flags, 'admin');
  if (!nats === !admin) throw new ConfigError('give exactly one of --nats or --admin');
  if (admin) {
    return { history: await LogHistory.open(new HttpEventSource(admin), { group }), close: async () => {} };
  }
  const keys = keyRingFromFlags(flags);
  const events = new SecretSealingEventLog(
    await JetStreamEventLog.connect({ url: nats ?? '', security: natsSecurityFromFlags(flags), log }),
    { ...(keys ? { keys } : {}), plaintext: 'refuse', log },
  );
  try {
    return { history: await LogHistory.open(events, { group }), close: () => events.close() };
  } catch (err) {
    await events.close();
    throw err;
  }
}
