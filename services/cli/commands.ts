/**
 * Every `attache` subcommand and its flags, in one table. The CLI parses with it, `--help` prints
 * it, and the docker-compose / Kubernetes manifest tests validate service commands against it.
 */
import { ADMIN_CLIENT_FLAGS } from '../../shared/runtime/admin-client.ts';
import { ADMIN_ACCESS_FLAGS } from '../../shared/runtime/admin-server.ts';
import type { FlagSpecs } from '../../shared/runtime/config.ts';
import { NATS_CONNECTION_FLAGS, REDIS_CONNECTION_FLAGS } from '../../shared/runtime/connection-flag-specs.ts';
import { PLAINTEXT_SECRETS_FLAG, SECRET_KEY_FLAGS } from '../../shared/runtime/secret-keys.ts';
import { CHECKPOINT_FLAGS } from '../compiler/checkpoint-flags.ts';
import { DEFAULT_CACHE_BUDGET, DEFAULT_LIMITS } from '../fanout/server/client-limits.ts';
import { KUBERNETES_INGEST_FLAGS } from '../ingestor/kubernetes/flags.ts';

export interface CommandSpec {
  /** Words after `attache`, e.g. `['ingest', 'fs']`. */
  path: readonly string[];
  summary: string;
  flags: FlagSpecs;
  /** Arguments that are not flags, in order (e.g. `diff A B`); none when absent. */
  positionals?: readonly { name: string; description: string }[];
}

const adminPort = (port: number) =>
  ({
    type: 'number',
    default: port,
    description: 'admin HTTP port: /healthz, /readyz, /metrics, /debug/*',
  }) as const;
const adminHost = {
  type: 'string',
  default: '0.0.0.0',
  description: 'address the admin HTTP port binds to',
} as const;
const nats = {
  type: 'string',
  description:
    'NATS URL with JetStream, e.g. nats://127.0.0.1:4222; several comma-separated (every node of a cluster)',
} as const;
const redis = { type: 'string', description: 'Redis URL, e.g. redis://127.0.0.1:6379' } as const;
const redisPrefix = { type: 'string', default: 'attache:', description: 'key prefix in Redis' } as const;
const tokensFile = {
  type: 'string',
  description:
    'file of bearer tokens for xDS clients, one "<group>[,<group>...] <token|sha256:hex>" per line (the table itself may instead be in ATTACHE_XDS_TOKENS)',
} as const;
const xdsTokens = {
  type: 'string',
  secret: true,
  description:
    'the bearer token table itself (entries separated by ; or newlines); environment only (ATTACHE_XDS_TOKENS)',
} as const;
/** Event-stream retention, applied by the process that owns it (the compiler, or `attache dev`). */
const logRetention = {
  'log-max-age-hours': {
    type: 'number',
    description:
      'drop events older than this from the NATS event stream (0 = keep forever); replay and the debugging tools then start at the oldest retained event. Unset: leave the stream as it is',
  },
  'log-max-bytes': {
    type: 'number',
    description: 'cap the NATS event stream at this many bytes, dropping the oldest events (0 = unlimited)',
  },
} as const;
const secretNamespace = {
  type: 'string',
  multiple: true,
  description:
    'GROUP=NAMESPACE: Secrets in NAMESPACE belong to GROUP (else a Secret serves only its own namespace, or the groups its attache.io/groups annotation lists); repeatable',
} as const;

/** How a group's endpoints are prioritised across source clusters (compile, and the rebuilds of the debugging commands). */
const ENDPOINT_POLICY_FLAGS = {
  'local-cluster': {
    type: 'string',
    multiple: true,
    description:
      'source cluster whose endpoints are local (priority 0): NAME for every group or GROUP=NAME; repeatable',
  },
  'remote-endpoints': {
    type: 'string',
    default: 'prefer-local',
    description: "other clusters' endpoints: prefer-local (failover, priority 1), local-only or merge",
  },
} as const;

