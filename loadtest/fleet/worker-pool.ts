/**
 * The driver's side of the simulator: forks the workers, splits the fleet between them, sends
 * requests with a timeout, and sums their progress. A `fatal` from any worker (the server refused
 * the protocol) is kept for the driver to report; it never turns into numbers.
 */
import { type ChildProcess, fork } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpuProfileArgs } from './attache-child.ts';
import type { Probe } from './version-book.ts';
import type {
  Mode,
  ProbeReport,
  Progress,
  RegressionReport,
  RequestEnvelope,
  TtfcReport,
  WorkerMessage,
  WorkerRequest,
} from './worker-protocol.ts';

const WORKER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'worker.ts');
const REQUEST_TIMEOUT_MS = 60_000;

export interface PoolOptions {
  mode: Mode;
  host: string;
  port: number;
  streams: number;
  processes: number;
  streamsPerChannel: number;
  /** Total streams opened per second across the pool; 0 = all at once. */
  connectRatePerS: number;
  vhds?: boolean;
}

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

class WorkerHandle {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  progress?: Progress;
  exitCode: number | null | undefined;

  constructor(
    readonly child: ChildProcess,
    readonly count: number,
    onFatal: (code: number, message: string) => void,
  ) {
    child.on('message', (m: WorkerMessage) => {
      if (m.t === 'progress') this.progress = m.p;
      else if (m.t === 'fatal') onFatal(m.code, m.message);
      else if (m.t === 'res') {
        const p = this.pending.get(m.id);
        if (!p) return;
        this.pending.delete(m.id);
        clearTimeout(p.timer);
        if (m.ok) p.resolve(m.value);
        else p.reject(new Error(m.error));
      }
    });
    child.on('exit', (code) => {
      this.exitCode = code;
      for (const p of this.pending.values()) {
        clearTimeout(p.timer);
        p.reject(new Error(`simulator worker ${child.pid} exited (${code})`));
      }
      this.pending.clear();
    });
  }

