/**
 * The benchmark's checkpoint phase (issue 10, "bounded start-up"): the log is grown to `events`
 * events (Mapping edits and endpoint changes on the generated objects, as a busy cluster makes
 * them) while the compiler follows it and writes checkpoints with its default policy; then the
 * compiler is stopped, one more change is published, and a new `attache compile` is started.
 * Reported: process start → /readyz with that change committed, loading the newest checkpoint and
 * folding only the tail after it (R restarts, one change before each, the median reported); and,
 * for contrast, the same start with checkpoints off
 * (`--checkpoint-keep 0`, a fresh Redis prefix so it must commit too), folding the whole log.
 */
import fs from 'node:fs';
import type { SourceObject } from '../../shared/events/envelope.ts';
import type { JetStreamEventLog } from '../../shared/events/jetstream-event-log.ts';
import type { RedisSnapshotStore } from '../../shared/snapshot/redis-snapshot-store.ts';
import { freePort } from '../../test/harness/ports.ts';
import { AttacheChild } from '../fleet/attache-child.ts';

export interface CheckpointStartup {
  /** Events in the log when the compiler restarts. */
  logEvents: number;
  /**
   * Restart from the newest checkpoint: process start → ready, the new change committed; the
   * median of `fromCheckpointRunsMs` (the details below are of that run).
   */
  fromCheckpointMs: number;
  /** Every restart from the checkpoint, in order (each after one more change). */
  fromCheckpointRunsMs: number[];
  checkpointSeq: number | null;
  tailEventsFolded: number | null;
  checkpointBytes: number | null;
  checkpointLoadMs: number | null;
  /** Where the restart from the checkpoint spent its time (from the compiler's own log lines). */
  fromCheckpointPhases: Phases;
  /** Same restart with checkpoints off: folds the whole log. */
  fromZeroMs: number;
  fromZeroPhases: Phases;
  /** The compiler's own account of its start-up (ms per step: leadership, checkpoint, fold, compileAndCommit). */
  fromCheckpointSteps: Record<string, number> | null;
  fromZeroSteps: Record<string, number> | null;
}

/** Milliseconds from the process spawn to each step of a compiler's start-up. */
export interface Phases {
  /** First log line: the process loaded its code and connected to Redis. */
  connected: number | null;
  /** Leader lease held: about to read the checkpoint and the log. */
  leader: number | null;
  /** Checkpoint loaded (restart from a checkpoint only). */
  checkpointLoaded: number | null;
  /** Tail (or whole log) folded, compiled and committed. */
  caughtUp: number | null;
}

export interface CheckpointPhase {
  events: JetStreamEventLog;
  store: RedisSnapshotStore;
  /** The running compiler (stopped here). */
  compiler: AttacheChild;
  /** Arguments of `attache compile` without the admin port. */
  compileArgs: readonly string[];
  /** Objects as first published, to derive changes from. */
  objects: readonly SourceObject[];
  envelope: (object: SourceObject, rv: string) => Parameters<JetStreamEventLog['publish']>[0];
  /** Resolves when a commit covers `seq`. */
  committed: (seq: number) => Promise<unknown>;
  targetEvents: number;
  /** Restarts from the checkpoint (the median is reported: one start on a shared machine is noise). */
  restarts: number;
  timeoutMs: number;
  logFile: string;
  progress: (line: string) => void;
  /** Lets the caller stop whichever compiler is running when interrupted. */
  onCompiler: (c: AttacheChild) => void;
}

/** A change to one generated object: a Mapping's timeout, or an EndpointSlice's addresses. */
function changed(o: SourceObject, k: number): SourceObject {
  const c = structuredClone(o);
  if (c.kind === 'Mapping') (c.spec as Record<string, unknown>).timeout_ms = 1000 + (k % 5000);
  else if (c.kind === 'EndpointSlice') {
    const eps = (c.endpoints as { addresses: string[] }[] | undefined) ?? [];
    c.endpoints = eps.map((e, i) => ({ ...e, addresses: [`10.200.${k % 250}.${i % 250}`] }));
  }
  return c;
}

