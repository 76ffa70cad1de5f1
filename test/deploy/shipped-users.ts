/**
 * The users the shipped NATS configuration (k8s/nats.conf) and Redis ACL script
 * (k8s/redis-acl.sh) define, with the environment variable each one's password comes from, so the
 * compose and manifest tests can check every tier logs in as a user that exists.
 */
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';

const read = (file: string) =>
  fs.readFileSync(fileURLToPath(new URL(`../../k8s/${file}`, import.meta.url)), 'utf8');

/** NATS user → password variable. */
export function natsUsers(): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of read('nats.conf').matchAll(/user: ([\w-]+)[,\s]+password: \$(\w+)/g)) out.set(m[1]!, m[2]!);
  return out;
}

/** Redis user → password variable. */
export function redisUsers(): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of read('redis-acl.sh').matchAll(/^user ([\w-]+) on >\$\{(\w+)\}/gm)) out.set(m[1]!, m[2]!);
  return out;
}

/** The NATS user an ingestor for `cluster` logs in as. */
export const ingestorUser = (cluster: string) => `ingest-${cluster}`;

/** The role each Attaché command connects as. */
export function roleOf(command: string, cluster?: string): string {
  if (command.startsWith('ingest')) return ingestorUser(cluster ?? '');
  if (command === 'compile') return 'compiler';
  return command;
}
