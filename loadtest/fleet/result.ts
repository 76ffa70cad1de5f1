/**
 * The JSON result of one benchmark run (`loadtest/results/fleet-<mode>-<N>-<timestamp>.json`).
 * Times are milliseconds, memory MiB (per-stream figures KiB), CPU seconds of user + system time.
 * A phase that did not run is null; a phase that ran but failed is listed in `errors`.
 */
import type { CoreShare } from './proc-stats.ts';
import type { Dist } from './stats.ts';
import type { Mode, RegressionReport } from './worker-protocol.ts';

export const RESULT_SCHEMA = 2;

export interface MachineInfo {
  hostname: string;
  platform: string;
  release: string;
  arch: string;
  cpus: number;
  cpuModel: string;
  totalMemMb: number;
  node: string;
  loadAvgStart: number[];
  loadAvgEnd: number[];
}

export interface RunOptions {
  mode: Mode;
  streams: number;
  processes: number;
  streamsPerChannel: number;
  connectRatePerS: number;
  holdS: number;
  services: number;
  routes: number;
  hosts: number;
  vhds: boolean;
  /** Proxyless gRPC clients (real @grpc/grpc-js-xds, SotW) sending RPCs through every phase; 0 = none. */
  grpcClients: number;
  /** Set when the clients dialed an external fan-out instead of one this run started. */
  fanoutUrl?: string;
}

export interface ChangeResult {
  /** What was changed, in words. */
  description: string;
  /** Short name of the type that carries the change marker. */
  markerType: string;
  committedVersion: number;
  /** Commits between the write and the one that completed the change (a multi-object change can take several). */
  commits: number;
  /** Types whose manifest version changed in the completing commit. */
  changedTypes: string[];
  writeToCommitMs: number;
  /** Streams that ACKed the change / streams in the fleet. */
  received: number;
  of: number;
  /** Commit → each stream's ACK of the change. */
  fromCommitMs: Dist | null;
  /** File written → each stream's ACK. */
  fromWriteMs: Dist | null;
  /** Responses each stream received during the change, by type (fleet total / streams). */
  responsesPerStream: Record<string, number>;
  bytesPerStream: number;
  fanoutCpuS: number | null;
  /** Fan-out CPU per stream for this change, ms. */
  fanoutCpuPerStreamMs: number | null;
  /** CPU of the simulator workers over the same interval (to tell who was the bottleneck). */
  simulatorCpuS: number;
  /** Cores used during the change by the machine, the fan-out and the simulator. */
  cores: CoreShare;
  /** What the fan-out wrote for this change and what it cost, from its /metrics; null without them. */
  wire: WireAccounting | null;
}

/** Bytes and memory of one push, and the same bytes over a plain loopback socket in the same run. */
export interface WireAccounting {
  /** Response messages the fan-out wrote during the change (all streams, all types). */
  messages: number;
  bytesWritten: number;
  /** Bytes the fan-out allocated and filled per stream to write them (0 copies of shared bodies: only heads). */
  bytesCopied: number;
  /** Peak of the fan-out's V8 heap + Buffer memory during the change, minus before; MiB. */
  heapPeakMib: number | null;
  /** Peak fan-out RSS during the change, minus before; MiB. */
  rssPeakMib: number | null;
  /** One loopback TCP socket moving `bytesWritten` between two processes, ms. */
  loopbackFloorMs: number | null;
  /** Commit → ACK p99 (and max) over the loopback floor. */
  p99ToFloor: number | null;
  maxToFloor: number | null;
}

export interface StormResult {
  description: string;
  /** kill -9 → replacement fan-out ready. */
  outageMs: number;
  /** Replacement process start → ready (cache loaded from Redis, port bound). */
  restartToReadyMs: number;
  changeDuringOutage: { committedVersion: number; writeToCommitMs: number };
  served: number;
  of: number;
  /** kill -9 → the last stream ACKed the configuration committed during the outage. */
  allServedFromKillMs: number | null;
  /** Replacement ready → each stream's ACK. */
  fromReadyMs: Dist | null;
  /** Replacement ready → its `attache_fanout_streams` gauge first counted the whole fleet (100 ms polls). */
  serverGaugeFullFromReadyMs: number | null;
  /** Stream endings the clients saw (one per stream per failed attempt). */
  streamEndings: number;
  regression: RegressionReport;
  serverStreamsAfter: number | null;
  fanoutCpuS: number | null;
  fanoutRssAfterMb: number | null;
  simulatorCpuS: number;
  /** Cores used from the replacement's readiness until every stream was served. */
  cores: CoreShare;
}

