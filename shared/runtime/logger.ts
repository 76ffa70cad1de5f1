/** Structured logging (pino). One root logger per process; components take children. */
import { type Logger, pino } from 'pino';

export type { Logger };

/**
 * Creates the process logger. Level from `ATTACHE_LOG_LEVEL` (default `info`), JSON to stderr so
 * stdout stays free for command output. Secret-bearing fields are redacted.
 */
export function createLogger(name: string, level = process.env.ATTACHE_LOG_LEVEL ?? 'info'): Logger {
  return pino(
    {
      name,
      level,
      base: { pid: process.pid },
      redact: { paths: ['*.data', '*.tls_certificate', '*.private_key', 'secret'], censor: '[redacted]' },
    },
    pino.destination({ fd: 2, sync: false }),
  );
}

/** A logger that discards everything (tests that assert on behaviour, not logs). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
