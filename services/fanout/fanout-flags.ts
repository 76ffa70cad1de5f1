/**
 * Reading the `attache fanout` flags that need more than a lookup: TLS material from files and
 * durations such as `30m`, `10s` or `1500ms`.
 */
import fs from 'node:fs';
import { type FlagValue, flag } from '../../shared/runtime/config.ts';
import { ConfigError } from '../../shared/runtime/errors.ts';
import type { AdsTlsOptions } from './server/ads-server.ts';

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Milliseconds from `<number><ms|s|m|h>`; `0` alone means zero (disabled). */
export function parseDuration(name: string, value: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(value.trim());
  if (!m || (m[2] === undefined && Number(m[1]) !== 0)) {
    throw new ConfigError(
      `--${name} must be a duration like 30m, 10s or 500ms, got ${JSON.stringify(value)}`,
    );
  }
  return Math.round(Number(m[1]) * (UNITS[m[2] ?? 'ms'] ?? 1));
}

export function durationFlag(flags: Record<string, FlagValue>, name: string, fallback: string): number {
  return parseDuration(name, flag.str(flags, name) ?? fallback);
}

/** TLS for the xDS port from `--tls-cert`/`--tls-key` (both or neither) and `--client-ca`. */
export function tlsFlags(flags: Record<string, FlagValue>): AdsTlsOptions | undefined {
  const cert = flag.str(flags, 'tls-cert');
  const key = flag.str(flags, 'tls-key');
  const ca = flag.str(flags, 'client-ca');
  if (!cert && !key) {
    if (ca) throw new ConfigError('--client-ca needs --tls-cert and --tls-key (mutual TLS is TLS first)');
    return undefined;
  }
  if (!cert || !key) throw new ConfigError('--tls-cert and --tls-key go together');
  const read = (name: string, path: string) => {
    try {
      return fs.readFileSync(path);
    } catch (err) {
      throw new ConfigError(`--${name}: cannot read ${path}: ${(err as Error).message}`);
    }
  };
  return {
    cert: read('tls-cert', cert),
    key: read('tls-key', key),
    ...(ca ? { clientCa: read('client-ca', ca) } : {}),
  };
}
