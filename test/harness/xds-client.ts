/**
 * A real proxyless xDS client for end-to-end tests: an `attache.echo.v1.Echo` client on an
 * `xds:///<authority>` target, driven by `@grpc/grpc-js-xds` against our ADS server.
 *
 * Each client runs in its own child process (this same file, started with a marker variable)
 * with its own per-channel bootstrap, hence its own XdsClient, ADS stream and node id. Why a
 * process: grpc-js-xds never closes an XdsClient's ADS channel, and a closed channel's priority
 * balancer keeps a 10 s failover timer that later rebuilds a zombie subchannel which reconnects
 * forever, so an in-process client can keep a test process alive indefinitely. A process also
 * contains the library's crash on `non_forwarding_action` routes and its process-global state
 * (circuit-breaker counters, CSDS client list). `close()` kills the process.
 *
 * Use a fresh client per reconnect scenario: the library's ADS backoff never resets.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { EchoReply } from './grpc-echo.ts';

const BOOTSTRAP_OPTION = 'grpc.TEST_ONLY_DO_NOT_USE_IN_PROD.xds_bootstrap_config';
const WORKER_MARKER = 'ATTACHE_XDS_CLIENT_WORKER';
const SELF = fileURLToPath(import.meta.url);
/** tsx resolved from this file, so the worker starts whatever the parent's working directory. */
const TSX = import.meta.resolve('tsx');

/** Key under which {@link XdsEchoClient.countBackends} counts failed RPCs. */
export const FAILED = '<failed>';

export interface XdsEchoClientOptions {
  /** Port of the ADS server on 127.0.0.1. */
  serverPort: number;
  nodeId: string;
  /** `xds:///<authority>`: the listener name the client asks for is `<authority>`. */
  target: string;
  /** Node metadata (plain JSON; e.g. `{ ambassador_id: 'blue' }` picks the group). */
  metadata?: Record<string, unknown>;
  /** Bootstrap `server_features`; `ignore_resource_deletion` is deliberately off by default. */
  serverFeatures?: string[];
}

/** A failed RPC: the gRPC status code and details the client saw. */
export class EchoError extends Error {
  constructor(
    readonly code: number,
    readonly details: string,
  ) {
    super(`RPC failed: ${code} ${details}`);
    this.name = 'EchoError';
  }
}

export interface XdsEchoClient {
  /** One RPC; rejects with {@link EchoError} when it fails. */
  echo(message: string, deadlineMs?: number, metadata?: Record<string, string>): Promise<EchoReply>;
  /** Sends `n` RPCs one after another; counts replies per backend and failures under {@link FAILED}. */
  countBackends(
    n: number,
    deadlineMs?: number,
    metadata?: Record<string, string>,
  ): Promise<Map<string, number>>;
  /** Kills the client process. Idempotent. */
  close(): void;
}

/** The bootstrap JSON a test client uses. `node.locality` must be present (it may be empty). */
export function xdsBootstrap(o: XdsEchoClientOptions): string {
  return JSON.stringify({
    xds_servers: [
      {
        server_uri: `127.0.0.1:${o.serverPort}`,
        channel_creds: [{ type: 'insecure' }],
        server_features: o.serverFeatures ?? [],
      },
    ],
    node: { id: o.nodeId, cluster: 'attache-tests', locality: {}, metadata: o.metadata ?? {} },
  });
}

type WorkerRequest =
  | { id: number; op: 'echo'; message: string; deadlineMs: number; metadata?: Record<string, string> }
  | { id: number; op: 'count'; n: number; deadlineMs: number; metadata?: Record<string, string> };

type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;

/** The worker's first message: it is listening. */
type WorkerReady = { ready: true };

/** A reply, carrying its request's id. */
type WorkerReply =
  | { id: number; ok: true; reply?: EchoReply; counts?: Array<[string, number]> }
  | { id: number; ok: false; code: number; details: string };

