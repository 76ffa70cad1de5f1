/**
 * Secret keys for the production tiers tests and benchmarks start. `attache ingest`, `compile` and
 * `fanout` refuse to start without keys (or `--allow-plaintext-secrets`), as an operator's would;
 * every process a test file starts gets the same key, so what one seals the others open.
 */
import { randomBytes } from 'node:crypto';

/** `ATTACHE_SECRET_KEYS` of this test process's children: one fresh AES-256 key. */
export const TEST_SECRET_KEYS = `test:${randomBytes(32).toString('base64')}`;

const SEALING_COMMANDS = new Set(['ingest', 'compile', 'fanout']);

/**
 * `env` with `ATTACHE_SECRET_KEYS` added for a command that needs keys, unless the caller decided
 * (the variable is present in `env` or in this process's environment, even empty) or the arguments
 * give `--secret-keys-file` or `--allow-plaintext-secrets`.
 */
export function withTestSecretKeys(args: readonly string[], env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  if (!SEALING_COMMANDS.has(args[0] ?? '')) return env;
  if ('ATTACHE_SECRET_KEYS' in env || process.env.ATTACHE_SECRET_KEYS !== undefined) return env;
  if (args.some((a) => a === '--secret-keys-file' || a === '--allow-plaintext-secrets')) return env;
  return { ...env, ATTACHE_SECRET_KEYS: TEST_SECRET_KEYS };
}
