/**
 * The fleet benchmark, phase by phase:
 *   1. pipeline — NATS, Redis, `attache ingest fs`, `attache compile`, first commit; then the
 *      fan-out under test in its own process (skipped with --fanout-url);
 *   2. connect  — N simulated Envoys over few HTTP/2 connections, paced; time to first config;
 *   3. hold     — idle streams for --duration-s: memory per stream, idle CPU, server's stream gauge;
 *   4. endpoint change — one EndpointSlice rewritten (an EDS-only change);
 *   5. route change    — every Mapping rewritten (~100 KB of RDS);
 *   6. reconnect storm — kill -9, change during the outage, replacement fan-out, regression check.
 * With --grpc-clients K, K real grpc-js-xds clients join after the connect phase and send RPCs to
 * two echo backends through every later phase (grpc-clients.ts); after the storm each must be
 * answered by the backend that only the outage's commit added, i.e. be configured again.
 * Every wait is bounded; a failure in a phase is recorded and the later phases are skipped.
 * A server that refuses the protocol (UNIMPLEMENTED) aborts the run with {@link ProtocolRefusedError}.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ENDPOINT_TYPE, ROUTE_TYPE } from '../../shared/xds/type-urls.ts';
import { CommitWatch } from './commit-watch.ts';
import {
  EDS_TARGET_SERVICE,
  echoEndpointProbe,
  echoYaml,
  edsTargetAddress,
  edsTargetYaml,
  routesYaml,
  routeTag,
  writeAtomic,
} from './fleet-config.ts';
import { BACKEND_B, EchoBackends, GrpcClientLoad } from './grpc-clients.ts';
import { type ChangeEnv, measureChange } from './measure-change.ts';
import { FleetPipeline } from './pipeline.ts';
import { cpuBetween, PhaseMeter, type ProcSample, round, sampleProcess } from './proc-stats.ts';
import { reconnectStorm } from './reconnect-storm.ts';
import {
  type FleetResult,
  GRPC_PHASES,
  type GrpcClientsResult,
  type MachineInfo,
  RESULT_SCHEMA,
  type RunOptions,
} from './result.ts';
import { dist } from './stats.ts';
import { StreamFleet } from './stream-fleet.ts';
import { stringFieldProbe, substringProbe } from './version-book.ts';
import { WorkerPool } from './worker-pool.ts';
import type { Mode, Progress } from './worker-protocol.ts';

export interface FleetBenchOptions extends RunOptions {
  /** Pid of an external fan-out (with --fanout-url) whose memory and CPU to read. */
  fanoutPid?: number;
  /** Run the change and storm phases (default true; impossible with --fanout-url). */
  changes: boolean;
  storm: boolean;
  logDir: string;
  /** Progress lines go here. */
  say: (line: string) => void;
}

/** The server answered UNIMPLEMENTED for the ADS method: the mode cannot be measured. */
export class ProtocolRefusedError extends Error {
  override readonly name = 'ProtocolRefusedError';
}

const GROUP = 'default';

/** Everything a run started, so an interrupted run can tear it down. */
export class RunResources {
  pipeline?: FleetPipeline;
  pool?: WorkerPool;
  watch?: CommitWatch;
  echo?: EchoBackends;
  grpc?: GrpcClientLoad;

  async close(): Promise<void> {
    await this.grpc?.stop().catch(() => {});
    await this.echo?.stop().catch(() => {});
    await this.pool?.stop().catch(() => {});
    await this.watch?.close().catch(() => {});
    await this.pipeline?.close().catch(() => {});
  }

  killNow(): void {
    this.grpc?.killNow();
    this.pool?.killAll();
    this.pipeline?.killNow();
  }
}

