/**
 * Real proxyless gRPC clients in the fleet benchmark: K `@grpc/grpc-js-xds` clients (each in its
 * own process, SotW ADS — the only variant the library speaks) dial `xds:///echo.fleet.test` on
 * the fan-out under test and, once routing, send one RPC every {@link RPC_INTERVAL_MS} each, open
 * loop (a slow RPC never delays the next), with a short deadline, through every phase of the run.
 * Every RPC is recorded against the phase it was sent in.
 *
 * Clients are created fresh for each run: grpc-js-xds's ADS backoff never resets
 * (reference/grpc-js-xds.md §1), so a reused client would carry an earlier run's backoff.
 */
import fs from 'node:fs';
import { status as grpcStatus } from '@grpc/grpc-js';
import { type EchoBackend, startEchoBackend } from '../../test/harness/grpc-echo.ts';
import { createXdsEchoClient, EchoError, type XdsEchoClient } from '../../test/harness/xds-client.ts';
import { ECHO_HOST, type EchoPorts } from './fleet-config.ts';
import { firstAfter, type PhaseWindow, phaseStats, type RpcRecord } from './grpc-rpc-stats.ts';
import { round, sampleProcess } from './proc-stats.ts';
import type { GrpcClientsResult, GrpcPhase } from './result.ts';

export const RPC_INTERVAL_MS = 50;
export const RPC_DEADLINE_MS = 1000;
/** Backend `b` answers only once the configuration committed during the storm's outage arrived. */
export const BACKEND_A = 'echo-a';
export const BACKEND_B = 'echo-b';

const now = () => performance.timeOrigin + performance.now();

/** The two echo backends the gRPC clients' route leads to. */
export class EchoBackends {
  private constructor(
    readonly a: EchoBackend,
    readonly b: EchoBackend,
  ) {}

  static async start(): Promise<EchoBackends> {
    const [a, b] = await Promise.all([startEchoBackend(BACKEND_A), startEchoBackend(BACKEND_B)]);
    return new EchoBackends(a, b);
  }

  get ports(): EchoPorts {
    return { a: this.a.port, b: this.b.port };
  }

  async stop(): Promise<void> {
    await Promise.all([this.a.stop(), this.b.stop()]);
  }
}

interface ClientState {
  client: XdsEchoClient;
  startedAt: number;
  records: RpcRecord[];
  /** Until its first success a client has one RPC out at a time, so none queue up while it starts. */
  routed: boolean;
  outstanding: number;
}

export class GrpcClientLoad {
  private readonly states: ClientState[] = [];
  private readonly windows: PhaseWindow[] = [];
  private current: { name: GrpcPhase; startedAt: number; cpuS: number | null };
  private pids: number[] = [];
  private timer?: NodeJS.Timeout;
  private readonly inFlight = new Set<Promise<void>>();
  private seq = 0;
  private stopped = false;
  private stormAt: { killedAt: number; readyAt: number } | null = null;

  private constructor(
    private readonly fanoutPort: number,
    count: number,
  ) {
    this.current = { name: 'connect', startedAt: now(), cpuS: 0 };
    for (let i = 0; i < count; i++) {
      const client = createXdsEchoClient({
        serverPort: fanoutPort,
        nodeId: `fleet-grpc-${process.pid}-${i}`,
        target: `xds:///${ECHO_HOST}`,
      });
      this.states.push({ client, startedAt: now(), records: [], routed: false, outstanding: 0 });
    }
  }

  /** Starts `count` fresh clients against the fan-out on 127.0.0.1:`port` and their RPC loop. */
  static start(port: number, count: number): GrpcClientLoad {
    const load = new GrpcClientLoad(port, count);
    load.timer = setInterval(() => load.tick(), RPC_INTERVAL_MS);
    load.tick();
    return load;
  }

  get target(): string {
    return `xds:///${ECHO_HOST} on 127.0.0.1:${this.fanoutPort}`;
  }

  /** Ends the current phase and starts `name` (RPCs sent from now on count in it). */
  phase(name: GrpcPhase, at = now()): void {
    if (this.stopped) return;
    const cpuS = this.cpuS();
    this.windows.push(this.window(at, cpuS));
    this.current = { name, startedAt: at, cpuS };
  }

  private window(endedAt: number, cpuS: number | null): PhaseWindow {
    const c = this.current;
    return {
      name: c.name,
      startedAt: c.startedAt,
      endedAt,
      clientCpuS: cpuS !== null && c.cpuS !== null ? round(cpuS - c.cpuS, 2) : null,
    };
  }

