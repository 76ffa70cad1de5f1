/**
 * The benchmark's tier phase: a real `nats-server -js` and `redis-server` (test harness, free
 * ports), the generated objects published into the event log as an ingestor would, and the
 * compiled `attache compile` as its own process. Latencies run from just before an event is
 * published to the moment the snapshot log in Redis shows a commit whose version (the sequence of
 * the last folded event) covers it. The compiler's debounce window is part of that path; it is
 * reported beside the numbers and subtracted in the `…ExclDebounce` figures.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { parse } from 'yaml';
import { loadDirectory } from '../../services/ingestor/fs/load-directory.ts';
import { ENVELOPE_VERSION, type EventEnvelope, type SourceObject } from '../../shared/events/envelope.ts';
import { JetStreamEventLog } from '../../shared/events/jetstream-event-log.ts';
import { silentLogger } from '../../shared/runtime/logger.ts';
import { RedisSnapshotStore } from '../../shared/snapshot/redis-snapshot-store.ts';
import { freePort } from '../../test/harness/ports.ts';
import { startNats, startRedis } from '../../test/harness/servers.ts';
import { AttacheChild } from '../fleet/attache-child.ts';
import { type Dist, dist } from '../fleet/stats.ts';
import { type CheckpointStartup, measureCheckpointStartup } from './checkpoint-startup.ts';
import { type FileChangeResult, measureFileChanges } from './file-changes.ts';
import { type GcWindow, gcLines, gcWindow } from './gc-trace.ts';
import { type BenchShape, endpointSliceYaml, endpointsOf, mappingYaml } from './generate.ts';

export interface TierOptions {
  /** Single changes measured per kind (Mapping, endpoint). */
  changes: number;
  burst: number;
  debounceMs: number;
  maxDelayMs: number;
  timeoutMs: number;
  logFile: string;
  /** Mappings changed in the YAML file through the real fs ingestor (file-changes.ts; 0: skip). */
  fileChanges: number;
  watchDebounceMs: number;
  /** Grow the log to this many events and measure a restart from a checkpoint (0: skip). */
  checkpointEvents: number;
  /** Restarts from the checkpoint (median reported). */
  checkpointRestarts: number;
}

export interface TierResult {
  events: number;
  /** Compiler process start → /readyz (folds the whole log, compiles, commits). */
  startupMs: number;
  debounceMs: number;
  mappingChangeMs: Dist | null;
  mappingChangeExclDebounceMs: Dist | null;
  endpointChangeMs: Dist | null;
  endpointChangeExclDebounceMs: Dist | null;
  /**
   * Bytes Redis received (its `total_net_input_bytes`) from just before a change is published to
   * the next change: what the compiler wrote for it (blobs, manifest, commit record), plus the
   * benchmark's own few reads.
   */
  mappingChangeRedisBytes: Dist | null;
  endpointChangeRedisBytes: Dist | null;
  /** Every timed change in order (ms from publish to commit, debounce included): where outliers fall. */
  samples: { mappingMs: number[]; endpointMs: number[] };
  /**
   * The compiler's garbage collection over the single-change series (its `--trace-gc` lines), in
   * all and per commit (a Mapping and an endpoint change each commit once): what the p99 meets.
   */
  seriesGc: (GcWindow & { commits: number; perCommit: GcWindow }) | null;
  /**
   * The compiler's own split of each commit in that series (its "snapshot committed" lines, ms):
   * compile (fast path or incremental), building the snapshot, the store call, and how late the
   * debounce timer fired.
   */
  seriesCommitPhases: Record<'compileMs' | 'snapshotMs' | 'storeMs' | 'timerLateMs', Dist | null> | null;
  /**
   * One Mapping change timed right after ready, while the first commit's status writes run (the
   * series above starts once they have settled, statusSettleMs later).
   */
  firstMappingAfterReadyMs: number;
  statusSettleMs: number;
  /** Redis INFO commandstats lines of the commands the commit path uses. */
  redisCommandStats: string[];
  /** Endpoint changes the compiler built by its endpoint fast path (its metric). */
  fastPathCommits: number;
  /** Mapping changes the compiler built by its Mapping fast path (its metric). */
  mappingFastPathCommits: number;
  burst: { changes: number; versionsCommitted: number; lastEventToLastCommitMs: number };
  /** One Mapping changed in the YAML file, through the real fs ingestor. */
  fileChanges: FileChangeResult | { skipped: string };
  compilerPeakRssBytes: number | null;
  /** Restart on a long log, from a checkpoint and from zero (checkpoint-startup.ts). */
  checkpointStartup: CheckpointStartup | { skipped: string };
}

const CLUSTER = 'bench';