/** Where the debugging commands read the event log (services/cli/log-source.ts). */
const LOG_SOURCE_FLAGS = {
  nats: { type: 'string', description: 'read the event log from NATS JetStream at this URL' },
  ...NATS_CONNECTION_FLAGS,
  ...SECRET_KEY_FLAGS,
  admin: {
    type: 'string',
    description:
      'read the event log from a running attache dev/compile admin port, e.g. http://127.0.0.1:8877',
  },
  ...ADMIN_CLIENT_FLAGS,
  group: { type: 'string', default: 'default', description: 'configuration group (ambassador_id)' },
  // Rebuilds compile as `attache compile` did: give the same values it runs with.
  ...ENDPOINT_POLICY_FLAGS,
  'secret-namespace': secretNamespace,
} as const;

/** A point of the event log, as the debugging commands take it. */
const POINT = {
  type: 'string',
  description: 'event sequence (42), snapshot version (v42) or time (2026-03-01T14:02:00Z)',
} as const;
/** The request `explain` and `bisect` evaluate. */
const REQUEST_FLAGS = {
  authority: { type: 'string', description: 'request :authority (Host)' },
  path: { type: 'string', description: 'request path, with an optional ?query' },
  method: { type: 'string', default: 'GET', description: 'request method' },
  header: { type: 'string', multiple: true, description: 'request header name=value; repeatable' },
  listener: {
    type: 'string',
    default: 'ambassador-listener-8080',
    description: "listener whose routes are evaluated (an Envoy listener, or a gRPC client's authority)",
  },
} as const;
const groups = {
  type: 'string',
  multiple: true,
  default: 'default',
  description: 'configuration group(s) to compile (Emissary ambassador_id); repeatable',
} as const;

