/**
 * V8's `--trace-gc` lines, summed over a window of a process's life: how many collections of each
 * kind, their pauses, and how much the process allocated in between (the heap before each
 * collection less the heap after the one before it). The benchmark runs the tier compiler with
 * `--trace-gc` (its stdout is the log file) and reads them once it has exited: V8 prints through
 * C stdio, which buffers a file's lines until the process exits.
 *
 * A line: `[pid:0xisolate]   1234 ms: Scavenge 50.1 (60.2) -> 45.3 (60.2) MB, 2.31 / 0.00 ms  (…`
 * with `Mark-Compact` (or `Mark-Compact (reduce)`, `Minor Mark-Sweep`) in place of `Scavenge`, and
 * for a mark-compact `(+ 25.3 ms in 120 steps since start of marking, biggest step 8.1 ms, …)`:
 * the incremental marking steps that ran on the main thread before it.
 */

export interface GcWindow {
  /** Scavenges (and minor mark-sweeps) in the window. */
  scavenges: number;
  /** Full collections (mark-compact) in the window. */
  markCompacts: number;
  /** Main-thread pause of every collection, ms (incremental marking steps excluded). */
  pauseMs: number;
  /** Incremental marking steps before the window's mark-compacts, ms (they run between tasks). */
  markingStepsMs: number;
  /** Longest single pause or marking step, ms. */
  longestMs: number;
  /** MB allocated in the window: heap before each collection less heap after the previous one. */
  allocatedMb: number;
}

interface GcLine {
  pid: number;
  atMs: number;
  kind: 'minor' | 'full';
  beforeMb: number;
  afterMb: number;
  pauseMs: number;
  stepsMs: number;
  biggestStepMs: number;
}

const LINE =
  /^\[(\d+):0x[0-9a-f]+\]\s+(\d+) ms: (Scavenge|Minor Mark-Sweep|Mark-Compact(?: \(reduce\))?) ([\d.]+) \([\d.]+\) -> ([\d.]+) \([\d.]+\) MB, (?:pooled: [\d.]+ MB, )?([\d.]+) \/ [\d.]+ ms(?:\s+\(\+ ([\d.]+) ms in \d+ steps since start of marking, biggest step ([\d.]+) ms)?/;

/** Every `--trace-gc` line of `pid` in `text` (other lines, other processes' lines are skipped). */
export function gcLines(text: string, pid: number): GcLine[] {
  const out: GcLine[] = [];
  for (const l of text.split('\n')) {
    const m = LINE.exec(l);
    if (!m || Number(m[1]) !== pid) continue;
    out.push({
      pid,
      atMs: Number(m[2]),
      kind: m[3]?.startsWith('Mark-Compact') ? 'full' : 'minor',
      beforeMb: Number(m[4]),
      afterMb: Number(m[5]),
      pauseMs: Number(m[6]),
      stepsMs: Number(m[7] ?? 0),
      biggestStepMs: Number(m[8] ?? 0),
    });
  }
  return out;
}

/**
 * The collections whose line is stamped within [fromMs, toMs] of the isolate's life (V8's clock
 * starts with the isolate, a few tens of ms after the spawn: a window of seconds is barely moved).
 */
export function gcWindow(lines: readonly GcLine[], fromMs: number, toMs: number): GcWindow {
  const w: GcWindow = {
    scavenges: 0,
    markCompacts: 0,
    pauseMs: 0,
    markingStepsMs: 0,
    longestMs: 0,
    allocatedMb: 0,
  };
  let afterPrevious: number | undefined;
  for (const g of lines) {
    if (g.atMs >= fromMs && g.atMs <= toMs) {
      if (g.kind === 'full') w.markCompacts++;
      else w.scavenges++;
      w.pauseMs += g.pauseMs;
      w.markingStepsMs += g.stepsMs;
      w.longestMs = Math.max(w.longestMs, g.pauseMs, g.biggestStepMs);
      if (afterPrevious !== undefined) w.allocatedMb += Math.max(0, g.beforeMb - afterPrevious);
    }
    afterPrevious = g.afterMb;
  }
  const r = (v: number) => Math.round(v * 10) / 10;
  return {
    ...w,
    pauseMs: r(w.pauseMs),
    markingStepsMs: r(w.markingStepsMs),
    longestMs: r(w.longestMs),
    allocatedMb: r(w.allocatedMb),
  };
}
