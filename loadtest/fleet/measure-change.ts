/**
 * One configuration change through the real ingest path, measured: arm the marker in every
 * simulated Envoy, write the YAML, find the commit that completes the change in the snapshot log,
 * and wait until every stream ACKed content carrying the marker.
 */
import type { CommitWatch } from './commit-watch.ts';
import { MemoryPeak, memory, scrape, writeTotals } from './fanout-scrape.ts';
import { loopbackFloorMs } from './loopback-floor.ts';
import { cpuBetween, PhaseMeter, round, sampleProcess } from './proc-stats.ts';
import type { ChangeResult, WireAccounting } from './result.ts';
import { dist, since } from './stats.ts';
import type { Probe } from './version-book.ts';
import type { WorkerPool } from './worker-pool.ts';
import type { Progress } from './worker-protocol.ts';

export interface ChangeSpec {
  description: string;
  markerType: string;
  probe: Probe;
  /** Applies the change (writes the YAML). */
  write(): void;
}

export interface ChangeEnv {
  pool: WorkerPool;
  watch: CommitWatch;
  group: string;
  streams: number;
  fanoutPid: () => number | null;
  /** Admin port of the fan-out under test (its /metrics), or null. */
  fanoutAdminPort: () => number | null;
  /** CPU seconds used so far by all simulator workers. */
  simulatorCpuS: () => number;
  timeoutMs: number;
  waitFleet: (what: string, done: (p: Progress) => boolean, timeoutMs: number) => Promise<Progress>;
}

export async function measureChange(env: ChangeEnv, spec: ChangeSpec): Promise<ChangeResult> {
  const { pool, watch } = env;
  await pool.arm(spec.probe);
  const before = await pool.freshProgress();
  const pid = env.fanoutPid();
  const cpuBefore = pid ? sampleProcess(pid) : null;
  const simBefore = env.simulatorCpuS();
  const meter = new PhaseMeter(pid, env.simulatorCpuS);
  const admin = env.fanoutAdminPort();
  const metricsBefore = admin ? await scrape(admin) : null;
  const writesBefore = writeTotals(metricsBefore);
  const memBefore = memory(metricsBefore);
  const rssBefore = cpuBefore?.rssBytes ?? null;
  let rssPeak = rssBefore ?? 0;
  const rssSampler = pid
    ? setInterval(() => {
        const r = sampleProcess(pid)?.rssBytes ?? 0;
        if (r > rssPeak) rssPeak = r;
      }, 50)
    : undefined;
  const memPeak = admin ? new MemoryPeak(admin) : undefined;
  const afterId = watch.lastId;
  const writtenAt = performance.timeOrigin + performance.now();
  spec.write();
  const commit = await watch.waitFor(env.group, afterId, spec.probe, env.timeoutMs);
  const id = spec.probe.id;
  const settled = await env.waitFleet(
    `every stream to ACK '${spec.description}'`,
    (p) => (p.probeHits[id] ?? 0) >= env.streams,
    env.timeoutMs,
  );
  const cores = meter.finish();
  const cpuAfter = pid ? sampleProcess(pid) : null;
  if (rssSampler) clearInterval(rssSampler);
  const heapPeak = memPeak ? await memPeak.stop() : 0;
  const writesAfter = admin ? writeTotals(await scrape(admin)) : null;
  const simCpuS = round(env.simulatorCpuS() - simBefore, 3);
  const acks = await pool.probe(id);
  const cpu = cpuBetween(cpuBefore, cpuAfter);
  const perStream: Record<string, number> = {};
  let bytes = 0;
  for (const [type, r] of Object.entries(settled.responses)) {
    const b = before.responses[type] ?? { count: 0, bytes: 0 };
    const n = r.count - b.count;
    if (n > 0) perStream[type] = round(n / env.streams, 3);
    bytes += r.bytes - b.bytes;
  }
  const fromCommitMs = dist(since(acks, commit.committedAt));
  const mib = (b: number) => round(b / (1024 * 1024), 1);
  let wire: WireAccounting | null = null;
  if (writesBefore && writesAfter) {
    const written = writesAfter.bytes - writesBefore.bytes;
    const messages = writesAfter.messages - writesBefore.messages;
    // The floor: the same bytes over one plain loopback socket, in writes of the average message.
    const floorMs = await loopbackFloorMs(written, messages > 0 ? Math.round(written / messages) : written);
    wire = {
      messages,
      bytesWritten: written,
      bytesCopied: writesAfter.copied - writesBefore.copied,
      heapPeakMib: memBefore && heapPeak > 0 ? mib(heapPeak - memBefore.heapAndExternalBytes) : null,
      rssPeakMib: rssBefore !== null ? mib(rssPeak - rssBefore) : null,
      loopbackFloorMs: floorMs,
      p99ToFloor: floorMs && fromCommitMs ? round(fromCommitMs.p99 / floorMs, 2) : null,
      maxToFloor: floorMs && fromCommitMs ? round(fromCommitMs.max / floorMs, 2) : null,
    };
  }
  return {
    description: spec.description,
    markerType: spec.markerType,
    committedVersion: commit.version,
    commits: commit.commitsSince,
    changedTypes: commit.changedTypes,
    writeToCommitMs: round(commit.committedAt - writtenAt, 1),
    received: acks.filter((a) => a !== null).length,
    of: env.streams,
    fromCommitMs,
    fromWriteMs: dist(since(acks, writtenAt)),
    responsesPerStream: perStream,
    bytesPerStream: Math.round(bytes / env.streams),
    fanoutCpuS: cpu?.cpuS ?? null,
    fanoutCpuPerStreamMs: cpu ? round((cpu.cpuS * 1000) / env.streams, 4) : null,
    simulatorCpuS: simCpuS,
    cores,
    wire,
  };
}