  request<T>(req: WorkerRequest, timeoutMs = REQUEST_TIMEOUT_MS): Promise<T> {
    if (this.exitCode !== undefined)
      return Promise.reject(new Error(`simulator worker ${this.child.pid} has exited`));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`simulator worker ${this.child.pid}: '${req.op}' got no answer in ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      this.child.send({ t: 'req', id, req } satisfies RequestEnvelope);
    });
  }
}

export class WorkerPool {
  private readonly workers: WorkerHandle[] = [];
  /** Set when a worker reported that the server refused the protocol. */
  fatal?: { code: number; message: string };

  private constructor(private readonly opts: PoolOptions) {}

  /** Forks the workers and starts their ramps. */
  static async start(opts: PoolOptions): Promise<WorkerPool> {
    const pool = new WorkerPool(opts);
    const n = Math.max(1, Math.min(opts.processes, opts.streams));
    let first = 0;
    for (let w = 0; w < n; w++) {
      const count = Math.floor(opts.streams / n) + (w < opts.streams % n ? 1 : 0);
      const child = fork(WORKER, [], {
        execArgv: ['--import', 'tsx', '--max-old-space-size=4096', ...cpuProfileArgs()],
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        serialization: 'advanced',
      });
      pool.workers.push(
        new WorkerHandle(child, count, (code, message) => {
          pool.fatal ??= { code, message };
        }),
      );
      const handle = pool.workers[w] as WorkerHandle;
      await handle.request({
        op: 'start',
        arg: {
          mode: opts.mode,
          host: opts.host,
          port: opts.port,
          firstStream: first,
          count,
          streamsPerChannel: opts.streamsPerChannel,
          connectRatePerS: opts.connectRatePerS > 0 ? opts.connectRatePerS / n : 0,
          vhds: opts.vhds ?? false,
        },
      });
      first += count;
    }
    return pool;
  }

  get pids(): number[] {
    return this.workers.map((w) => w.child.pid ?? 0).filter((p) => p > 0);
  }

  get channels(): number {
    return this.workers.reduce((n, w) => n + Math.ceil(w.count / this.opts.streamsPerChannel), 0);
  }

  /** The sum of the workers' latest progress reports. */
  progress(): Progress {
    const sum: Progress = {
      opened: 0,
      configured: 0,
      down: 0,
      endings: 0,
      probeHits: {},
      responses: {},
      versionsSeen: 0,
    };
    for (const w of this.workers) {
      const p = w.progress;
      if (!p) continue;
      sum.opened += p.opened;
      sum.configured += p.configured;
      sum.down += p.down;
      sum.endings += p.endings;
      sum.versionsSeen = Math.max(sum.versionsSeen, p.versionsSeen);
      for (const [k, v] of Object.entries(p.probeHits)) sum.probeHits[k] = (sum.probeHits[k] ?? 0) + v;
      for (const [k, v] of Object.entries(p.responses)) {
        const r = sum.responses[k] ?? { count: 0, bytes: 0 };
        r.count += v.count;
        r.bytes += v.bytes;
        sum.responses[k] = r;
      }
    }
    return sum;
  }

  /** Resolves once every worker has sent a progress report newer than this call. */
  async freshProgress(timeoutMs = 5_000): Promise<Progress> {
    for (const w of this.workers) w.progress = undefined;
    const deadline = Date.now() + timeoutMs;
    while (this.workers.some((w) => w.progress === undefined && w.exitCode === undefined)) {
      if (Date.now() > deadline) throw new Error('simulator workers stopped reporting progress');
      await sleep(20);
    }
    return this.progress();
  }

  /** Exits of workers that died on their own (not asked to stop). */
  deadWorkers(): string[] {
    return this.workers
      .filter((w) => w.exitCode !== undefined)
      .map((w) => `worker ${w.child.pid} exited with ${String(w.exitCode)}`);
  }

  async arm(p: Probe): Promise<void> {
    await Promise.all(this.workers.map((w) => w.request({ op: 'arm', arg: p })));
  }

  async probe(id: string): Promise<Array<number | null>> {
    const parts = await Promise.all(
      this.workers.map((w) => w.request<ProbeReport>({ op: 'probe', arg: { id } })),
    );
    return parts.flatMap((p) => p.acks);
  }

  async ttfc(): Promise<TtfcReport> {
    const parts = await Promise.all(this.workers.map((w) => w.request<TtfcReport>({ op: 'ttfc' })));
    return {
      openedAt: parts.flatMap((p) => p.openedAt),
      configuredAt: parts.flatMap((p) => p.configuredAt),
    };
  }

  async mark(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.request({ op: 'mark' })));
  }

  async compare(): Promise<RegressionReport> {
    const parts = await Promise.all(this.workers.map((w) => w.request<RegressionReport>({ op: 'compare' })));
    return {
      streams: parts.reduce((n, p) => n + p.streams, 0),
      compared: parts.reduce((n, p) => n + p.compared, 0),
      regressions: parts.reduce((n, p) => n + p.regressions, 0),
      examples: parts.flatMap((p) => p.examples).slice(0, 5),
    };
  }

  /** Asks every worker to close its streams and exit; kills those that do not within the bound. */
  async stop(timeoutMs = 5_000): Promise<void> {
    await Promise.all(
      this.workers.map(async (w) => {
        if (w.exitCode !== undefined) return;
        const exited = new Promise<void>((r) => w.child.once('exit', () => r()));
        await w.request({ op: 'stop' }, timeoutMs).catch(() => {});
        const t = setTimeout(() => w.child.kill('SIGKILL'), timeoutMs);
        await exited;
        clearTimeout(t);
      }),
    );
  }

  /** Synchronous last resort for exit handlers. */
  killAll(): void {
    for (const w of this.workers) if (w.exitCode === undefined) w.child.kill('SIGKILL');
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
