/**
 * Reading the `attache fanout` flags that need more than a lookup: TLS material from files,
 * client authentication, and durations such as `30m`, `10s` or `1500ms`.
 */
import fs from 'node:fs';
import { type FlagValue, flag } from '../../shared/runtime/config.ts';
import { ConfigError } from '../../shared/runtime/errors.ts';
import type { AdsAuthOptions, AdsTlsOptions, XdsTransport } from './server/ads-server.ts';
import { TOKENS_ENV, TokenTable } from './server/bearer-tokens.ts';
import type { AdsLimits, ServedSetCacheBudget } from './server/client-limits.ts';

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
/** `--xds-transport`: `h2` (default) or `grpc-js`. */
export function xdsTransportFlag(flags: Record<string, FlagValue>): XdsTransport {
  const value = flag.str(flags, 'xds-transport') ?? 'h2';
  if (value !== 'h2' && value !== 'grpc-js') {
    throw new ConfigError(`--xds-transport must be h2 or grpc-js, not "${value}"`);
  }
  return value;
}

export function tlsFlags(flags: Record<string, FlagValue>): AdsTlsOptions | undefined {
  const cert = flag.str(flags, 'tls-cert');
  const key = flag.str(flags, 'tls-key');
  const ca = flag.str(flags, 'client-ca');
  const trustDomains = flag.list(flags, 'trust-domain').map((d) => d.toLowerCase());
  if (trustDomains.length > 0 && !ca) throw new ConfigError('--trust-domain needs --client-ca (mutual TLS)');
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
    ...(ca ? { clientCa: read('client-ca', ca), trustDomains } : {}),
  };
}

/**
 * Client authentication from `--tokens-file` / `ATTACHE_XDS_TOKENS` and `--allow-unauthenticated`.
 * Refuses to start a server nobody could authenticate to unless anonymous clients are explicitly
 * allowed: an unauthenticated fleet is never the silent default.
 */
export function authFlags(flags: Record<string, FlagValue>, tls: AdsTlsOptions | undefined): AdsAuthOptions {
  const tokens = TokenTable.load(flag.str(flags, 'tokens-file'), flag.str(flags, 'xds-tokens'));
  const allowUnauthenticated = flag.bool(flags, 'allow-unauthenticated');
  if (!tokens && !tls?.clientCa && !allowUnauthenticated) {
    throw new ConfigError(
      `xDS clients must authenticate: give --tokens-file (or ${TOKENS_ENV}) for bearer tokens and/or --client-ca for mutual TLS, or run with --allow-unauthenticated (insecure: any peer receives any group)`,
    );
  }
  return { ...(tokens ? { tokens } : {}), allowUnauthenticated };
}

/** Per-client limits and cache budgets from their flags (every one has a default). */
export function limitFlags(flags: Record<string, FlagValue>): {
  limits: AdsLimits;
  caches: ServedSetCacheBudget;
} {
  const nonNegative = (name: string) => {
    const n = flag.num(flags, name);
    if (!Number.isInteger(n) || n < 0)
      throw new ConfigError(`--${name} must be a whole number ≥ 0, got ${n}`);
    return n;
  };
  return {
    limits: {
      maxRequestBytes: nonNegative('max-request-bytes'),
      maxNamesPerStream: nonNegative('max-names-per-stream'),
      maxTypeUrlLength: nonNegative('max-type-url-length'),
      maxStreamsPerConnection: nonNegative('max-streams-per-connection'),
      maxStreamsPerPeer: nonNegative('max-streams-per-peer'),
    },
    caches: {
      subscriptionBytes: nonNegative('subscription-cache-bytes'),
      servedSetBytes: nonNegative('served-set-cache-bytes'),
    },
  };
}