function envelope(object: SourceObject, rv: string): EventEnvelope {
  return {
    v: ENVELOPE_VERSION,
    cluster: CLUSTER,
    kind: object.kind,
    namespace: object.metadata.namespace ?? '',
    name: object.metadata.name,
    op: 'upsert',
    resourceVersion: rv,
    generation: 0,
    observedAt: new Date().toISOString(),
    ingestor: 'bench/compile',
    object,
  };
}

/** Follows the snapshot log and resolves waits for a version at or past a sequence. */
class CommitClock {
  private readonly commits: { version: number; at: number }[] = [];
  private readonly abort = new AbortController();
  private waiters: { seq: number; resolve: (at: number) => void }[] = [];
  private loop?: Promise<void>;

  constructor(private readonly store: RedisSnapshotStore) {}

  async start(): Promise<void> {
    const after = await this.store.logPosition();
    this.loop = (async () => {
      for await (const e of this.store.tail({ ...(after ? { after } : {}), signal: this.abort.signal })) {
        const at = performance.now();
        this.commits.push({ version: e.version, at });
        const ready = this.waiters.filter((w) => w.seq <= e.version);
        this.waiters = this.waiters.filter((w) => w.seq > e.version);
        for (const w of ready) w.resolve(at);
      }
    })().catch(() => {});
  }

  /** performance.now() of the first commit covering `seq`. */
  until(seq: number, timeoutMs: number): Promise<number> {
    const done = this.commits.find((c) => c.version >= seq);
    if (done) return Promise.resolve(done.at);
    return new Promise((resolve, reject) => {
      const t = setTimeout(
        () => reject(new Error(`no commit covered seq ${seq} within ${timeoutMs} ms`)),
        timeoutMs,
      );
      this.waiters.push({
        seq,
        resolve: (at) => {
          clearTimeout(t);
          resolve(at);
        },
      });
    });
  }

  countSince(at: number): number {
    return this.commits.filter((c) => c.at >= at).length;
  }

  async close(): Promise<void> {
    this.abort.abort();
    await this.loop;
  }
}

