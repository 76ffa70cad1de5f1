/**
 * One configuration change through the real ingest path, measured: arm the marker in every
 * simulated Envoy, write the YAML, find the commit that completes the change in the snapshot log,
 * and wait until every stream ACKed content carrying the marker.
 */
import type { CommitWatch } from './commit-watch.ts';
import { cpuBetween, PhaseMeter, round, sampleProcess } from './proc-stats.ts';
import type { ChangeResult } from './result.ts';
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
  return {
    description: spec.description,
    markerType: spec.markerType,
    committedVersion: commit.version,
    commits: commit.commitsSince,
    changedTypes: commit.changedTypes,
    writeToCommitMs: round(commit.committedAt - writtenAt, 1),
    received: acks.filter((a) => a !== null).length,
    of: env.streams,
    fromCommitMs: dist(since(acks, commit.committedAt)),
    fromWriteMs: dist(since(acks, writtenAt)),
    responsesPerStream: perStream,
    bytesPerStream: Math.round(bytes / env.streams),
    fanoutCpuS: cpu?.cpuS ?? null,
    fanoutCpuPerStreamMs: cpu ? round((cpu.cpuS * 1000) / env.streams, 4) : null,
    simulatorCpuS: simCpuS,
    cores,
  };
}
