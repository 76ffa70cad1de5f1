/**
 * Command lines of the three `attache` tiers as tests and benchmarks run them on loopback: the
 * admin server binds 127.0.0.1 on the given port, and the fan-out serves xDS on 127.0.0.1 only.
 */

const ADMIN_HOST = ['--admin-host', '127.0.0.1'];

/** `attache ingest fs`: watches `dir` and publishes as source cluster `cluster`; `extra` go before the admin host. */
export function ingestFsArgs(o: {
  dir: string;
  cluster: string;
  natsUrl: string;
  adminPort: number;
  extra?: readonly string[];
}): string[] {
  return [
    'ingest',
    'fs',
    '--dir',
    o.dir,
    '--cluster',
    o.cluster,
    '--nats',
    o.natsUrl,
    '--admin-port',
    String(o.adminPort),
    ...(o.extra ?? []),
    ...ADMIN_HOST,
  ];
}

/** `attache compile`: consumes the event log, commits snapshots to Redis. */
export function compileArgs(o: { natsUrl: string; redisUrl: string; adminPort: number }): string[] {
  return [
    'compile',
    '--nats',
    o.natsUrl,
    '--redis',
    o.redisUrl,
    '--admin-port',
    String(o.adminPort),
    ...ADMIN_HOST,
  ];
}

/**
 * `attache fanout`: serves the committed snapshots over ADS on 127.0.0.1:`xdsPort`. `auth` are
 * its client-authentication flags; default `--allow-unauthenticated` (what grpc-js-xds clients
 * need: they cannot send credentials, see the README).
 */
export function fanoutArgs(o: {
  redisUrl: string;
  xdsPort: number;
  adminPort: number;
  auth?: readonly string[];
}): string[] {
  return [
    'fanout',
    '--redis',
    o.redisUrl,
    '--xds-port',
    String(o.xdsPort),
    '--bind',
    '127.0.0.1',
    '--admin-port',
    String(o.adminPort),
    ...(o.auth ?? ['--allow-unauthenticated']),
    ...ADMIN_HOST,
  ];
}
