/**
 * `attache replay`: rebuilds the snapshot for event sequence S from the log alone (fold events
 * 1..S, compile with the same pure passes) and writes it like `translate`, plus `manifest.json`.
 * With --redis it also compares the rebuilt manifest with the one committed for version S:
 * invariant 4 says they are byte-identical. Exit 0 when written (and identical if compared),
 * 3 when the committed manifest differs.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { EventLog } from '../../shared/events/event-log.ts';
import { JetStreamEventLog } from '../../shared/events/jetstream-event-log.ts';
import { SecretSealingEventLog } from '../../shared/events/sealed-secrets.ts';
import { type FlagValue, flag } from '../../shared/runtime/config.ts';
import {
  natsSecurityFromFlags,
  redisSecurityFromFlags,
  redisSentinelFromFlags,
} from '../../shared/runtime/connection-flags.ts';
import { createLogger } from '../../shared/runtime/logger.ts';
import { keyRingFromFlags } from '../../shared/runtime/secret-keys.ts';
import { encodeManifest, type Manifest } from '../../shared/snapshot/manifest.ts';
import { RedisSnapshotStore, withSentinel } from '../../shared/snapshot/redis-snapshot-store.ts';
import { compile } from '../compiler/compile.ts';
import { buildSnapshot } from '../compiler/runner-snapshot.ts';
import { WorldState } from '../compiler/runner-world.ts';
import { toTranslateFiles } from '../compiler/translate-output.ts';

/** Folds the log up to `toSeq` (default: its end) and builds that snapshot. */
export async function replaySnapshot(events: EventLog, group: string, toSeq?: number) {
  const end = toSeq ?? (await events.lastSeq());
  const world = new WorldState();
  if (end > 0) for await (const e of events.read({ fromSeq: 1, toSeq: end })) world.apply(e.seq, e.event);
  const result = compile(world.records(), { group });
  return { result, snapshot: buildSnapshot(group, world.lastSeq, result) };
}

export async function runReplay(flags: Record<string, FlagValue>): Promise<number> {
  const log = createLogger('attache-replay');
  const group = flag.str(flags, 'group') ?? 'default';
  const out = flag.str(flags, 'out') ?? '';
  const keys = keyRingFromFlags(flags);
  const events = new SecretSealingEventLog(
    await JetStreamEventLog.connect({
      url: flag.str(flags, 'nats') ?? '',
      security: natsSecurityFromFlags(flags),
      log,
    }),
    { ...(keys ? { keys } : {}), plaintext: 'refuse', log },
  );
  try {
    const toSeq = typeof flags['to-seq'] === 'number' ? flags['to-seq'] : undefined;
    const { result, snapshot } = await replaySnapshot(events, group, toSeq);
    fs.mkdirSync(out, { recursive: true });
    for (const [name, body] of Object.entries(toTranslateFiles(result)))
      fs.writeFileSync(path.join(out, name), body);
    const rebuilt = encodeManifest(snapshot.manifest);
    fs.writeFileSync(path.join(out, 'manifest.json'), rebuilt);
    process.stdout.write(`rebuilt ${group} at event sequence ${snapshot.manifest.version} into ${out}\n`);
    const redisUrl = flag.str(flags, 'redis');
    if (!redisUrl) return 0;
    const store = await RedisSnapshotStore.connect({
      url: redisUrl,
      prefix: flag.str(flags, 'redis-prefix') ?? 'attache:',
      security: redisSecurityFromFlags(flags),
      ...withSentinel(redisSentinelFromFlags(flags)),
      log,
    });
    try {
      const committed: Manifest | null = await store.getManifest(group, snapshot.manifest.version);
      if (!committed) {
        process.stdout.write(
          `no committed manifest for version ${snapshot.manifest.version} (not committed or collected)\n`,
        );
        return 0;
      }
      const same = Buffer.compare(Buffer.from(encodeManifest(committed)), Buffer.from(rebuilt)) === 0;
      process.stdout.write(
        same ? 'identical to the committed manifest\n' : 'DIFFERS from the committed manifest\n',
      );
      return same ? 0 : 3;
    } finally {
      await store.close();
    }
  } finally {
    await events.close();
  }
}
