/**
 * The system under test, every part real and on loopback: `nats-server -js` and `redis-server`
 * from the test harness, then `attache ingest fs` (watching the benchmark's YAML directory),
 * `attache compile` and `attache fanout` as separate processes, so the fan-out's memory and CPU
 * are its own. The fan-out can be killed with SIGKILL and replaced, for the reconnect storm.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../../test/harness/ports.ts';
import { startNats, startRedis, type TestServer } from '../../test/harness/servers.ts';
import { compileArgs, fanoutArgs, ingestFsArgs } from '../../test/harness/tier-args.ts';
import { AttacheChild } from './attache-child.ts';
import { fleetTokenArgs } from './fleet-auth.ts';
import { type FleetConfigShape, writeInitialConfig } from './fleet-config.ts';

export interface PipelineOptions {
  shape: FleetConfigShape;
  /** Where the processes' logs go (kept after the run). */
  logDir: string;
  readyTimeoutMs: number;
}

export class FleetPipeline {
  readonly configDir: string;
  private fanoutChild?: AttacheChild;
  private fanoutAdmin = 0;
  private fanoutStarts = 0;
  private readonly children: AttacheChild[] = [];

  private constructor(
    private readonly opts: PipelineOptions,
    readonly nats: TestServer,
    readonly redis: TestServer,
    readonly xdsPort: number,
  ) {
    this.configDir = fs.mkdtempSync(path.join(os.tmpdir(), 'attache-fleet-config-'));
  }

  /** Starts NATS, Redis, the ingestor and the compiler, and waits for the first commit. */
  static async start(opts: PipelineOptions): Promise<FleetPipeline> {
    const started = await Promise.allSettled([startNats(), startRedis()]);
    const [n, r] = started;
    if (n.status === 'rejected' || r.status === 'rejected') {
      for (const s of started) if (s.status === 'fulfilled') await s.value.dispose();
      throw n.status === 'rejected' ? n.reason : (r as PromiseRejectedResult).reason;
    }
    const nats = n.value;
    const redis = r.value;
    const p = new FleetPipeline(opts, nats, redis, await freePort());
    try {
      writeInitialConfig(p.configDir, opts.shape);
      const [ingestAdmin, compileAdmin] = await Promise.all([freePort(), freePort()]);
      const ingest = p.spawn(
        'ingest',
        ingestFsArgs({ dir: p.configDir, cluster: 'fleet', natsUrl: nats.url, adminPort: ingestAdmin }),
      );
      const compile = p.spawn(
        'compile',
        compileArgs({ natsUrl: nats.url, redisUrl: redis.url, adminPort: compileAdmin }),
      );
      await Promise.all([
        ingest.waitReady(ingestAdmin, opts.readyTimeoutMs),
        compile.waitReady(compileAdmin, opts.readyTimeoutMs),
      ]);
    } catch (err) {
      await p.close();
      throw err;
    }
    return p;
  }

  get fanout(): AttacheChild | undefined {
    return this.fanoutChild;
  }

  get fanoutAdminPort(): number {
    return this.fanoutAdmin;
  }

  /** Starts a fan-out on the ADS port and waits until it is ready (snapshot loaded, port bound). */
  async startFanout(): Promise<AttacheChild> {
    if (this.fanoutChild && !this.fanoutChild.exited) throw new Error('a fan-out is already running');
    this.fanoutAdmin = await freePort();
    const n = ++this.fanoutStarts;
    const child = this.spawn(
      `fanout-${n}`,
      fanoutArgs({
        redisUrl: this.redis.url,
        xdsPort: this.xdsPort,
        adminPort: this.fanoutAdmin,
        // One loopback address and few connections stand for a whole fleet: no per-client stream limits.
        // The simulated Envoys authenticate with a token; the real grpc-js-xds clients cannot
        // (grpc-js-xds 1.14 opens its xDS stream without credentials, see the README's
        // "Connecting clients"), so anonymous streams are allowed beside them.
        auth: [
          ...fleetTokenArgs(this.configDir),
          '--allow-unauthenticated',
          '--max-streams-per-peer',
          '0',
          '--max-streams-per-connection',
          '0',
        ],
      }),
    );
    this.fanoutChild = child;
    await child.waitReady(this.fanoutAdmin, this.opts.readyTimeoutMs);
    return child;
  }

  /** kill -9 of the running fan-out. */
  async killFanout(): Promise<void> {
    await this.fanoutChild?.stop('SIGKILL');
  }

  /** The running fan-out's `attache_fanout_streams` gauge summed over groups, or null. */
  async serverStreams(): Promise<number | null> {
    try {
      const res = await fetch(`http://127.0.0.1:${this.fanoutAdmin}/metrics`, {
        signal: AbortSignal.timeout(5000),
      });
      const text = await res.text();
      let sum = 0;
      let found = false;
      for (const m of text.matchAll(/^attache_fanout_streams(?:\{[^}]*\})?\s+([0-9.e+-]+)$/gm)) {
        sum += Number(m[1]);
        found = true;
      }
      return found ? sum : null;
    } catch {
      return null;
    }
  }

  /** Stops every process (reverse start order) and removes the config directory. */
  async close(): Promise<void> {
    for (const c of [...this.children].reverse()) await c.stop('SIGTERM', 5_000).catch(() => {});
    await Promise.all([this.nats.dispose(), this.redis.dispose()]).catch(() => {});
    fs.rmSync(this.configDir, { recursive: true, force: true });
  }

  /** Synchronous last resort: SIGKILL to the attache processes (the servers die with the group). */
  killNow(): void {
    for (const c of this.children) c.killNow();
  }

  private spawn(label: string, args: string[]): AttacheChild {
    const child = new AttacheChild(label, args, path.join(this.opts.logDir, `${label}.log`));
    this.children.push(child);
    return child;
  }
}