export async function runFleetBenchmark(o: FleetBenchOptions, res: RunResources): Promise<FleetResult> {
  const started = Date.now();
  const errors: string[] = [];
  const loadAvgStart = os.loadavg();
  fs.mkdirSync(o.logDir, { recursive: true });
  const readyTimeoutMs = 60_000;
  const n = o.streams;

  let host = '127.0.0.1';
  let port = 0;
  if (o.fanoutUrl) {
    [host, port] = parseHostPort(o.fanoutUrl);
  } else {
    if (o.grpcClients > 0) res.echo = await EchoBackends.start();
    o.say(`starting nats-server, redis-server, attache ingest fs + compile (logs in ${o.logDir})`);
    res.pipeline = await FleetPipeline.start({
      shape: {
        services: o.services,
        routes: o.routes,
        hosts: o.hosts,
        ...(res.echo ? { echo: res.echo.ports } : {}),
      },
      logDir: o.logDir,
      readyTimeoutMs,
    });
    res.watch = await CommitWatch.start(res.pipeline.redis.url);
    await res.watch.head(GROUP, readyTimeoutMs);
    o.say('starting the fan-out under test');
    await res.pipeline.startFanout();
    port = res.pipeline.xdsPort;
  }
  const pipeline = res.pipeline;
  const fanoutPid = () => pipeline?.fanout?.pid ?? o.fanoutPid ?? null;
  const sample = (): ProcSample | null => {
    const pid = fanoutPid();
    return pid ? sampleProcess(pid) : null;
  };
  const mb = (s: ProcSample | null) => (s ? round(s.rssBytes / 2 ** 20, 1) : null);

  // One stream served and gone before the baseline: the fan-out's one-time costs (loading the
  // proto root on the first request, first encodes, JIT) are not per-stream costs.
  await warmUp(o.mode, host, port, readyTimeoutMs);
  await sleep(1000);
  const base = sample();

  o.say(`connecting ${n} ${o.mode} streams from ${o.processes} worker process(es)`);
  const pool = await WorkerPool.start({
    mode: o.mode,
    host,
    port,
    streams: n,
    processes: o.processes,
    streamsPerChannel: o.streamsPerChannel,
    connectRatePerS: o.connectRatePerS,
    vhds: o.vhds,
  });
  res.pool = pool;
  const simStart = pool.pids.map((pid) => sampleProcess(pid));
  const simulatorCpuS = () => pool.pids.reduce((sum, pid) => sum + (sampleProcess(pid)?.cpuS ?? 0), 0);
  const connectStartedAt = Date.now();
  const simConnectStart = simulatorCpuS();
  const connectMeter = new PhaseMeter(fanoutPid(), simulatorCpuS);
  const waitFleet = makeWaiter(pool, o.say);

  const connectTimeoutMs = 60_000 + (o.connectRatePerS > 0 ? (2000 * n) / o.connectRatePerS : 0) + 10 * n;
  let connectDone = false;
  try {
    await waitFleet(
      'every stream to receive and ACK its first configuration',
      (p) => p.configured >= n,
      connectTimeoutMs,
    );
    connectDone = true;
  } catch (err) {
    if (err instanceof ProtocolRefusedError) throw err;
    errors.push(`connect: ${String((err as Error).message)}`);
  }
  const afterConnect = sample();
  const connectCores = connectMeter.finish();
  const simConnectCpuS = round(simulatorCpuS() - simConnectStart, 3);
  const connectWallS = round((Date.now() - connectStartedAt) / 1000, 3);
  const ttfc = await pool.ttfc();
  const ttfcMs: number[] = [];
  let firstOpen = Number.POSITIVE_INFINITY;
  let lastConfigured = Number.NEGATIVE_INFINITY;
  ttfc.openedAt.forEach((opened, i) => {
    const conf = ttfc.configuredAt[i];
    if (opened !== null) firstOpen = Math.min(firstOpen, opened);
    if (opened !== null && conf !== null && conf !== undefined) {
      ttfcMs.push(conf - opened);
      lastConfigured = Math.max(lastConfigured, conf);
    }
  });
  const rampProgress = pool.progress();
  const responseBytes: Record<string, number> = {};
  for (const [type, r] of Object.entries(rampProgress.responses))
    responseBytes[type] = r.count ? Math.round(r.bytes / r.count) : 0;

  let grpc: GrpcClientLoad | undefined;
  if (connectDone && res.echo && o.grpcClients > 0) {
    o.say(`starting ${o.grpcClients} grpc-js-xds client(s) on xds:///echo.fleet.test`);
    grpc = GrpcClientLoad.start(port, o.grpcClients);
    res.grpc = grpc;
    try {
      await grpc.waitAll('complete a first RPC', (r) => r.ok, 0, 60_000);
    } catch (err) {
      errors.push(`gRPC clients: ${String((err as Error).message)}`);
    }
    grpc.phase('hold');
  }

  o.say(`holding ${n} streams for ${o.holdS}s`);
  const holdStart = sample();
  await sleep(o.holdS * 1000);
  const afterHold = sample();
  const holdProgress = await pool.freshProgress();
  const serverGauge = pipeline ? await pipeline.serverStreams() : null;
  const holdCpu = cpuBetween(holdStart, afterHold);

  const result: FleetResult = {
    schema: RESULT_SCHEMA,
    ok: false,
    errors,
    startedAt: new Date(started).toISOString(),
    finishedAt: '',
    durationS: 0,
    options: {
      mode: o.mode,
      streams: n,
      processes: o.processes,
      streamsPerChannel: o.streamsPerChannel,
      connectRatePerS: o.connectRatePerS,
      holdS: o.holdS,
      services: o.services,
      routes: o.routes,
      hosts: o.hosts,
      vhds: o.vhds,
      grpcClients: grpc ? o.grpcClients : 0,
      ...(o.fanoutUrl ? { fanoutUrl: o.fanoutUrl } : {}),
    },
    machine: machineInfo(loadAvgStart),
    responseBytes,
    streams: {
      requested: n,
      opened: rampProgress.opened,
      configured: rampProgress.configured,
      heldAfterHold:
        holdProgress.down === 0 ? holdProgress.configured : holdProgress.configured - holdProgress.down,
      serverGauge,
      channels: pool.channels,
      processes: pool.pids.length,
    },
    timeToFirstConfigMs: dist(ttfcMs),
    rampMs: Number.isFinite(lastConfigured) ? round(lastConfigured - firstOpen, 1) : null,
    fanout: {
      pid: fanoutPid(),
      rssMb: { beforeStreams: mb(base), afterConnect: mb(afterConnect), afterHold: mb(afterHold) },
      perStreamKb:
        base && afterHold && n > 0 ? round((afterHold.rssBytes - base.rssBytes) / 1024 / n, 2) : null,
      cpuS: { connect: cpuBetween(base, afterConnect)?.cpuS ?? null, hold: holdCpu?.cpuS ?? null },
      connectCpuPerStreamMs:
        base && afterConnect ? round(((afterConnect.cpuS - base.cpuS) * 1000) / n, 4) : null,
      connectCores,
      holdCpuPercent: holdCpu && holdCpu.wallS > 0 ? round((100 * holdCpu.cpuS) / holdCpu.wallS, 1) : null,
    },
    changes: { endpoint: null, route: null },
    reconnectStorm: null,
    grpcClients: null,
    simulator: {
      pids: pool.pids,
      connectCpuS: simConnectCpuS,
      connectWallS,
      cpuS: null,
      maxRssMb: null,
    },
    logDir: o.logDir,
  };

  if (connectDone && pipeline && res.watch && o.changes) {
    const env: ChangeEnv = {
      pool,
      watch: res.watch,
      group: GROUP,
      streams: n,
      fanoutPid,
      fanoutAdminPort: () => pipeline.fanoutAdminPort || null,
      simulatorCpuS,
      timeoutMs: 120_000 + 20 * n,
      waitFleet,
    };
    const dir = pipeline.configDir;
    const echo = grpc ? res.echo : undefined;
    let stormAt: { killedAt: number; readyAt: number } | null = null;
    try {
      o.say('endpoint change: rewriting one EndpointSlice');
      grpc?.phase('endpointChange');
      result.changes.endpoint = await measureChange(env, {
        description: `EndpointSlice of ${EDS_TARGET_SERVICE}: endpoint address replaced`,
        markerType: 'EDS',
        probe: stringFieldProbe('endpoint-change', ENDPOINT_TYPE, edsTargetAddress(1)),
        write: () => writeAtomic(path.join(dir, 'eds-target.yaml'), edsTargetYaml(1)),
      });
      o.say(`route change: rewriting ${o.routes} Mappings`);
      grpc?.phase('routeChange');
      result.changes.route = await measureChange(env, {
        description: `${o.hosts > 1 ? `the first of ${o.hosts} Hosts' ${Math.ceil(o.routes / o.hosts)}` : `all ${o.routes}`} Mappings rewritten (new prefix in every route${echo ? '; the gRPC route gets a new timeout' : ''})`,
        markerType: 'RDS',
        probe: substringProbe('route-change', ROUTE_TYPE, routeTag(1), routeTag(0)),
        write: () =>
          writeAtomic(path.join(dir, 'routes.yaml'), routesYaml(o.routes, o.services, 1, !!echo, o.hosts)),
      });
      if (o.storm) {
        o.say(
          'reconnect storm: kill -9 of the fan-out, change during the outage, replacement on the same port',
        );
        let killedAt = 0;
        result.reconnectStorm = await reconnectStorm(
          { ...env, pipeline, watch: res.watch },
          {
            probe: stringFieldProbe('storm-change', ENDPOINT_TYPE, edsTargetAddress(2)),
            write: () => {
              // The gRPC clients' Service gains backend b in the same outage.
              if (echo) writeAtomic(path.join(dir, 'echo.yaml'), echoYaml(echo.ports, true));
              writeAtomic(path.join(dir, 'eds-target.yaml'), edsTargetYaml(2));
            },
            ...(echo ? { alsoCommitted: [echoEndpointProbe('storm-echo', echo.ports.b)] } : {}),
            onKilled: (at) => {
              killedAt = at;
              grpc?.phase('stormOutage', at);
            },
            onReady: (at) => {
              stormAt = { killedAt, readyAt: at };
              grpc?.stormTimes(killedAt, at);
              grpc?.phase('stormReconnect', at);
            },
          },
        );
        if (result.reconnectStorm.regression.regressions > 0)
          errors.push(
            `reconnect storm: ${result.reconnectStorm.regression.regressions} version regression(s)`,
          );
      }
    } catch (err) {
      if (err instanceof ProtocolRefusedError) throw err;
      errors.push(`changes: ${String((err as Error).message)}`);
    }
    if (grpc) await afterPhase(grpc, stormAt, Math.max(2, o.holdS), errors, o.say);
  }
  if (grpc) {
    await grpc.stop();
    result.grpcClients = grpc.result();
    errors.push(...grpcPhaseErrors(result.grpcClients));
  }

  const simEnd = pool.pids.map((pid) => sampleProcess(pid));
  let simCpu = 0;
  let simRss = 0;
  simEnd.forEach((s, i) => {
    const c = cpuBetween(simStart[i] ?? null, s);
    if (c) simCpu += c.cpuS;
    if (s) simRss = Math.max(simRss, s.rssBytes);
  });
  result.simulator.cpuS = round(simCpu, 2);
  result.simulator.maxRssMb = round(simRss / 2 ** 20, 1);
  errors.push(...pool.deadWorkers());

  result.ok =
    errors.length === 0 &&
    result.streams.configured === n &&
    (!o.changes ||
      !pipeline ||
      (result.changes.route?.received === n && result.changes.endpoint?.received === n));
  result.finishedAt = new Date().toISOString();
  result.durationS = round((Date.now() - started) / 1000, 1);
  result.machine.loadAvgEnd = os.loadavg().map((v) => round(v, 2));
  return result;
}

