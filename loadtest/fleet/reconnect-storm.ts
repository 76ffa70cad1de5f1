/**
 * The reconnect storm: kill -9 the fan-out under a settled fleet, commit an endpoint change while
 * it is down, start a replacement fan-out on the same port, and measure until every stream is
 * served again — i.e. has ACKed the configuration committed during the outage. Each client
 * reconnects on its own Envoy-style jittered backoff and presents the versions it holds, so the
 * replacement has to send only what changed. Afterwards every stream's holdings are compared with
 * what it held before the kill: nothing may be older.
 */
import type { CommitWatch } from './commit-watch.ts';
import type { ChangeEnv } from './measure-change.ts';
import type { FleetPipeline } from './pipeline.ts';
import { cpuBetween, PhaseMeter, round, sampleProcess } from './proc-stats.ts';
import type { StormResult } from './result.ts';
import { dist, since } from './stats.ts';
import type { Probe } from './version-book.ts';

export interface StormSpec {
  probe: Probe;
  /** The change committed while the fan-out is down. */
  write(): void;
  /** Further content the outage's commits must carry before the replacement starts. */
  alsoCommitted?: Probe[];
  /** Told the kill time and the replacement's ready time (epoch ms) as they happen. */
  onKilled?(at: number): void;
  onReady?(at: number): void;
}

export async function reconnectStorm(
  env: ChangeEnv & { pipeline: FleetPipeline; watch: CommitWatch },
  spec: StormSpec,
): Promise<StormResult> {
  const { pool, pipeline, watch } = env;
  await pool.mark();
  await pool.arm(spec.probe);
  const before = await pool.freshProgress();
  const t = () => performance.timeOrigin + performance.now();

  const killedAt = t();
  await pipeline.killFanout();
  spec.onKilled?.(killedAt);
  const afterId = watch.lastId;
  const writtenAt = t();
  spec.write();
  const commit = await watch.waitFor(env.group, afterId, spec.probe, env.timeoutMs);
  for (const p of spec.alsoCommitted ?? []) await watch.waitFor(env.group, afterId, p, env.timeoutMs);

  const spawnedAt = t();
  const fanout = await pipeline.startFanout();
  const readyAt = t();
  spec.onReady?.(readyAt);
  const cpuStart = sampleProcess(fanout.pid);
  const simStart = env.simulatorCpuS();
  const meter = new PhaseMeter(fanout.pid, env.simulatorCpuS);
  const id = spec.probe.id;
  // The server's view, alongside the clients': when its stream gauge first shows the whole fleet.
  let gaugeFullAt: number | null = null;
  let polling = true;
  const poll = (async () => {
    while (polling && gaugeFullAt === null) {
      if (((await pipeline.serverStreams()) ?? 0) >= env.streams) gaugeFullAt = t();
      else await new Promise((r) => setTimeout(r, 100));
    }
  })();
  let settled: Awaited<ReturnType<typeof env.waitFleet>>;
  try {
    settled = await env.waitFleet(
      'every stream to reconnect and ACK the configuration committed during the outage',
      (p) => (p.probeHits[id] ?? 0) >= env.streams && p.down === 0,
      env.timeoutMs,
    );
  } finally {
    polling = false;
    await poll;
  }
  const cores = meter.finish();
  const cpuEnd = sampleProcess(fanout.pid);
  const simulatorCpuS = round(env.simulatorCpuS() - simStart, 3);
  const acks = await pool.probe(id);
  const regression = await pool.compare();
  const last = acks.reduce<number | null>((m, a) => (a === null ? m : m === null ? a : Math.max(m, a)), null);
  return {
    description:
      'kill -9 of the fan-out; an EndpointSlice change committed while it is down; replacement fan-out on the same port',
    outageMs: round(readyAt - killedAt, 1),
    restartToReadyMs: round(readyAt - spawnedAt, 1),
    changeDuringOutage: {
      committedVersion: commit.version,
      writeToCommitMs: round(commit.committedAt - writtenAt, 1),
    },
    served: acks.filter((a) => a !== null).length,
    of: env.streams,
    allServedFromKillMs: last === null ? null : round(last - killedAt, 1),
    fromReadyMs: dist(since(acks, readyAt)),
    serverGaugeFullFromReadyMs: gaugeFullAt === null ? null : round(gaugeFullAt - readyAt, 1),
    streamEndings: settled.endings - before.endings,
    regression,
    serverStreamsAfter: await pipeline.serverStreams(),
    fanoutCpuS: cpuBetween(cpuStart, cpuEnd)?.cpuS ?? null,
    fanoutRssAfterMb: cpuEnd ? round(cpuEnd.rssBytes / 2 ** 20, 1) : null,
    simulatorCpuS,
    cores,
  };
}