export const COMMANDS: readonly CommandSpec[] = [
  {
    path: ['dev'],
    summary:
      'run ingestor, compiler and fan-out in one process (embedded log and store unless --nats/--redis)',
    flags: {
      config: {
        type: 'string',
        multiple: true,
        required: true,
        description: 'directory of Kubernetes-style YAML to watch; repeatable',
      },
      'xds-port': { type: 'number', default: 18000, description: 'ADS gRPC port' },
      'admin-port': adminPort(8877),
      bind: { type: 'string', default: '127.0.0.1', description: 'address the xDS and admin ports bind to' },
      'tokens-file': tokensFile,
      'xds-tokens': xdsTokens,
      'allow-unauthenticated': {
        type: 'boolean',
        description:
          'serve xDS clients without credentials (default: on when --bind is loopback, off otherwise)',
      },
      nats: { ...nats, description: `${nats.description}; embedded in-memory log when absent` },
      ...NATS_CONNECTION_FLAGS,
      ...SECRET_KEY_FLAGS,
      redis: { ...redis, description: `${redis.description}; embedded in-memory store when absent` },
      ...REDIS_CONNECTION_FLAGS,
      'redis-prefix': redisPrefix,
      group: groups,
      'secret-namespace': secretNamespace,
      cluster: {
        type: 'string',
        default: 'local',
        description: 'source name the YAML directories publish as',
      },
      // With --nats, other clusters' ingestors publish into the same log.
      ...ENDPOINT_POLICY_FLAGS,
      'debounce-ms': { type: 'number', default: 50, description: 'compiler quiet window after a change' },
      'max-delay-ms': {
        type: 'number',
        default: 500,
        description: 'compiler hard maximum delay after a change',
      },
      'sync-max-wait-ms': {
        type: 'number',
        default: 30_000,
        description:
          'longest the compiler holds commits while a source cluster is between a relist and its resync marker (0: never)',
      },
      ...CHECKPOINT_FLAGS,
    },
  },
  {
    path: ['ingest', 'fs'],
    summary: 'watch a directory of YAML and publish every change to the event log',
    flags: {
      dir: {
        type: 'string',
        required: true,
        description: 'directory of Kubernetes-style YAML (nested, multi-document)',
      },
      cluster: { type: 'string', required: true, description: 'source name this directory publishes as' },
      nats: { ...nats, required: true },
      ...NATS_CONNECTION_FLAGS,
      ...SECRET_KEY_FLAGS,
      ...PLAINTEXT_SECRETS_FLAG,
      'admin-port': adminPort(8879),
      'admin-host': adminHost,
      ...ADMIN_ACCESS_FLAGS,
      'poll-interval-ms': {
        type: 'number',
        default: 1000,
        description: 'full rescan interval (safety net for fs.watch); an unchanged file costs one stat',
      },
      'watch-debounce-ms': {
        type: 'number',
        default: 50,
        description: 'quiet time after a file change before the scan it triggers (editors write in bursts)',
      },
      'anti-entropy-interval-ms': {
        type: 'number',
        default: 60_000,
        description:
          'compare what the event log holds for this cluster with the directory and republish what differs (lost or forged events); 0 = off',
      },
    },
  },
  {
    path: ['ingest', 'kubernetes'],
    summary:
      'watch a Kubernetes cluster (informers) and publish every change to the event log; write status back',
    flags: KUBERNETES_INGEST_FLAGS,
  },
  {
    path: ['compile'],
    summary: 'fold the event log into xDS snapshots committed to Redis',
    flags: {
      nats: { ...nats, required: true },
      ...NATS_CONNECTION_FLAGS,
      ...SECRET_KEY_FLAGS,
      ...PLAINTEXT_SECRETS_FLAG,
      redis: { ...redis, required: true },
      ...REDIS_CONNECTION_FLAGS,
      'redis-prefix': redisPrefix,
      group: groups,
      'secret-namespace': secretNamespace,
      'admin-port': adminPort(8878),
      'admin-host': adminHost,
      ...ADMIN_ACCESS_FLAGS,
      'debounce-ms': {
        type: 'number',
        default: 50,
        description: 'quiet window after a change before compiling',
      },
      'max-delay-ms': { type: 'number', default: 500, description: 'hard maximum delay after a change' },
      'sync-max-wait-ms': {
        type: 'number',
        default: 30_000,
        description:
          'longest the compiler holds commits while a source cluster is between a relist and its resync marker (0: never)',
      },
      ...CHECKPOINT_FLAGS,
      retention: { type: 'number', default: 50, description: 'snapshot versions kept per group in Redis' },
      'stream-replicas': {
        type: 'number',
        default: 1,
        description:
          'replicas of the event stream and the status bucket (3 on a NATS cluster); the compiler sets them, other tiers keep them',
      },
      'lease-ttl-ms': {
        type: 'number',
        default: 3000,
        description:
          'leader lease expiry: one replica commits, the others are warm standbys that take over this long after it dies',
      },
      ...logRetention,
      ...ENDPOINT_POLICY_FLAGS,
      'publish-status': {
        type: 'boolean',
        default: true,
        description: 'publish per-object status to the NATS KV bucket ATTACHE_STATUS',
      },
    },
  },
  {
    path: ['fanout'],
    summary:
      'serve committed snapshots over xDS (ADS and per-type, SotW and delta) to Envoys and gRPC clients',
    flags: {
      redis: { ...redis, required: true },
      ...REDIS_CONNECTION_FLAGS,
      ...SECRET_KEY_FLAGS,
      ...PLAINTEXT_SECRETS_FLAG,
      'redis-prefix': redisPrefix,
      'xds-port': { type: 'number', default: 18000, description: 'ADS gRPC port' },
      bind: { type: 'string', default: '0.0.0.0', description: 'address the xDS port binds to' },
      'admin-port': adminPort(8877),
      'admin-host': adminHost,
      ...ADMIN_ACCESS_FLAGS,
      'default-group': {
        type: 'string',
        default: 'default',
        description: 'group for nodes whose metadata carries no ambassador_id',
      },
      nats: {
        ...nats,
        description: 'NATS URL for fleet events (NACKs, status on attache.fleet.<group>.*); none when absent',
      },
      ...NATS_CONNECTION_FLAGS,
      'fanout-id': { type: 'string', description: 'this node in fleet status reports (default: hostname)' },
      'tls-cert': { type: 'string', description: 'PEM certificate chain for TLS on the xDS port' },
      'tls-key': { type: 'string', description: 'PEM private key for --tls-cert' },
      'client-ca': {
        type: 'string',
        description:
          'PEM CA for client certificates (mutual TLS); binds each node to the group its certificate names (URI SAN spiffe://<td>/group/<g> or CN group:<g>)',
      },
      'trust-domain': {
        type: 'string',
        multiple: true,
        description:
          'SPIFFE trust domain whose client certificate IDs name groups (repeatable); when set, other domains and CN group:<g> are refused',
      },
      'tokens-file': tokensFile,
      'xds-tokens': xdsTokens,
      'allow-unauthenticated': {
        type: 'boolean',
        default: false,
        description:
          'INSECURE: serve xDS clients that present no credential, in any group they claim (logs a warning per stream)',
      },
      'max-connection-age': {
        type: 'string',
        default: '30m',
        description: 'end each stream with OK after this age ±10% so fleets rebalance (0 = never)',
      },
      'drain-window': {
        type: 'string',
        default: '10s',
        description:
          'on SIGTERM, GOAWAY each connection and end its streams with UNAVAILABLE, connections spread over this window, before closing',
      },
      'xds-compression': {
        type: 'boolean',
        default: true,
        description:
          'h2 transport: gzip each shared xDS response once for clients that accept gzip (grpc-accept-encoding); --no-xds-compression sends them uncompressed',
      },
      'xds-transport': {
        type: 'string',
        default: 'h2',
        description:
          'gRPC server for xDS: h2 (own node:http2 server writing shared response bytes without per-stream copies) or grpc-js',
      },
      'initial-push-concurrency': {
        type: 'number',
        default: 256,
        description:
          'at most this many streams writing their initial responses at once (reconnect storms); admission also waits while the push wave is full, so it follows drain speed',
      },
      'max-request-bytes': {
        type: 'number',
        default: DEFAULT_LIMITS.maxRequestBytes,
        description:
          'largest xDS request message accepted (RESOURCE_EXHAUSTED beyond; 0 = gRPC default of no limit)',
      },
      'max-names-per-stream': {
        type: 'number',
        default: DEFAULT_LIMITS.maxNamesPerStream,
        description:
          'resource names one stream may subscribe to over all types (stream ended RESOURCE_EXHAUSTED beyond; 0 = no limit)',
      },
      'max-type-url-length': {
        type: 'number',
        default: DEFAULT_LIMITS.maxTypeUrlLength,
        description: 'longest type_url accepted (stream ended INVALID_ARGUMENT beyond; 0 = no limit)',
      },
      'max-streams-per-connection': {
        type: 'number',
        default: DEFAULT_LIMITS.maxStreamsPerConnection,
        description: 'open xDS streams on one client connection (0 = no limit)',
      },
      'max-streams-per-peer': {
        type: 'number',
        default: DEFAULT_LIMITS.maxStreamsPerPeer,
        description:
          'open xDS streams from one client IP address (0 = no limit; raise it when many clients share an address, e.g. behind NAT)',
      },
      'subscription-cache-bytes': {
        type: 'number',
        default: DEFAULT_CACHE_BUDGET.subscriptionBytes,
        description: 'byte budget of the shared (interned) subscription cache',
      },
      'served-set-cache-bytes': {
        type: 'number',
        default: DEFAULT_CACHE_BUDGET.servedSetBytes,
        description: 'byte budget of the shared served-set cache (per type version and subscription)',
      },
    },
  },
  {
    path: ['status'],
    summary:
      'print fleet convergence (per group and type, how many nodes ACKed each version), standing NACKs with their objects, and every object in error',
    flags: {
      nats: { ...nats, description: 'hear every fan-out node through its fleet reports on NATS' },
      admin: {
        type: 'string',
        description: 'read one fan-out (or attache dev) admin port instead, e.g. http://127.0.0.1:8877',
      },
      ...ADMIN_CLIENT_FLAGS,
      ...NATS_CONNECTION_FLAGS,
      group: { type: 'string', description: 'only this group (default: every group)' },
      json: { type: 'boolean', default: false, description: 'print JSON instead of a table' },
      'wait-ms': { type: 'number', default: 3000, description: 'how long to listen for fan-out reports' },
    },
  },
  {
    path: ['translate'],
    summary: 'compile YAML offline and write Envoy v3 resources as protobuf-JSON plus status.json',
    flags: {
      config: {
        type: 'string',
        multiple: true,
        required: true,
        description:
          'directory of YAML (objects of --cluster), or CLUSTER=DIR for objects of source cluster CLUSTER; repeatable',
      },
      out: { type: 'string', required: true, description: 'output directory' },
      group: { type: 'string', default: 'default', description: 'configuration group (ambassador_id)' },
      cluster: {
        type: 'string',
        default: 'local',
        description: 'source name for the YAML objects of a --config DIR',
      },
      // As `attache compile` runs, so the offline output is the one the compiler would commit.
      ...ENDPOINT_POLICY_FLAGS,
      'secret-namespace': secretNamespace,
    },
  },
  {
    path: ['replay'],
    summary:
      'rebuild the snapshot at a point of the log (sequence, version or time) from the log alone and write it like translate',
    flags: {
      ...LOG_SOURCE_FLAGS,
      out: { type: 'string', required: true, description: 'output directory' },
      'to-seq': { type: 'number', description: 'last event sequence to include (default: the whole log)' },
      version: {
        type: 'number',
        description: 'a committed snapshot version (= the last sequence it folded)',
      },
      at: {
        type: 'string',
        description: 'a time (ISO-8601): the state after the last event stored at or before it',
      },
      redis: {
        ...redis,
        description:
          "when given, start from the compiler's nearest checkpoint in that Redis and compare the rebuilt manifest with the one committed for that version",
      },
      'from-zero': {
        type: 'boolean',
        default: false,
        description: "fold the log from its first event, not from the compiler's nearest checkpoint",
      },
      ...REDIS_CONNECTION_FLAGS,
      'redis-prefix': redisPrefix,
    },
  },
  {
    path: ['log'],
    summary: 'print the event log: who changed what, with field-level diffs against the previous state',
    flags: {
      ...LOG_SOURCE_FLAGS,
      cluster: { type: 'string', description: 'only events from this source cluster' },
      kind: { type: 'string', description: 'only this kind (e.g. Mapping)' },
      object: { type: 'string', description: 'only this object: NAMESPACE/NAME or NAME' },
      'from-seq': { type: 'number', description: 'first event sequence' },
      'to-seq': { type: 'number', description: 'last event sequence' },
      since: { type: 'string', description: 'only events stored at or after this time (ISO-8601)' },
      until: { type: 'string', description: 'only events stored at or before this time (ISO-8601)' },
      follow: { type: 'boolean', default: false, description: 'keep printing new events as they arrive' },
      json: { type: 'boolean', default: false, description: 'one JSON object per line' },
    },
  },
  {
    path: ['diff'],
    summary:
      'what changed between two points (resources, field diffs, routing) and the events behind each change',
    positionals: [
      { name: 'A', description: `the earlier point (as --from): ${POINT.description}` },
      { name: 'B', description: `the later point (as --to): ${POINT.description}` },
    ],
    flags: {
      ...LOG_SOURCE_FLAGS,
      from: { ...POINT, description: `${POINT.description}; default: the empty start of the log` },
      to: { ...POINT, description: `${POINT.description}; default: the end of the log` },
      json: { type: 'boolean', default: false, description: 'print JSON' },
    },
  },
  {
    path: ['explain'],
    summary:
      'which route takes a request (and why earlier ones did not), its targets and the objects behind it; or a resource by --name',
    flags: {
      ...LOG_SOURCE_FLAGS,
      ...REQUEST_FLAGS,
      name: {
        type: 'string',
        description: 'explain this route configuration, cluster, listener or secret instead of a request',
      },
      at: { ...POINT, description: `${POINT.description}; default: now` },
      json: { type: 'boolean', default: false, description: 'print JSON' },
    },
  },
  {
    path: ['bisect'],
    summary: 'find the first event after which a request stopped going where it should',
    flags: {
      ...LOG_SOURCE_FLAGS,
      ...REQUEST_FLAGS,
      'expect-cluster': {
        type: 'string',
        description: 'good = this cluster receives the request (default: good = the answer at --good)',
      },
      good: { ...POINT, description: `a point where the answer was right; default: the first event` },
      bad: { ...POINT, description: `a point where it is wrong; default: the end of the log` },
      json: { type: 'boolean', default: false, description: 'print JSON' },
      redis: {
        ...redis,
        description:
          "start each probe's rebuild from the compiler's nearest checkpoint in that Redis (with --admin: those the admin port serves)",
      },
      'from-zero': {
        type: 'boolean',
        default: false,
        description: 'fold the log from its first event at every probe, not from checkpoints',
      },
      ...REDIS_CONNECTION_FLAGS,
      'redis-prefix': redisPrefix,
    },
  },
  {
    path: ['plan'],
    summary:
      'fold proposed YAML (directories, or a manifest on stdin) into the current state and print the diff and routing changes (exit 2 when something changes)',
    flags: {
      ...LOG_SOURCE_FLAGS,
      config: {
        type: 'string',
        multiple: true,
        description:
          'directory of proposed YAML; repeatable; "-" or none: a Kubernetes manifest on stdin (YAML or JSON, List expanded)',
      },
      cluster: {
        type: 'string',
        default: 'local',
        description: 'source cluster the proposed objects belong to',
      },
      prune: {
        type: 'boolean',
        default: false,
        description: "also delete that cluster's objects the proposal does not contain",
      },
      json: { type: 'boolean', default: false, description: 'print JSON' },
    },
  },
];

