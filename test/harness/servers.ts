/**
 * Real `nats-server -js` and `redis-server` processes for tests, each on a free loopback port
 * with its own data directory, so a test can stop (SIGKILL), pause (SIGSTOP) and restart them on
 * the same port. Never touches the machine's default servers on 4222 / 6379.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, waitForPort } from './ports.ts';

export interface TestServer {
  readonly port: number;
  readonly url: string;
  /** Starts (or restarts) the process on the same port and data directory. */
  start(): Promise<void>;
  /** Kills the process (SIGKILL by default) and waits for it to exit. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  pause(): void;
  resume(): void;
  /** Stops the process and deletes its data directory. */
  dispose(): Promise<void>;
}

class ProcessServer implements TestServer {
  private child?: ChildProcess;
  constructor(
    readonly port: number,
    readonly url: string,
    private readonly dir: string,
    private readonly command: string,
    private readonly args: string[],
    private readonly env?: NodeJS.ProcessEnv,
  ) {}

  async start(): Promise<void> {
    if (this.child) return;
    const logFile = fs.openSync(path.join(this.dir, 'server.log'), 'a');
    const child = spawn(this.command, this.args, {
      stdio: ['ignore', logFile, logFile],
      ...(this.env ? { env: { ...process.env, ...this.env } } : {}),
    });
    fs.closeSync(logFile);
    this.child = child;
    child.once('exit', () => {
      if (this.child === child) this.child = undefined;
    });
    try {
      await waitForPort(this.port, 15_000);
    } catch (err) {
      const log = fs.readFileSync(path.join(this.dir, 'server.log'), 'utf8').slice(-2000);
      throw new Error(`${this.command} did not start: ${(err as Error).message}\n${log}`);
    }
  }

  async stop(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.child;
    if (!child) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGCONT');
    child.kill(signal);
    await exited;
    this.child = undefined;
  }

  pause(): void {
    this.child?.kill('SIGSTOP');
  }

  resume(): void {
    this.child?.kill('SIGCONT');
  }

  async dispose(): Promise<void> {
    await this.stop();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `attache-${prefix}-`));
}

/** A server configuration for tests: a config file and the environment its variables come from. */
export interface ServerConfig {
  /** nats-server: `-c <file>`; redis: a start script run with `sh` (k8s/redis-acl.sh). */
  file: string;
  env?: NodeJS.ProcessEnv;
}

/**
 * Starts `nats-server -js` on a free loopback port with its own store directory; with `config`,
 * also `-c <file>` (the command-line address, port and store directory win over the file).
 */
export async function startNats(config?: ServerConfig): Promise<TestServer> {
  const port = await freePort();
  const dir = tempDir('nats');
  const server = new ProcessServer(
    port,
    `nats://127.0.0.1:${port}`,
    dir,
    'nats-server',
    [
      ...(config ? ['-c', config.file] : []),
      '-a',
      '127.0.0.1',
      '-p',
      String(port),
      '-js',
      '-sd',
      path.join(dir, 'js'),
    ],
    config?.env,
  );
  await server.start();
  return server;
}

/** A JetStream cluster of `nats-server` processes on loopback, routed to each other. */
export interface NatsCluster {
  /** The nodes; node i runs with `--server_name n<i>`. */
  readonly nodes: readonly TestServer[];
  /** Every node's client URL, comma-separated (what `--nats` takes). */
  readonly urls: string;
  /** The node whose server name is `name` (e.g. a stream leader's). */
  node(name: string): TestServer | undefined;
  dispose(): Promise<void>;
}

/**
 * Starts `size` `nats-server -js` nodes (server names n0…, cluster `attache-test`), each with its
 * own store directory and every other node as a route. Resolves once every client port listens;
 * JetStream elects its meta leader shortly after, so the first stream request may need a retry.
 */