export async function measureCheckpointStartup(p: CheckpointPhase): Promise<CheckpointStartup> {
  const movable = p.objects.filter((o) => o.kind === 'Mapping' || o.kind === 'EndpointSlice');
  let last = await p.events.lastSeq();
  let k = 0;
  while (last < p.targetEvents) {
    const n = Math.min(512, p.targetEvents - last);
    const acks = await Promise.all(
      Array.from({ length: n }, () => {
        k++;
        const o = movable[(k * 7919) % movable.length] as SourceObject;
        return p.events.publish(p.envelope(changed(o, k), `c${k}`));
      }),
    );
    last = Math.max(last, ...acks.map((a) => a.seq));
    if (k % 20_480 < 512) p.progress(`checkpoints: log at ${last} of ${p.targetEvents} events`);
  }
  await p.committed(last);
  // Let the leader finish the checkpoint its last compile may have started.
  const checkpoints = p.store.checkpoints();
  let seen = '';
  for (let stable = 0; stable < 10; ) {
    await new Promise((r) => setTimeout(r, 200));
    const now = JSON.stringify(await checkpoints.list());
    stable = now === seen ? stable + 1 : 0;
    seen = now;
  }
  p.progress(`checkpoints: compiler caught up at ${last}; checkpoints stored at ${seen}`);
  await p.compiler.stop();

  /** `sameStore`: commits go to the store the clock follows (else to another prefix). */
  const restart = async (extra: readonly string[], label: string, sameStore: boolean) => {
    const o = movable[0] as SourceObject;
    const ack = await p.events.publish(p.envelope(changed(o, ++k), `r${k}`));
    const adminPort = await freePort();
    const logFile = `${p.logFile}.${sameStore ? 'from-checkpoint' : 'from-zero'}`;
    fs.writeFileSync(logFile, '');
    const t0 = performance.now();
    const spawnedAt = Date.now();
    const child = new AttacheChild(
      label,
      ['compile', ...p.compileArgs, '--admin-port', String(adminPort), ...extra],
      logFile,
    );
    p.onCompiler(child);
    await child.waitReady(adminPort, p.timeoutMs, 10);
    const ms = performance.now() - t0;
    if (sameStore) await p.committed(ack.seq);
    // Its log is read once it has exited: the logger writes asynchronously, and the lines of
    // the start-up may not be in the file yet when /readyz answers.
    await child.stop();
    const lines = fs
      .readFileSync(logFile, 'utf8')
      .split('\n')
      .flatMap((l) => {
        try {
          return [JSON.parse(l) as Record<string, unknown>];
        } catch {
          return [];
        }
      });
    if (!process.env.ATTACHE_BENCH_KEEP_LOGS) fs.rmSync(logFile, { force: true });
    const at = (msg: string) => {
      const l = lines.find((x) => x.msg === msg);
      return typeof l?.time === 'number' ? l.time - spawnedAt : null;
    };
    const first = lines[0]?.time;
    const phases: Phases = {
      connected: typeof first === 'number' ? first - spawnedAt : null,
      leader: at('holding the leader lease: this compiler commits'),
      checkpointLoaded: at('loaded compiler checkpoint: folding only the events after it'),
      caughtUp: at('compiler caught up with the log'),
    };
    return {
      ms,
      phases,
      logEvents: ack.seq,
      caughtUp: lines.find((l) => l.msg === 'compiler caught up with the log'),
      loaded: lines.find((l) => l.msg === 'loaded compiler checkpoint: folding only the events after it'),
    };
  };
  const runs: Awaited<ReturnType<typeof restart>>[] = [];
  for (let r = 0; r < Math.max(1, p.restarts); r++) {
    runs.push(await restart([], 'compiler (from checkpoint)', true));
    p.progress(`checkpoints: restarted from a checkpoint in ${Math.round(runs.at(-1)?.ms ?? 0)} ms`);
  }
  const fromCheckpoint = [...runs].sort((a, b) => a.ms - b.ms)[
    Math.floor((runs.length - 1) / 2)
  ] as (typeof runs)[number];
  const fromZero = await restart(
    ['--checkpoint-keep', '0', '--redis-prefix', 'bench-from-zero:'],
    'compiler (no checkpoint)',
    false,
  );
  p.progress(`checkpoints: restarted without checkpoints in ${Math.round(fromZero.ms)} ms`);
  const num = (v: unknown) => (typeof v === 'number' ? v : null);
  return {
    logEvents: fromCheckpoint.logEvents,
    fromCheckpointMs: Math.round(fromCheckpoint.ms),
    fromCheckpointRunsMs: runs.map((r) => Math.round(r.ms)),
    checkpointSeq: num(fromCheckpoint.caughtUp?.fromCheckpoint),
    tailEventsFolded: num(fromCheckpoint.caughtUp?.eventsFolded),
    checkpointBytes: num(fromCheckpoint.loaded?.bytes),
    checkpointLoadMs: num(fromCheckpoint.loaded?.loadMs),
    fromCheckpointPhases: fromCheckpoint.phases,
    fromZeroMs: Math.round(fromZero.ms),
    fromZeroPhases: fromZero.phases,
    fromCheckpointSteps: steps(fromCheckpoint.caughtUp?.ms),
    fromZeroSteps: steps(fromZero.caughtUp?.ms),
  };
}

function steps(v: unknown): Record<string, number> | null {
  return typeof v === 'object' && v !== null ? (v as Record<string, number>) : null;
}