/**
 * The gRPC clients' last phase: after a storm, every client must be answered by backend b (the
 * outage's commit) — bounded, since grpc-js-xds's ADS backoff grows — then `holdS` more of RPCs.
 */
async function afterPhase(
  grpc: GrpcClientLoad,
  storm: { killedAt: number; readyAt: number } | null,
  holdS: number,
  errors: string[],
  say: (line: string) => void,
): Promise<void> {
  grpc.phase('after');
  if (storm) {
    say(`waiting for every gRPC client to route to ${BACKEND_B} (configured by the replacement)`);
    try {
      await grpc.waitAll(
        `route again after the storm (an RPC answered by ${BACKEND_B})`,
        (r) => r.ok && r.backend === BACKEND_B,
        storm.killedAt,
        90_000,
      );
    } catch (err) {
      errors.push(`gRPC clients after the storm: ${String((err as Error).message)}`);
    }
  }
  await sleep(holdS * 1000);
}

/** A phase in which some client had no successful RPC at all is a failed phase. */
function grpcPhaseErrors(g: GrpcClientsResult): string[] {
  const out: string[] = [];
  for (const name of GRPC_PHASES) {
    const p = g.phases[name];
    if (name === 'connect' || !p || p.clientsRouting === g.clients) continue;
    out.push(
      `gRPC clients: ${g.clients - p.clientsRouting}/${g.clients} had no successful RPC during ${name} (${p.ok} ok, ${p.failed} failed: ${JSON.stringify(p.failedByCode)})`,
    );
  }
  return out;
}

