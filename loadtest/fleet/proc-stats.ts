/**
 * Resource use of a process from /proc (Linux): resident memory and CPU time (user + system).
 * Readings of a process that has exited are null, never zero.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';

export interface ProcSample {
  /** Wall-clock ms when read. */
  at: number;
  rssBytes: number;
  /** utime + stime, seconds. */
  cpuS: number;
}

let ticksPerSecond: number | undefined;

function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

export function sampleProcess(pid: number): ProcSample | null {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const rss = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces) start at field 3.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(rest[11]);
    const stime = Number(rest[12]);
    return {
      at: Date.now(),
      rssBytes: rss ? Number(rss[1]) * 1024 : 0,
      cpuS: (utime + stime) / clockTicks(),
    };
  } catch {
    return null;
  }
}

/** CPU seconds and wall seconds between two samples of the same process. */
export function cpuBetween(
  a: ProcSample | null,
  b: ProcSample | null,
): { cpuS: number; wallS: number } | null {
  if (!a || !b) return null;
  return { cpuS: round(b.cpuS - a.cpuS, 3), wallS: round((b.at - a.at) / 1000, 3) };
}

export function round(v: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

export interface MachineSample {
  at: number;
  /** CPU seconds spent not idle, summed over all cores. */
  busyS: number;
}

/** Machine-wide busy CPU time from /proc/stat (everything but idle and iowait). */
export function sampleMachine(): MachineSample | null {
  try {
    const line = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
    const v = line.trim().split(/\s+/).slice(1).map(Number);
    const total = v.reduce((a, b) => a + b, 0);
    const idle = (v[3] ?? 0) + (v[4] ?? 0);
    return { at: Date.now(), busyS: (total - idle) / clockTicks() };
  } catch {
    return null;
  }
}

/**
 * Who used the machine during a phase, in cores (CPU seconds / wall seconds): everything, the
 * fan-out, the simulator. On a shared box the rest is other people's work: when the machine is
 * saturated and ours is well below it, the phase was limited by contention, not by the fan-out.
 */
export interface CoreShare {
  wallS: number;
  machineBusyCores: number;
  fanoutCores: number | null;
  simulatorCores: number;
}

export class PhaseMeter {
  private readonly machine = sampleMachine();
  private readonly fanout: ProcSample | null;
  private readonly sim: number;
  private readonly start = Date.now();

  constructor(
    private readonly fanoutPid: number | null,
    private readonly simulatorCpuS: () => number,
  ) {
    this.fanout = fanoutPid ? sampleProcess(fanoutPid) : null;
    this.sim = simulatorCpuS();
  }

  finish(): CoreShare {
    const wallS = Math.max(0.001, (Date.now() - this.start) / 1000);
    const m = sampleMachine();
    const f = this.fanoutPid ? sampleProcess(this.fanoutPid) : null;
    return {
      wallS: round(wallS, 3),
      machineBusyCores: m && this.machine ? round((m.busyS - this.machine.busyS) / wallS, 2) : 0,
      fanoutCores: f && this.fanout ? round((f.cpuS - this.fanout.cpuS) / wallS, 2) : null,
      simulatorCores: round((this.simulatorCpuS() - this.sim) / wallS, 2),
    };
  }
}
