/** A pino logger whose JSON lines a test can read back (to assert that something was logged). */
import { Writable } from 'node:stream';
import { type Logger, pino } from 'pino';

export interface CapturedLogs {
  log: Logger;
  /** Every line logged so far, parsed. */
  lines: () => Record<string, unknown>[];
  /** Total bytes logged so far. */
  bytes: () => number;
}

export function captureLogs(level = 'debug'): CapturedLogs {
  const chunks: string[] = [];
  let bytes = 0;
  const stream = new Writable({
    write(chunk, _enc, cb) {
      const s = String(chunk);
      bytes += Buffer.byteLength(s);
      chunks.push(s);
      cb();
    },
  });
  return {
    log: pino({ level }, stream),
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>),
    bytes: () => bytes,
  };
}