/** The gRPC clients' RPCs sent during one phase, over all clients. */
export interface GrpcPhaseStats {
  wallMs: number;
  /** Clients with at least one successful RPC sent in this phase. */
  clientsRouting: number;
  ok: number;
  failed: number;
  /** Failed RPCs by gRPC status name. */
  failedByCode: Record<string, number>;
  /**
   * Longest run of one client's consecutive failed RPCs (send order): first failure sent → next
   * success sent, or → the last failure's end when none followed. Counted in the phase it started in.
   */
  maxFailureStreakMs: number;
  /** Successful RPCs by the backend that answered. */
  byBackend: Record<string, number>;
  okLatencyMs: Dist | null;
  /** Up to three distinct "CODE: details" of failed RPCs. */
  failureExamples: string[];
  /** CPU seconds of all client processes during the phase (they share the machine with the fan-out). */
  clientCpuS: number | null;
}

/** Phases of the gRPC clients, in order; a phase that did not happen is absent. */
export const GRPC_PHASES = [
  'connect',
  'hold',
  'endpointChange',
  'routeChange',
  'stormOutage',
  'stormReconnect',
  'after',
] as const;
export type GrpcPhase = (typeof GRPC_PHASES)[number];

export interface GrpcClientsResult {
  clients: number;
  /** `xds:///<authority>` the clients dial. */
  target: string;
  /** Each client sends one RPC per interval without waiting for the previous one. */
  rpcIntervalMs: number;
  deadlineMs: number;
  /** Client started → its first successful RPC (null: never). */
  firstOkMs: Array<number | null>;
  phases: Partial<Record<GrpcPhase, GrpcPhaseStats>>;
  /** The reconnect storm as the gRPC clients saw it (null when there was no storm). */
  storm: {
    /**
     * Clients answered by backend b, which only the configuration committed during the outage
     * contains: proof that the client's ADS stream came back and was served by the replacement.
     */
    recovered: number;
    of: number;
    /** Replacement ready → each client's first successful RPC sent after it. */
    firstOkFromReadyMs: Array<number | null>;
    /** Replacement ready → each client's first RPC answered by backend b. */
    newEndpointFromReadyMs: Array<number | null>;
    /** kill -9 → the same. */
    newEndpointFromKillMs: Array<number | null>;
  } | null;
}

export interface FleetResult {
  schema: typeof RESULT_SCHEMA;
  ok: boolean;
  errors: string[];
  startedAt: string;
  finishedAt: string;
  durationS: number;
  options: RunOptions;
  machine: MachineInfo;
  /** Average response size by type during the initial ramp (bytes). */
  responseBytes: Record<string, number>;
  streams: {
    requested: number;
    opened: number;
    configured: number;
    /** Client view after the hold: configured and with a live call. */
    heldAfterHold: number;
    /** The fan-out's own `attache_fanout_streams` gauge after the hold. */
    serverGauge: number | null;
    channels: number;
    processes: number;
  };
  timeToFirstConfigMs: Dist | null;
  /** First stream opened → last stream configured. */
  rampMs: number | null;
  fanout: {
    pid: number | null;
    rssMb: { beforeStreams: number | null; afterConnect: number | null; afterHold: number | null };
    /** (RSS after hold − RSS before streams) / streams. */
    perStreamKb: number | null;
    cpuS: { connect: number | null; hold: number | null };
    /** Ramp CPU per stream, ms. */
    connectCpuPerStreamMs: number | null;
    /** Cores used during the connect phase by the machine, the fan-out and the simulator. */
    connectCores: CoreShare;
    /** CPU share of one core while holding idle streams, percent. */
    holdCpuPercent: number | null;
  };
  changes: { endpoint: ChangeResult | null; route: ChangeResult | null };
  reconnectStorm: StormResult | null;
  /** Real proxyless gRPC clients routing through every phase; null when none ran. */
  grpcClients: GrpcClientsResult | null;
  simulator: {
    pids: number[];
    /** CPU of all workers during the connect phase, and its wall time (cpu/wall > 1 core means saturated). */
    connectCpuS: number | null;
    connectWallS: number | null;
    cpuS: number | null;
    maxRssMb: number | null;
  };
  /** Where the processes' logs were written. */
  logDir: string;
}
