/**
 * The NATS and Redis connection flags themselves (names, descriptions, which are secret) and how a
 * secret flag is read. Apart from connection-flags.ts, which turns them into connection options,
 * because the command table (and so `attache --help`) needs only the specs: connection-flags.ts
 * imports the NATS client, whose load alone cost `--help` a third of its start-up time.
 */
import fs from 'node:fs';
import { type FlagSpecs, type FlagValue, flag } from './config.ts';
import { ConfigError, errorMessage } from './errors.ts';

/** Flags for one NATS connection; spread into a command's flag spec next to `--nats`. */
export const NATS_CONNECTION_FLAGS = {
  'nats-user': {
    type: 'string',
    description: 'NATS user name (password from --nats-password-file or ATTACHE_NATS_PASSWORD)',
  },
  'nats-password': {
    type: 'string',
    secret: true,
    description: 'NATS password; environment only (ATTACHE_NATS_PASSWORD), never the command line',
  },
  'nats-password-file': { type: 'string', description: 'file holding the NATS password' },
  'nats-token': {
    type: 'string',
    secret: true,
    description: 'NATS token; environment only (ATTACHE_NATS_TOKEN), never the command line',
  },
  'nats-token-file': { type: 'string', description: 'file holding the NATS token' },
  'nats-creds': { type: 'string', description: 'NATS .creds file (user JWT + NKey seed)' },
  'nats-nkey': { type: 'string', description: 'file holding a NATS NKey seed (SU…)' },
  'nats-ca': {
    type: 'string',
    description: 'PEM CA bundle that signs the NATS server certificate (turns TLS on)',
  },
  'nats-cert': { type: 'string', description: 'PEM client certificate for NATS (mutual TLS)' },
  'nats-key': { type: 'string', description: 'PEM private key for --nats-cert' },
} as const satisfies FlagSpecs;

/** Flags for one Redis connection; spread into a command's flag spec next to `--redis`. */
export const REDIS_CONNECTION_FLAGS = {
  'redis-user': {
    type: 'string',
    description: 'Redis ACL user (password from --redis-password-file or ATTACHE_REDIS_PASSWORD)',
  },
  'redis-password': {
    type: 'string',
    secret: true,
    description: 'Redis password; environment only (ATTACHE_REDIS_PASSWORD), never the command line',
  },
  'redis-password-file': { type: 'string', description: 'file holding the Redis password' },
  'redis-ca': {
    type: 'string',
    description: 'PEM CA bundle that signs the Redis server certificate (turns TLS on)',
  },
  'redis-cert': { type: 'string', description: 'PEM client certificate for Redis (mutual TLS)' },
  'redis-key': { type: 'string', description: 'PEM private key for --redis-cert' },
  'redis-sentinel': {
    type: 'string',
    description:
      'Redis Sentinel addresses host:port,host:port…: the primary is asked of them and followed across failovers (the host in --redis is then ignored; its user, password and db apply)',
  },
  'redis-master-name': {
    type: 'string',
    default: 'attache',
    description: 'the primary name the sentinels monitor (with --redis-sentinel)',
  },
} as const satisfies FlagSpecs;

/** `--X` (environment only) or `--X-file`, not both; trailing newlines of a file are dropped. */
export function secretValue(flags: Record<string, FlagValue>, name: string): string | undefined {
  const direct = flag.str(flags, name);
  const file = flag.str(flags, `${name}-file`);
  if (direct !== undefined && file !== undefined) {
    throw new ConfigError(`give --${name}-file or the environment variable for --${name}, not both`);
  }
  if (file !== undefined)
    return readFlagFile(`${name}-file`, file)
      .toString('utf8')
      .replace(/\r?\n$/, '');
  return direct;
}

/** Reads a file a flag names; a failure is a ConfigError naming the flag. */
export function readFlagFile(flagName: string, file: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    throw new ConfigError(`--${flagName}: cannot read ${file}: ${errorMessage(err)}`);
  }
}