export async function startNatsCluster(size = 3): Promise<NatsCluster> {
  const ports = await Promise.all(Array.from({ length: size }, () => freePort()));
  const clusterPorts = await Promise.all(Array.from({ length: size }, () => freePort()));
  const routes = clusterPorts.map((p) => `nats-route://127.0.0.1:${p}`).join(',');
  const nodes = ports.map((port, i) => {
    const dir = tempDir(`nats-n${i}`);
    return new ProcessServer(port, `nats://127.0.0.1:${port}`, dir, 'nats-server', [
      '-a',
      '127.0.0.1',
      '-p',
      String(port),
      '-js',
      '-sd',
      path.join(dir, 'js'),
      '--server_name',
      `n${i}`,
      '--cluster_name',
      'attache-test',
      '--cluster',
      `nats://127.0.0.1:${clusterPorts[i]}`,
      '--routes',
      routes,
    ]);
  });
  await Promise.all(nodes.map((n) => n.start()));
  return {
    nodes,
    urls: nodes.map((n) => n.url).join(','),
    node: (name) => {
      const m = /^n(\d+)$/.exec(name);
      return m ? nodes[Number(m[1])] : undefined;
    },
    dispose: async () => {
      await Promise.all(nodes.map((n) => n.dispose()));
    },
  };
}

/**
 * Starts `redis-server` on a free loopback port, without persistence; with `config`, through that
 * start script (which `exec`s redis-server with the same arguments), its ACL file in the data dir.
 * `extraArgs` come last (they win); as a function they get the port, e.g. to serve it with TLS:
 * `(p) => ['--port', '0', '--tls-port', String(p), …]`.
 */
export async function startRedis(
  config?: ServerConfig,
  extraArgs: readonly string[] | ((port: number) => readonly string[]) = [],
): Promise<TestServer> {
  const port = await freePort();
  const extra = typeof extraArgs === 'function' ? extraArgs(port) : extraArgs;
  const dir = tempDir('redis');
  const args = [
    '--bind',
    '127.0.0.1',
    '--port',
    String(port),
    '--save',
    '',
    '--appendonly',
    'no',
    '--dir',
    dir,
    ...extra,
  ];
  const server = config
    ? new ProcessServer(port, `redis://127.0.0.1:${port}`, dir, 'sh', [config.file, ...args], {
        ...config.env,
        ATTACHE_REDIS_ACL_FILE: path.join(dir, 'users.acl'),
      })
    : new ProcessServer(port, `redis://127.0.0.1:${port}`, dir, 'redis-server', args);
  await server.start();
  return server;
}

/** A Redis primary, one replica and one Sentinel (quorum 1) watching them, on loopback. */
export interface RedisSentinelSet {
  readonly primary: TestServer;
  readonly replica: TestServer;
  readonly sentinel: TestServer;
  /** The name the sentinel monitors the primary under. */
  readonly masterName: string;
  /** `127.0.0.1:<sentinel port>`, what `--redis-sentinel` takes. */
  readonly sentinelAddress: string;
  dispose(): Promise<void>;
}

/**
 * Starts a primary, a replica of it and a Sentinel that declares the primary down after
 * `downAfterMs` and then promotes the replica.
 */
export async function startRedisSentinel(downAfterMs = 1000): Promise<RedisSentinelSet> {
  const masterName = 'attache';
  const primary = await startRedis();
  const replica = await startRedis(undefined, ['--replicaof', '127.0.0.1', String(primary.port)]);
  const port = await freePort();
  const dir = tempDir('sentinel');
  const conf = path.join(dir, 'sentinel.conf');
  fs.writeFileSync(
    conf,
    [
      `port ${port}`,
      'bind 127.0.0.1',
      `dir ${dir}`,
      `sentinel monitor ${masterName} 127.0.0.1 ${primary.port} 1`,
      `sentinel down-after-milliseconds ${masterName} ${downAfterMs}`,
      `sentinel failover-timeout ${masterName} 10000`,
      '',
    ].join('\n'),
  );
  const sentinel = new ProcessServer(port, `redis://127.0.0.1:${port}`, dir, 'redis-server', [
    conf,
    '--sentinel',
  ]);
  await sentinel.start();
  return {
    primary,
    replica,
    sentinel,
    masterName,
    sentinelAddress: `127.0.0.1:${port}`,
    dispose: async () => {
      await Promise.all([sentinel.dispose(), primary.dispose(), replica.dispose()]);
    },
  };
}