/** Finds the command whose path prefixes argv; returns it with the remaining arguments. */
export function findCommand(argv: readonly string[]): { spec: CommandSpec; rest: string[] } | undefined {
  const matches = COMMANDS.filter((c) => c.path.every((w, i) => argv[i] === w)).sort(
    (a, b) => b.path.length - a.path.length,
  );
  const spec = matches[0];
  return spec ? { spec, rest: argv.slice(spec.path.length) } : undefined;
}

/** Usage text for `attache --help` or a command's `--help`. */
export function usage(spec?: CommandSpec): string {
  if (!spec) {
    const lines = COMMANDS.map((c) => `  attache ${c.path.join(' ').padEnd(12)} ${c.summary}`);
    return `Usage: attache <command> [flags]\n\nCommands:\n${lines.join('\n')}\n\nRun 'attache <command> --help' for its flags. Every flag can also be set as ATTACHE_<FLAG> in the environment.\n`;
  }
  const flags = Object.entries(spec.flags).map(([name, f]) => {
    const def = f.default !== undefined ? ` (default ${String(f.default)})` : f.required ? ' (required)' : '';
    const flagName = f.type === 'boolean' ? `${name}, --no-${name}` : name;
    return `  --${flagName.padEnd(18)} ${f.description}${def}`;
  });
  const args = (spec.positionals ?? []).map((p) => `  ${p.name.padEnd(20)} ${p.description}`);
  const names = (spec.positionals ?? []).map((p) => ` [${p.name}]`).join('');
  return `Usage: attache ${spec.path.join(' ')}${names} [flags]\n\n${spec.summary}\n\n${args.length > 0 ? `${args.join('\n')}\n\n` : ''}${flags.join('\n')}\n`;
}