/** Waits for a fleet condition, failing fast on a protocol refusal and reporting progress every 5 s. */
function makeWaiter(pool: WorkerPool, say: (s: string) => void) {
  return async (what: string, done: (p: Progress) => boolean, timeoutMs: number): Promise<Progress> => {
    const start = Date.now();
    let lastSay = start;
    for (;;) {
      if (pool.fatal) {
        throw new ProtocolRefusedError(
          `the fan-out refused the ADS method (gRPC status ${pool.fatal.code}: ${pool.fatal.message || 'no details'})`,
        );
      }
      const dead = pool.deadWorkers();
      if (dead.length > 0) throw new Error(`simulator failed while waiting for ${what}: ${dead.join('; ')}`);
      const p = pool.progress();
      if (done(p)) return p;
      const now = Date.now();
      if (now - start > timeoutMs) {
        throw new Error(
          `timed out after ${timeoutMs} ms waiting for ${what} (opened ${p.opened}, configured ${p.configured}, down ${p.down}, probe hits ${JSON.stringify(p.probeHits)})`,
        );
      }
      if (now - lastSay >= 5000) {
        lastSay = now;
        say(
          `  … ${Math.round((now - start) / 1000)}s: opened ${p.opened}, configured ${p.configured}, down ${p.down}, hits ${JSON.stringify(p.probeHits)}`,
        );
      }
      await sleep(25);
    }
  };
}

