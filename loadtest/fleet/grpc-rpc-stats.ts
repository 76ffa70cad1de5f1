/**
 * What the proxyless gRPC clients' RPCs add up to, per benchmark phase. Pure: records in, numbers
 * out. An RPC belongs to the phase in which it was sent.
 */
import type { GrpcPhaseStats } from './result.ts';
import { dist } from './stats.ts';

/** One RPC of one client. Times are epoch ms (performance.timeOrigin + performance.now()). */
export interface RpcRecord {
  phase: string;
  sentAt: number;
  doneAt: number;
  ok: boolean;
  /** The backend that answered (ok) or the gRPC status code name (failed). */
  backend?: string;
  code?: string;
  details?: string;
}

export interface PhaseWindow {
  name: string;
  startedAt: number;
  endedAt: number;
  /** CPU seconds the client processes used during the phase, when known. */
  clientCpuS?: number | null;
}

const EXAMPLES = 3;

/**
 * Stats of every phase over all clients. `clients[i]` holds client i's records in send order.
 * A failure streak is a run of consecutive failed RPCs of one client in send order; it lasts from
 * its first failure's send to the next success's send (or to its last failure's end when no
 * success followed) and counts in the phase where it started.
 */
export function phaseStats(
  clients: ReadonlyArray<readonly RpcRecord[]>,
  phases: readonly PhaseWindow[],
): Record<string, GrpcPhaseStats> {
  const out: Record<string, GrpcPhaseStats> = {};
  const latencies = new Map<string, number[]>();
  for (const p of phases) {
    out[p.name] = {
      wallMs: Math.round(p.endedAt - p.startedAt),
      clientsRouting: 0,
      ok: 0,
      failed: 0,
      failedByCode: {},
      maxFailureStreakMs: 0,
      byBackend: {},
      okLatencyMs: null,
      failureExamples: [],
      clientCpuS: p.clientCpuS ?? null,
    };
    latencies.set(p.name, []);
  }
  for (const records of clients) {
    const routed = new Set<string>();
    let streak: { phase: string; from: number; lastEnd: number } | null = null;
    const closeStreak = (end: number) => {
      if (!streak) return;
      const s = out[streak.phase];
      if (s) s.maxFailureStreakMs = Math.max(s.maxFailureStreakMs, Math.round(end - streak.from));
      streak = null;
    };
    for (const r of records) {
      const s = out[r.phase];
      if (!s) continue;
      if (r.ok) {
        s.ok++;
        routed.add(r.phase);
        const b = r.backend ?? '?';
        s.byBackend[b] = (s.byBackend[b] ?? 0) + 1;
        latencies.get(r.phase)?.push(r.doneAt - r.sentAt);
        closeStreak(r.sentAt);
        continue;
      }
      s.failed++;
      const code = r.code ?? 'UNKNOWN';
      s.failedByCode[code] = (s.failedByCode[code] ?? 0) + 1;
      const example = `${code}: ${r.details ?? ''}`;
      if (s.failureExamples.length < EXAMPLES && !s.failureExamples.includes(example))
        s.failureExamples.push(example);
      if (streak) streak.lastEnd = Math.max(streak.lastEnd, r.doneAt);
      else streak = { phase: r.phase, from: r.sentAt, lastEnd: r.doneAt };
    }
    const open = streak as { lastEnd: number } | null;
    if (open) closeStreak(open.lastEnd);
    for (const phase of routed) {
      const s = out[phase];
      if (s) s.clientsRouting++;
    }
  }
  for (const [name, values] of latencies) {
    const s = out[name];
    if (s) s.okLatencyMs = dist(values);
  }
  return out;
}

/** Time from `base` to the end of the first record at or after `from` that satisfies `match`. */
export function firstAfter(
  records: readonly RpcRecord[],
  from: number,
  base: number,
  match: (r: RpcRecord) => boolean,
): number | null {
  let best: number | null = null;
  for (const r of records) {
    if (r.sentAt < from || !match(r)) continue;
    if (best === null || r.doneAt < best) best = r.doneAt;
  }
  return best === null ? null : Math.round(best - base);
}
