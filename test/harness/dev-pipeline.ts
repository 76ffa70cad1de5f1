/**
 * `attache dev` pipelines for tests: quick debounce, silent log, a fresh metrics registry,
 * anonymous xDS (loopback only), and a helper that waits until everything written is committed.
 */
import assert from 'node:assert/strict';
import { type DevOptions, type DevPipeline, startDevPipeline } from '../../services/cli/dev.ts';
import { silentLogger } from '../../shared/runtime/logger.ts';
import { createRegistry } from '../../shared/runtime/metrics.ts';
import { eventually } from './eventually.ts';

type TestDevOptions = Omit<
  DevOptions,
  'auth' | 'debounceMs' | 'maxDelayMs' | 'pollIntervalMs' | 'log' | 'registry' | 'onFatal'
>;

/** Starts a dev pipeline with the test defaults above; `o` gives sources, ports and stores. */
export function startTestDevPipeline(o: TestDevOptions): ReturnType<typeof startDevPipeline> {
  return startDevPipeline({
    ...o,
    auth: { allowUnauthenticated: true },
    debounceMs: 20,
    maxDelayMs: 200,
    pollIntervalMs: 200,
    log: silentLogger(),
    registry: createRegistry('test'),
    onFatal: (err) => {
      throw err;
    },
  });
}

/** Flushes every ingestor, then waits until group `default`'s head is the log's last sequence. */
export async function settled(p: DevPipeline): Promise<number> {
  for (const ing of p.ingestors) await ing.flush();
  return eventually(async () => {
    const last = await p.events.lastSeq();
    await p.compiler.idle();
    assert.equal(await p.store.head('default'), last);
    return last;
  });
}
