/**
 * `attache ingest fs`: one YAML-directory ingestor publishing into NATS JetStream.
 *
 * Runners, in start order (see {@link runIngestService}):
 *   1. event log   — JetStream connection and stream (everything below publishes into it)
 *   2. fs ingestor — reconciles the directory with what the log holds for this cluster, then watches
 *   3. admin       — last, so /readyz only turns green once the initial state is published
 */
import os from 'node:os';
import { type FlagValue, flag } from '../../shared/runtime/config.ts';
import { FsIngestor } from './fs/fs-ingestor.ts';
import { runIngestService } from './shared/ingest-service.ts';

export async function runFsIngestor(flags: Record<string, FlagValue>): Promise<never> {
  return runIngestService(flags, 'attache-ingest-fs', ({ cluster, log, registry, events }) => [
    new FsIngestor({
      dir: flag.str(flags, 'dir') ?? '',
      cluster,
      events,
      log,
      registry,
      pollIntervalMs: flag.num(flags, 'poll-interval-ms'),
      watchDebounceMs: flag.num(flags, 'watch-debounce-ms'),
      antiEntropyIntervalMs: flag.num(flags, 'anti-entropy-interval-ms'),
      ingestorId: `fs/${cluster}/${os.hostname()}`,
    }),
  ]);
}