/** Serves one throw-away stream to completion (first configuration ACKed), then closes it. */
async function warmUp(mode: Mode, host: string, port: number, timeoutMs: number): Promise<void> {
  let configured = false;
  let refused: string | undefined;
  const fleet = new StreamFleet(
    { mode, host, port, firstStream: 1_000_000_000, count: 1, streamsPerChannel: 1, connectRatePerS: 0 },
    (code, message) => {
      refused = `gRPC status ${code}: ${message || 'no details'}`;
    },
  );
  fleet.start();
  const deadline = Date.now() + timeoutMs;
  try {
    while (!configured) {
      if (refused) throw new ProtocolRefusedError(`the fan-out refused the ADS method (${refused})`);
      if (Date.now() > deadline) throw new Error(`warm-up stream not configured within ${timeoutMs} ms`);
      await sleep(20);
      configured = fleet.progress().configured === 1;
    }
  } finally {
    fleet.close();
  }
}

function machineInfo(loadAvgStart: number[]): MachineInfo {
  const cpus = os.cpus();
  return {
    hostname: os.hostname(),
    platform: os.platform(),
    release: os.release(),
    arch: os.arch(),
    cpus: cpus.length,
    cpuModel: cpus[0]?.model ?? 'unknown',
    totalMemMb: Math.round(os.totalmem() / 2 ** 20),
    node: process.version,
    loadAvgStart: loadAvgStart.map((v) => round(v, 2)),
    loadAvgEnd: [],
  };
}

function parseHostPort(url: string): [string, number] {
  const m = /^(?:[a-z]+:\/\/)?\[?([^\]/]+?)\]?:(\d+)\/?$/.exec(url);
  if (!m) throw new Error(`--fanout-url ${url}: expected host:port`);
  return [m[1] as string, Number(m[2])];
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
