/**
 * Credentials and TLS for the NATS and Redis connections, shared by every command that opens
 * one. Secrets come from files (`--nats-password-file`, `--nats-creds`, `--redis-password-file`)
 * or from the environment (`ATTACHE_NATS_PASSWORD`, `ATTACHE_NATS_TOKEN`,
 * `ATTACHE_REDIS_PASSWORD`): those three flags are `secret` in the flag spec, so the command line
 * refuses them (argv is visible to every user of the host through `ps`).
 *
 * Credentials may also be written in the URL (`nats://user:pass@host`, `redis://user:pass@host`);
 * TLS starts when a CA, client certificate or `tls://` / `rediss://` URL is given.
 */
import type { NodeConnectionOptions } from '@nats-io/transport-node';
import { credsAuthenticator, nkeyAuthenticator } from '@nats-io/transport-node';
import { type FlagValue, flag } from './config.ts';
import { readFlagFile, secretValue } from './connection-flag-specs.ts';
import { ConfigError } from './errors.ts';

export { NATS_CONNECTION_FLAGS, REDIS_CONNECTION_FLAGS, secretValue } from './connection-flag-specs.ts';

/**
 * The servers of a `--nats` value: one URL or several separated by commas (every node of a NATS
 * cluster, so a client can start, and reconnect, while any one of them is down).
 */
export function natsServers(url: string | readonly string[]): string[] {
  const list = typeof url === 'string' ? url.split(',') : [...url];
  return list.map((s) => s.trim()).filter((s) => s !== '');
}

/** What a NATS connection adds to `connect()` beyond servers and name. */
export type NatsSecurity = Pick<NodeConnectionOptions, 'user' | 'pass' | 'token' | 'authenticator' | 'tls'>;

/** What a Redis connection adds to the ioredis options. */
export interface RedisSecurity {
  username?: string;
  password?: string;
  tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer };
}

/** Where the Redis primary is found when Redis Sentinel manages it. */
export interface RedisSentinel {
  sentinels: { host: string; port: number }[];
  /** The primary's name in the sentinels' configuration. */
  name: string;
}

/** `--redis-sentinel` and `--redis-master-name`; undefined without sentinels. */
export function redisSentinelFromFlags(flags: Record<string, FlagValue>): RedisSentinel | undefined {
  const list = flag.str(flags, 'redis-sentinel');
  if (list === undefined || list.trim() === '') return undefined;
  const sentinels = list.split(',').map((item) => {
    const m = /^\s*([^:\s]+|\[[^\]]+\]):(\d+)\s*$/.exec(item);
    if (!m) throw new ConfigError(`--redis-sentinel: ${JSON.stringify(item)} is not host:port`);
    return { host: (m[1] as string).replace(/^\[|\]$/g, ''), port: Number(m[2]) };
  });
  return { sentinels, name: flag.str(flags, 'redis-master-name') ?? 'attache' };
}

/** Reads the NATS credential and TLS flags (files are read now: a bad path fails at start). */
export function natsSecurityFromFlags(flags: Record<string, FlagValue>): NatsSecurity {
  const out: NatsSecurity = {};
  const user = flag.str(flags, 'nats-user');
  const pass = secretValue(flags, 'nats-password');
  const token = secretValue(flags, 'nats-token');
  const creds = flag.str(flags, 'nats-creds');
  const nkey = flag.str(flags, 'nats-nkey');
  const methods = [user !== undefined || pass !== undefined, token !== undefined, creds, nkey].filter(
    Boolean,
  );
  if (methods.length > 1) {
    throw new ConfigError('give one NATS authentication: user/password, token, --nats-creds or --nats-nkey');
  }
  if (pass !== undefined && user === undefined) throw new ConfigError('a NATS password needs --nats-user');
  if (user !== undefined) out.user = user;
  if (pass !== undefined) out.pass = pass;
  if (token !== undefined) out.token = token;
  if (creds) {
    const bytes = readFlagFile('nats-creds', creds);
    out.authenticator = credsAuthenticator(new Uint8Array(bytes));
  }
  if (nkey) {
    const seed = readFlagFile('nats-nkey', nkey).toString('utf8').trim();
    out.authenticator = nkeyAuthenticator(new TextEncoder().encode(seed));
  }
  const tls = tlsFiles(flags, 'nats');
  if (tls) {
    out.tls = {
      ...(tls.ca ? { ca: tls.ca.toString('utf8') } : {}),
      ...(tls.cert ? { cert: tls.cert.toString('utf8') } : {}),
      ...(tls.key ? { key: tls.key.toString('utf8') } : {}),
    };
  }
  return out;
}

/** Reads the Redis credential and TLS flags. */
export function redisSecurityFromFlags(flags: Record<string, FlagValue>): RedisSecurity {
  const out: RedisSecurity = {};
  const username = flag.str(flags, 'redis-user');
  const password = secretValue(flags, 'redis-password');
  if (username !== undefined) out.username = username;
  if (password !== undefined) out.password = password;
  const tls = tlsFiles(flags, 'redis');
  if (tls) out.tls = tls;
  return out;
}

function tlsFiles(
  flags: Record<string, FlagValue>,
  prefix: 'nats' | 'redis',
): { ca?: Buffer; cert?: Buffer; key?: Buffer } | undefined {
  const ca = flag.str(flags, `${prefix}-ca`);
  const cert = flag.str(flags, `${prefix}-cert`);
  const key = flag.str(flags, `${prefix}-key`);
  if ((cert === undefined) !== (key === undefined)) {
    throw new ConfigError(`--${prefix}-cert and --${prefix}-key go together`);
  }
  if (ca === undefined && cert === undefined) return undefined;
  return {
    ...(ca ? { ca: readFlagFile(`${prefix}-ca`, ca) } : {}),
    ...(cert ? { cert: readFlagFile(`${prefix}-cert`, cert) } : {}),
    ...(key ? { key: readFlagFile(`${prefix}-key`, key) } : {}),
  };
}