export function createXdsEchoClient(o: XdsEchoClientOptions): XdsEchoClient {
  const child: ChildProcess = spawn(process.execPath, ['--import', TSX, SELF], {
    env: {
      ...process.env,
      [WORKER_MARKER]: '1',
      ATTACHE_XDS_BOOTSTRAP: xdsBootstrap(o),
      ATTACHE_XDS_TARGET: o.target,
    },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const pending = new Map<number, (r: WorkerReply) => void>();
  let nextId = 0;
  let exited = false;
  let ready = false;
  const unsent: WorkerRequest[] = [];
  // The child holds the parent's event loop only while a request is outstanding, so a test that
  // forgets close() still lets its process exit.
  const hold = (on: boolean) => {
    if (on) {
      child.ref();
      child.channel?.ref();
    } else {
      child.unref();
      child.channel?.unref();
    }
  };
  hold(false);
  child.on('message', (m: WorkerReply | WorkerReady) => {
    if ('ready' in m) {
      ready = true;
      for (const req of unsent.splice(0)) child.send(req);
      return;
    }
    const done = pending.get(m.id);
    pending.delete(m.id);
    if (pending.size === 0) hold(false);
    done?.(m);
  });
  child.on('exit', (code, signal) => {
    exited = true;
    for (const [id, done] of pending)
      done({ id, ok: false, code: 14, details: `client process exited (${signal ?? code})` });
    pending.clear();
  });
  const request = (req: WithoutId<WorkerRequest>): Promise<WorkerReply> =>
    new Promise((resolve) => {
      const id = ++nextId;
      if (exited) {
        resolve({ id, ok: false, code: 14, details: 'client process is not running' });
        return;
      }
      pending.set(id, resolve);
      hold(true);
      const full = { ...req, id } as WorkerRequest;
      if (ready) child.send(full);
      else unsent.push(full);
    });
  return {
    async echo(message, deadlineMs = 5000, metadata) {
      const r = await request({ op: 'echo', message, deadlineMs, ...(metadata ? { metadata } : {}) });
      if (!r.ok) throw new EchoError(r.code, r.details);
      return r.reply as EchoReply;
    },
    async countBackends(n, deadlineMs = 2000, metadata) {
      const r = await request({ op: 'count', n, deadlineMs, ...(metadata ? { metadata } : {}) });
      if (!r.ok) throw new EchoError(r.code, r.details);
      return new Map(r.counts);
    },
    close() {
      if (!exited) child.kill('SIGKILL');
    },
  };
}

/** The child side: one xDS channel, answering the parent's requests over IPC. */
async function runWorker(): Promise<void> {
  const grpc = await import('@grpc/grpc-js');
  const { register } = await import('@grpc/grpc-js-xds');
  const { echoServiceClient } = await import('./grpc-echo.ts');
  register();
  type UnaryEcho = (
    req: { message: string },
    metadata: InstanceType<typeof grpc.Metadata>,
    options: { deadline: number },
    cb: (err: { code: number; details: string } | null, reply: EchoReply) => void,
  ) => void;
  const Echo = echoServiceClient();
  const client = new Echo(process.env.ATTACHE_XDS_TARGET ?? '', grpc.credentials.createInsecure(), {
    [BOOTSTRAP_OPTION]: process.env.ATTACHE_XDS_BOOTSTRAP ?? '',
  }) as unknown as { Echo: UnaryEcho };
  const toMetadata = (entries: Record<string, string>) => {
    const md = new grpc.Metadata();
    for (const [k, v] of Object.entries(entries)) md.set(k, v);
    return md;
  };
  const echo = (message: string, deadlineMs: number, metadata: Record<string, string> = {}) =>
    new Promise<EchoReply>((resolve, reject) =>
      client.Echo({ message }, toMetadata(metadata), { deadline: Date.now() + deadlineMs }, (err, reply) =>
        err ? reject(err) : resolve(reply),
      ),
    );
  process.on('disconnect', () => process.exit(0));
  process.on('message', async (req: WorkerRequest) => {
    const send = (r: WorkerReply) => process.send?.(r);
    if (req.op === 'echo') {
      try {
        send({ id: req.id, ok: true, reply: await echo(req.message, req.deadlineMs, req.metadata) });
      } catch (err) {
        const e = err as { code?: number; details?: string; message?: string };
        send({ id: req.id, ok: false, code: e.code ?? 2, details: e.details ?? e.message ?? String(err) });
      }
      return;
    }
    const counts = new Map<string, number>();
    for (let i = 0; i < req.n; i++) {
      const key = await echo(`rpc ${i}`, req.deadlineMs, req.metadata).then(
        (r) => r.backend,
        () => FAILED,
      );
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    send({ id: req.id, ok: true, counts: [...counts] });
  });
  process.send?.({ ready: true } satisfies WorkerReady);
}

if (
  process.env[WORKER_MARKER] === '1' &&
  process.send &&
  import.meta.url === pathToFileURL(process.argv[1] ?? '').href
) {
  await runWorker();
}
