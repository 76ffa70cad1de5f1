/**
 * Every `attache` subcommand and its flags, in one table. The CLI parses with it, `--help` prints
 * it, and the docker-compose / Kubernetes manifest tests validate service commands against it.
 */
import type { FlagSpecs } from '../../shared/runtime/config.ts';

export interface CommandSpec {
  /** Words after `attache`, e.g. `['ingest', 'fs']`. */
  path: readonly string[];
  summary: string;
  flags: FlagSpecs;
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
const nats = { type: 'string', description: 'NATS URL with JetStream, e.g. nats://127.0.0.1:4222' } as const;
const redis = { type: 'string', description: 'Redis URL, e.g. redis://127.0.0.1:6379' } as const;
const redisPrefix = { type: 'string', default: 'attache:', description: 'key prefix in Redis' } as const;
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
      nats: { ...nats, description: `${nats.description}; embedded in-memory log when absent` },
      redis: { ...redis, description: `${redis.description}; embedded in-memory store when absent` },
      'redis-prefix': redisPrefix,
      group: groups,
      cluster: {
        type: 'string',
        default: 'local',
        description: 'source name the YAML directories publish as',
      },
      'debounce-ms': { type: 'number', default: 50, description: 'compiler quiet window after a change' },
      'max-delay-ms': {
        type: 'number',
        default: 500,
        description: 'compiler hard maximum delay after a change',
      },
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
      'admin-port': adminPort(8879),
      'admin-host': adminHost,
      'poll-interval-ms': {
        type: 'number',
        default: 1000,
        description: 'full rescan interval (safety net for fs.watch)',
      },
    },
  },
  {
    path: ['compile'],
    summary: 'fold the event log into xDS snapshots committed to Redis',
    flags: {
      nats: { ...nats, required: true },
      redis: { ...redis, required: true },
      'redis-prefix': redisPrefix,
      group: groups,
      'admin-port': adminPort(8878),
      'admin-host': adminHost,
      'debounce-ms': {
        type: 'number',
        default: 50,
        description: 'quiet window after a change before compiling',
      },
      'max-delay-ms': { type: 'number', default: 500, description: 'hard maximum delay after a change' },
      retention: { type: 'number', default: 50, description: 'snapshot versions kept per group in Redis' },
    },
  },
  {
    path: ['fanout'],
    summary: 'serve committed snapshots over ADS (state of the world) to Envoys and proxyless gRPC clients',
    flags: {
      redis: { ...redis, required: true },
      'redis-prefix': redisPrefix,
      'xds-port': { type: 'number', default: 18000, description: 'ADS gRPC port' },
      bind: { type: 'string', default: '0.0.0.0', description: 'address the xDS port binds to' },
      'admin-port': adminPort(8877),
      'admin-host': adminHost,
      'default-group': {
        type: 'string',
        default: 'default',
        description: 'group for nodes whose metadata carries no ambassador_id',
      },
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
        description: 'directory of YAML; repeatable',
      },
      out: { type: 'string', required: true, description: 'output directory' },
      group: { type: 'string', default: 'default', description: 'configuration group (ambassador_id)' },
      cluster: { type: 'string', default: 'local', description: 'source name for the YAML objects' },
    },
  },
  {
    path: ['replay'],
    summary: 'rebuild the snapshot for a log sequence from the event log alone and write it like translate',
    flags: {
      nats: { ...nats, required: true },
      out: { type: 'string', required: true, description: 'output directory' },
      group: { type: 'string', default: 'default', description: 'configuration group (ambassador_id)' },
      'to-seq': { type: 'number', description: 'last event sequence to include (default: the whole log)' },
      redis: {
        ...redis,
        description: 'when given, compare the rebuilt manifest with the one committed for that version',
      },
      'redis-prefix': redisPrefix,
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
    return `  --${name.padEnd(18)} ${f.description}${def}`;
  });
  return `Usage: attache ${spec.path.join(' ')} [flags]\n\n${spec.summary}\n\n${flags.join('\n')}\n`;
}
