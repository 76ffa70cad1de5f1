/**
 * Runner lifecycle. A service is a list of runners started in order and closed in reverse order.
 * A runner's `start` returns once it is serving (or throws); its background work reports fatal
 * errors through `onFatal`, which stops the whole service.
 */
import type { Logger } from './logger.ts';

export interface Runner {
  /** Short name for logs and readiness output. */
  readonly name: string;
  /** Starts the runner; resolves once it is ready to do its job. */
  start(): Promise<void>;
  /** True once the runner is doing its job (feeds `/readyz`). */
  ready(): boolean;
  /** Stops background work and releases resources. Idempotent. */
  close(): Promise<void>;
}

/** Starts runners in order; on failure closes the ones already started (reverse order) and throws. */
export async function startRunners(runners: readonly Runner[], log: Logger): Promise<void> {
  const started: Runner[] = [];
  try {
    for (const r of runners) {
      log.debug({ runner: r.name }, 'starting');
      await r.start();
      started.push(r);
      log.info({ runner: r.name }, 'started');
    }
  } catch (err) {
    await closeRunners(started, log);
    throw err;
  }
}

/** Closes runners in reverse order, logging (not throwing) individual failures. */
export async function closeRunners(runners: readonly Runner[], log: Logger): Promise<void> {
  for (const r of [...runners].reverse()) {
    try {
      await r.close();
    } catch (err) {
      log.warn({ runner: r.name, err }, 'close failed');
    }
  }
}

/**
 * Runs a service until SIGINT/SIGTERM or a fatal error: starts the runners, waits, then closes
 * them in reverse order. Exits the process with 0 on signal, 1 on fatal error.
 */
export async function runService(
  runners: readonly Runner[],
  log: Logger,
  fatal: { promise: Promise<unknown> },
): Promise<never> {
  await startRunners(runners, log);
  const signal = new Promise<string>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
  let code = 0;
  const reason = await Promise.race([signal, fatal.promise.then((e) => e)]);
  if (typeof reason === 'string') {
    log.info({ signal: reason }, 'shutting down');
  } else {
    log.error({ err: reason }, 'fatal error, shutting down');
    code = 1;
  }
  await closeRunners(runners, log);
  log.flush();
  process.exit(code);
}

/** A one-shot channel for fatal errors raised by background loops. */
export function fatalChannel(): { promise: Promise<unknown>; raise: (err: unknown) => void } {
  let raise: (err: unknown) => void = () => {};
  const promise = new Promise<unknown>((resolve) => {
    raise = resolve;
  });
  return { promise, raise };
}