export async function measureTiers(dir: string, shape: BenchShape, opts: TierOptions): Promise<TierResult> {
  const nats = await startNats();
  const redis = await startRedis();
  let compiler: AttacheChild | undefined;
  let result: TierResult;
  /** The single-change series: the first compiler's pid, its spawn and the series' bounds. */
  const series = { pid: 0, spawnedAt: 0, from: 0, to: 0, fromWall: 0, toWall: 0 };
  // Interrupted (Ctrl-C, timeout): take the servers and the compiler down with the benchmark.
  const onSignal = () => {
    compiler?.killNow();
    void Promise.all([nats.stop(), redis.stop()]).finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const events = await JetStreamEventLog.connect({ url: nats.url, log: silentLogger() });
  const store = await RedisSnapshotStore.connect({ url: redis.url, log: silentLogger() });
  const clock = new CommitClock(store);
  const raw = new Redis(redis.url, { lazyConnect: true });
  const netIn = async () =>
    Number(/total_net_input_bytes:(\d+)/.exec(await raw.info('stats'))?.[1] ?? Number.NaN);
  try {
    await raw.connect();
    const { documents } = await loadDirectory(dir);
    for (let i = 0; i < documents.length; i += 256) {
      await Promise.all(
        documents
          .slice(i, i + 256)
          .map((d) =>
            events.publish({ ...envelope(d.object, '1'), origin: { file: d.file, document: d.document } }),
          ),
      );
    }
    progress(`tiers: ${documents.length} objects in the log`);
    await clock.start();
    const adminPort = await freePort();
    const compileArgs = [
      ...['--nats', nats.url, '--redis', redis.url],
      ...['--admin-host', '127.0.0.1', '--debounce-ms', String(opts.debounceMs)],
      ...['--max-delay-ms', String(opts.maxDelayMs)],
    ];
    const t0 = performance.now();
    compiler = new AttacheChild(
      'compiler',
      ['compile', ...compileArgs, '--admin-port', String(adminPort)],
      opts.logFile,
      ['--trace-gc'],
    );
    series.pid = compiler.pid;
    series.spawnedAt = t0;
    await compiler.waitReady(adminPort, opts.timeoutMs);
    const startupMs = performance.now() - t0;
    progress(`tiers: compiler ready in ${Math.round(startupMs)} ms`);

    // A change keeps the object's YAML position, as the directory ingestor's events do.
    const origins = new Map(documents.map((d) => [`${d.object.kind}/${d.object.metadata.name}`, d]));
    const placed = (object: SourceObject, rv: string): EventEnvelope => {
      const at = origins.get(`${object.kind}/${object.metadata.name}`);
      const e = envelope(object, rv);
      if (at) e.origin = { file: at.file, document: at.document };
      return e;
    };
    const timeChange = async (object: SourceObject, rv: string): Promise<number> => {
      const start = performance.now();
      const ack = await events.publish(placed(object, rv));
      return (await clock.until(ack.seq, opts.timeoutMs)) - start;
    };
    const metricsOf = () =>
      fetch(`http://127.0.0.1:${adminPort}/metrics`)
        .then((r) => r.text())
        .catch(() => '');
    const sumOf = (text: string, name: string) =>
      text
        .split('\n')
        .filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `))
        .reduce((n, l) => n + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
    // Ready means committed; the first commit's status writes (one per object) still run after it.
    // One change is timed right then, and the series after those writes have settled (no new
    // write for 500 ms), so the series measures the commit path, not that overlap.
    const firstMappingMs = await timeChange(parse(mappingYaml(3, shape, 99_999)) as SourceObject, 'm0');
    const settleStart = performance.now();
    let writes = -1;
    for (;;) {
      const now = sumOf(await metricsOf(), 'attache_status_writes_total');
      if (now === writes || performance.now() - settleStart > opts.timeoutMs) break;
      writes = now;
      await new Promise((r) => setTimeout(r, 500));
    }
    const statusSettleMs = performance.now() - settleStart;
    progress(
      `tiers: first Mapping change after ready ${Math.round(firstMappingMs)} ms; status writes settled (${writes}) ${Math.round(statusSettleMs)} ms later`,
    );
    const mappingMs: number[] = [];
    const endpointMs: number[] = [];
    const mappingBytes: number[] = [];
    const endpointBytes: number[] = [];
    series.from = performance.now();
    series.fromWall = Date.now();
    for (let k = 1; k <= opts.changes; k++) {
      const i = (k * 7919) % shape.mappings;
      const beforeMapping = await netIn();
      mappingMs.push(await timeChange(parse(mappingYaml(i, shape, k)) as SourceObject, `m${k}`));
      const s = (k * 31) % shape.services;
      const beforeEndpoint = await netIn();
      mappingBytes.push(beforeEndpoint - beforeMapping);
      endpointMs.push(
        await timeChange(
          parse(endpointSliceYaml(s, Math.max(1, endpointsOf(s, shape)), k)) as SourceObject,
          `e${k}`,
        ),
      );
      endpointBytes.push((await netIn()) - beforeEndpoint);
    }
    series.to = performance.now();
    series.toWall = Date.now();

    // How many of those commits the endpoint fast path built (the compiler's own counter).
    const metricsText = await metricsOf();
    const counter = (name: string) => sumOf(metricsText, name);
    // Redis's own time per command (microseconds), over everything so far.
    const redisCommandStats = (await raw.info('commandstats'))
      .split('\n')
      .filter((l) => /^cmdstat_(evalsha|eval|set|get|mget|xadd|xread)\b/.test(l))
      .map((l) => l.trim());
    const fastPathCommits = counter('attache_compiler_endpoint_fast_path_total');
    const mappingFastPathCommits = counter('attache_compiler_mapping_fast_path_total');
    progress(
      `tiers: single changes done; ${fastPathCommits} of ${opts.changes} endpoint changes and ${mappingFastPathCommits} of ${opts.changes} Mapping changes took their fast path`,
    );
    const burstStart = performance.now();
    let lastSeq = 0;
    for (let k = 0; k < opts.burst; k += 64) {
      const acks = await Promise.all(
        Array.from({ length: Math.min(64, opts.burst - k) }, (_, j) => {
          const n = opts.changes + 1 + k + j;
          return events.publish(
            placed(parse(mappingYaml(n % shape.mappings, shape, n)) as SourceObject, `b${n}`),
          );
        }),
      );
      lastSeq = Math.max(lastSeq, ...acks.map((a) => a.seq));
    }
    const lastEventAt = performance.now();
    const lastCommitAt = await clock.until(lastSeq, opts.timeoutMs);
    const burstVersions = clock.countSince(burstStart);
    progress(`tiers: burst done (${burstVersions} versions)`);
    const fileChanges =
      opts.fileChanges > 0
        ? await measureFileChanges({
            dir,
            shape,
            natsUrl: nats.url,
            events,
            cluster: CLUSTER,
            committed: (seq) => clock.until(seq, opts.timeoutMs),
            changes: opts.fileChanges,
            compilerDebounceMs: opts.debounceMs,
            watchDebounceMs: opts.watchDebounceMs,
            timeoutMs: opts.timeoutMs,
            logFile: opts.logFile,
            progress,
          })
        : { skipped: 'disabled with --file-changes 0' };
    const hwm = /^VmHWM:\s+(\d+)\s+kB/m.exec(safeRead(`/proc/${compiler.pid}/status`));
    const minus = (xs: number[]) => xs.map((x) => Math.max(0, x - opts.debounceMs));
    const checkpointStartup =
      opts.checkpointEvents > 0
        ? await measureCheckpointStartup({
            events,
            store,
            compiler,
            compileArgs,
            objects: documents.map((d) => d.object),
            envelope,
            committed: (seq) => clock.until(seq, opts.timeoutMs),
            targetEvents: opts.checkpointEvents,
            restarts: opts.checkpointRestarts,
            timeoutMs: opts.timeoutMs,
            logFile: opts.logFile,
            progress,
            onCompiler: (c) => {
              compiler = c;
            },
          })
        : { skipped: 'disabled with --checkpoint-events 0' };
    result = {
      events: documents.length,
      startupMs,
      debounceMs: opts.debounceMs,
      mappingChangeMs: dist(mappingMs),
      mappingChangeExclDebounceMs: dist(minus(mappingMs)),
      endpointChangeMs: dist(endpointMs),
      endpointChangeExclDebounceMs: dist(minus(endpointMs)),
      mappingChangeRedisBytes: dist(mappingBytes),
      endpointChangeRedisBytes: dist(endpointBytes),
      samples: { mappingMs: mappingMs.map(round1), endpointMs: endpointMs.map(round1) },
      seriesGc: null,
      seriesCommitPhases: null,
      firstMappingAfterReadyMs: round1(firstMappingMs),
      statusSettleMs: Math.round(statusSettleMs),
      redisCommandStats,
      fastPathCommits,
      mappingFastPathCommits,
      burst: {
        changes: opts.burst,
        versionsCommitted: burstVersions,
        lastEventToLastCommitMs: Math.round(lastCommitAt - lastEventAt),
      },
      compilerPeakRssBytes: hwm ? Number(hwm[1]) * 1024 : null,
      fileChanges,
      checkpointStartup,
    };
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await compiler?.stop();
    await clock.close();
    raw.disconnect();
    await store.close();
    await events.close();
    await redis.stop();
    await nats.stop();
  }
  // The first compiler has exited (here or in the checkpoint phase): its log is complete.
  const log = safeRead(opts.logFile);
  const gc = gcWindow(gcLines(log, series.pid), series.from - series.spawnedAt, series.to - series.spawnedAt);
  const commits = 2 * opts.changes;
  const per = (v: number) => Math.round((v / Math.max(1, commits)) * 100) / 100;
  result.seriesGc = {
    ...gc,
    commits,
    perCommit: {
      scavenges: per(gc.scavenges),
      markCompacts: per(gc.markCompacts),
      pauseMs: per(gc.pauseMs),
      markingStepsMs: per(gc.markingStepsMs),
      longestMs: gc.longestMs,
      allocatedMb: per(gc.allocatedMb),
    },
  };
  result.seriesCommitPhases = commitPhases(log, series.pid, series.fromWall, series.toWall);
  return result;
}

/** The compiler's "snapshot committed" lines of `pid` logged within [from, to] (epoch ms). */
function commitPhases(
  log: string,
  pid: number,
  from: number,
  to: number,
): NonNullable<TierResult['seriesCommitPhases']> {
  const cols = { compileMs: [], snapshotMs: [], storeMs: [], timerLateMs: [] } as Record<
    'compileMs' | 'snapshotMs' | 'storeMs' | 'timerLateMs',
    number[]
  >;
  for (const l of log.split('\n')) {
    if (!l.includes('"snapshot committed"')) continue;
    let line: Record<string, unknown>;
    try {
      line = JSON.parse(l) as Record<string, unknown>;
    } catch {
      continue;
    }
    if (line.pid !== pid || typeof line.time !== 'number' || line.time < from || line.time > to) continue;
    for (const k of Object.keys(cols) as (keyof typeof cols)[])
      if (typeof line[k] === 'number') cols[k].push(line[k] as number);
  }
  return {
    compileMs: dist(cols.compileMs),
    snapshotMs: dist(cols.snapshotMs),
    storeMs: dist(cols.storeMs),
    timerLateMs: dist(cols.timerLateMs),
  };
}

function safeRead(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

/** One line on stderr, so a long run shows where it is. */
export function progress(line: string): void {
  process.stderr.write(`[bench:compile ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
}

export function defaultLogFile(): string {
  return path.join(os.tmpdir(), `attache-bench-compile-${process.pid}.log`);
}

function round1(ms: number): number {
  return Math.round(ms * 10) / 10;
}