  /**
   * CPU seconds used so far by the client processes (children of this process running the
   * harness's xds-client.ts), or null once one has gone.
   */
  private cpuS(): number | null {
    if (this.pids.length < this.states.length) this.pids = clientPids();
    if (this.pids.length < this.states.length) return null;
    let sum = 0;
    for (const pid of this.pids) {
      const s = sampleProcess(pid);
      if (!s) return null;
      sum += s.cpuS;
    }
    return sum;
  }

  /** The storm's kill and replacement-ready times, for the recovery measures. */
  stormTimes(killedAt: number, readyAt: number): void {
    this.stormAt = { killedAt, readyAt };
  }

  /** Resolves once every client has an RPC sent at or after `from` that satisfies `done`. */
  async waitAll(
    what: string,
    done: (r: RpcRecord) => boolean,
    from: number,
    timeoutMs: number,
  ): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const missing = this.states.filter((s) => !s.records.some((r) => r.sentAt >= from && done(r)));
      if (missing.length === 0) return;
      if (Date.now() > deadline) {
        throw new Error(
          `${missing.length}/${this.states.length} gRPC client(s) did not ${what} within ${timeoutMs} ms (last failure: ${lastFailure(missing)})`,
        );
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Stops sending, waits for the RPCs in flight (bounded by their deadline) and closes the clients. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.phase(this.current.name);
    this.stopped = true;
    clearInterval(this.timer);
    const bound = new Promise((r) => setTimeout(r, RPC_DEADLINE_MS + 2000));
    await Promise.race([Promise.all(this.inFlight), bound]);
    this.killNow();
  }

  /** Synchronous last resort: kills every client process. */
  killNow(): void {
    clearInterval(this.timer);
    for (const s of this.states) s.client.close();
  }

  result(): GrpcClientsResult {
    // Records are appended as RPCs complete; the stats want send order.
    const clients = this.states.map((s) => [...s.records].sort((a, b) => a.sentAt - b.sentAt));
    const windows = this.stopped ? this.windows : [...this.windows, this.window(now(), this.cpuS())];
    const storm = this.stormAt;
    const fromB = (r: RpcRecord) => r.ok && r.backend === BACKEND_B;
    return {
      clients: this.states.length,
      target: `xds:///${ECHO_HOST}`,
      rpcIntervalMs: RPC_INTERVAL_MS,
      deadlineMs: RPC_DEADLINE_MS,
      firstOkMs: this.states.map((s) => firstAfter(s.records, s.startedAt, s.startedAt, (r) => r.ok)),
      phases: phaseStats(clients, windows),
      storm: storm
        ? {
            recovered: clients.filter((rs) => rs.some(fromB)).length,
            of: clients.length,
            firstOkFromReadyMs: clients.map((rs) =>
              firstAfter(rs, storm.readyAt, storm.readyAt, (r) => r.ok),
            ),
            newEndpointFromReadyMs: clients.map((rs) => firstAfter(rs, storm.killedAt, storm.readyAt, fromB)),
            newEndpointFromKillMs: clients.map((rs) => firstAfter(rs, storm.killedAt, storm.killedAt, fromB)),
          }
        : null,
    };
  }

  private tick(): void {
    if (this.stopped) return;
    for (const s of this.states) {
      if (!s.routed && s.outstanding > 0) continue;
      const phase = this.current.name;
      const sentAt = now();
      s.outstanding++;
      const p = s.client.echo(`rpc ${++this.seq}`, RPC_DEADLINE_MS).then(
        (reply) => {
          s.routed = true;
          s.records.push({ phase, sentAt, doneAt: now(), ok: true, backend: reply.backend });
        },
        (err: unknown) => {
          const code = err instanceof EchoError ? (grpcStatus[err.code] ?? String(err.code)) : 'CLIENT_ERROR';
          const details = err instanceof EchoError ? err.details : String(err);
          s.records.push({ phase, sentAt, doneAt: now(), ok: false, code, details });
        },
      );
      this.inFlight.add(p);
      void p.finally(() => {
        s.outstanding--;
        this.inFlight.delete(p);
      });
    }
  }
}

function clientPids(): number[] {
  const out: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid !== process.pid) continue;
      if (fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes('xds-client.ts'))
        out.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

function lastFailure(states: readonly ClientState[]): string {
  for (const s of states) {
    const f = s.records.findLast((r) => !r.ok);
    if (f) return `${f.code}: ${f.details ?? ''}`;
  }
  return 'none';
}
