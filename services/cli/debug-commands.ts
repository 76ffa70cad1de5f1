/**
 * The debugging commands over the event log: `attache log`, `diff`, `explain`, `bisect` and
 * `plan`. Each reads the log (log-source.ts), rebuilds what it needs with the compiler's passes
 * (debug/log-history.ts) and prints text, or JSON with --json.
 */
import { text } from 'node:stream/consumers';
import { setTimeout as sleep } from 'node:timers/promises';
import { type FlagValue, flag, POSITIONALS } from '../../shared/runtime/config.ts';
import { ConfigError } from '../../shared/runtime/errors.ts';
import { createLogger } from '../../shared/runtime/logger.ts';
import { bisect } from '../debug/bisect.ts';
import { EventDiffer, type EventFilter, formatEntry, matchesFilter } from '../debug/event-view.ts';
import { explainName, explainRequest, formatExplanation } from '../debug/explain.ts';
import { type LogHistory, parsePoint } from '../debug/log-history.ts';
import { type ProposedObject, plan } from '../debug/plan.ts';
import type { HttpRequest } from '../debug/route-match.ts';
import { diffViews, formatDiff, formatEvent, summarizeEvent } from '../debug/snapshot-diff.ts';
import { parseManifest } from '../debug/stdin-manifest.ts';
import { loadDirectory } from '../ingestor/fs/load-directory.ts';
import { openHistory, redisStoreFromFlags } from './log-source.ts';

function print(flags: Record<string, FlagValue>, json: unknown, text: string): void {
  process.stdout.write(flag.bool(flags, 'json') ? `${JSON.stringify(json, null, 2)}\n` : text);
}

async function withHistory<T>(
  flags: Record<string, FlagValue>,
  name: string,
  fn: (h: LogHistory) => Promise<T>,
) {
  const { history, close } = await openHistory(flags, createLogger(`attache-${name}`));
  try {
    return await fn(history);
  } finally {
    await close();
  }
}

/** A point flag (sequence, `vN` version or time) as a sequence; `fallback` when absent. */
function pointFlag(
  flags: Record<string, FlagValue>,
  name: string,
  history: LogHistory,
  fallback: number,
): number {
  const text = flag.str(flags, name);
  return text === undefined ? fallback : history.resolve(parsePoint(text));
}

export function requestFromFlags(flags: Record<string, FlagValue>): HttpRequest {
  const headers: Record<string, string> = {};
  for (const h of flag.list(flags, 'header')) {
    const i = h.indexOf('=');
    if (i <= 0) throw new ConfigError(`--header takes name=value, got ${JSON.stringify(h)}`);
    headers[h.slice(0, i).trim().toLowerCase()] = h.slice(i + 1);
  }
  const authority = flag.str(flags, 'authority');
  const path = flag.str(flags, 'path');
  if (authority === undefined || path === undefined) throw new ConfigError('give --authority and --path');
  return { authority, path, method: (flag.str(flags, 'method') ?? 'GET').toUpperCase(), headers };
}

export async function runLog(flags: Record<string, FlagValue>): Promise<number> {
  const ref = flag.str(flags, 'object');
  const [namespace, name] = ref?.includes('/') ? ref.split('/', 2) : [undefined, ref];
  return withHistory(flags, 'log', async (history) => {
    const filter: EventFilter = {
      ...(flag.str(flags, 'cluster') !== undefined ? { cluster: flag.str(flags, 'cluster') } : {}),
      ...(flag.str(flags, 'kind') !== undefined ? { kind: flag.str(flags, 'kind') } : {}),
      ...(namespace !== undefined ? { namespace } : {}),
      ...(name !== undefined ? { name } : {}),
      ...(flag.optionalNum(flags, 'from-seq') !== undefined
        ? { fromSeq: flag.optionalNum(flags, 'from-seq') }
        : {}),
      ...(flag.optionalNum(flags, 'to-seq') !== undefined
        ? { toSeq: flag.optionalNum(flags, 'to-seq') }
        : {}),
      ...(flag.str(flags, 'since') !== undefined
        ? { since: new Date(flag.str(flags, 'since') ?? '').toISOString() }
        : {}),
      ...(flag.str(flags, 'until') !== undefined
        ? { until: new Date(flag.str(flags, 'until') ?? '').toISOString() }
        : {}),
    };
    const differ = new EventDiffer();
    let next = 0;
    const emit = () => {
      for (const e of history.events) {
        if (e.seq <= next) continue;
        next = e.seq;
        const entry = differ.entry(e);
        if (!matchesFilter(e, filter)) continue;
        process.stdout.write(
          flag.bool(flags, 'json') ? `${JSON.stringify(entry)}\n` : `${formatEntry(entry)}\n`,
        );
      }
    };
    emit();
    if (!flag.bool(flags, 'follow')) return 0;
    const stop = new AbortController();
    process.once('SIGINT', () => stop.abort());
    while (!stop.signal.aborted) {
      await sleep(1000, undefined, { signal: stop.signal }).catch(() => {});
      await history.refresh();
      emit();
    }
    return 0;
  });
}

/**
 * `attache diff [A [B]]`: A and B are points as --from and --to take them (a version, a sequence or
 * a time); giving a point both ways is an error.
 */
export async function runDiff(flags: Record<string, FlagValue>): Promise<number> {
  const [a, b] = flag.list(flags, POSITIONALS);
  if (a !== undefined && flag.str(flags, 'from') !== undefined)
    throw new ConfigError(`give the first point as ${a} or as --from, not both`);
  if (b !== undefined && flag.str(flags, 'to') !== undefined)
    throw new ConfigError(`give the second point as ${b} or as --to, not both`);
  const points = { ...flags, ...(a !== undefined ? { from: a } : {}), ...(b !== undefined ? { to: b } : {}) };
  return withHistory(flags, 'diff', async (history) => {
    const from = pointFlag(points, 'from', history, 0);
    const to = pointFlag(points, 'to', history, history.lastSeq);
    const d = diffViews(history.viewAt(from), history.viewAt(to), history.between(from, to));
    print(flags, d, formatDiff(d, `seq ${from}`, `seq ${to}`));
    return 0;
  });
}

export async function runExplain(flags: Record<string, FlagValue>): Promise<number> {
  return withHistory(flags, 'explain', async (history) => {
    const seq = pointFlag(flags, 'at', history, history.lastSeq);
    const view = history.viewAt(seq);
    const name = flag.str(flags, 'name');
    if (name !== undefined) {
      process.stdout.write(explainName(view, name));
      return view.resources.some((r) => r.name === name) ? 0 : 1;
    }
    const e = explainRequest(view, requestFromFlags(flags), flag.str(flags, 'listener') ?? '');
    print(flags, e, formatExplanation(e, `seq ${seq}`));
    return e.verdict.targets.length > 0 || e.verdict.routes.some((r) => r.share > 0) ? 0 : 1;
  });
}

/**
 * `attache bisect`: each probe's rebuild starts from the compiler's nearest checkpoint, read from
 * Redis (--redis) or the admin port (--admin), as replay does; --from-zero folds from the start.
 */
export async function runBisect(flags: Record<string, FlagValue>): Promise<number> {
  const log = createLogger('attache-bisect');
  const store = await redisStoreFromFlags(flags, log);
  try {
    const checkpoints = flag.bool(flags, 'from-zero')
      ? undefined
      : store
        ? store.checkpoints()
        : flag.str(flags, 'admin')
          ? ('admin' as const)
          : undefined;
    const { history, close } = await openHistory(flags, log, checkpoints ? { checkpoints } : {});
    try {
      const expectCluster = flag.str(flags, 'expect-cluster');
      const r = await bisect(history, {
        request: requestFromFlags(flags),
        listener: flag.str(flags, 'listener') ?? '',
        ...(expectCluster !== undefined ? { expectCluster } : {}),
        good: pointFlag(flags, 'good', history, history.events[0]?.seq ?? 0),
        bad: pointFlag(flags, 'bad', history, history.lastSeq),
      });
      const culprit = r.culprit ? summarizeEvent(r.culprit) : undefined;
      const probes = r.probes.map((seq, i) => {
        const from = r.starts[i];
        return from === null || from === undefined ? `${seq}` : `${seq} (checkpoint ${from} +${seq - from})`;
      });
      const text = [
        `good at seq ${r.good}: ${r.goodAnswer}`,
        `bad from seq ${r.bad}: ${r.badAnswer}`,
        culprit ? `first bad event: ${formatEvent(culprit)}` : `first bad event: ${r.bad}`,
        `(${r.probes.length} snapshots rebuilt in ${r.ms} ms, ${r.eventsFolded} events folded: seq ${probes.join(', ')})`,
      ].join('\n');
      print(flags, { ...r, culprit }, `${text}\n`);
      return 0;
    } finally {
      await close();
    }
  } finally {
    await store?.close();
  }
}

export async function runPlan(flags: Record<string, FlagValue>): Promise<number> {
  const proposed: ProposedObject[] = [];
  const dirs = flag.list(flags, 'config');
  // No --config (or --config -): the proposal is a Kubernetes manifest on stdin, as kubectl diff -f -.
  if (dirs.length === 0 || dirs.includes('-')) {
    if (process.stdin.isTTY)
      throw new ConfigError('give --config DIR, or pipe a Kubernetes manifest to stdin');
    const { proposed: fromStdin, errors } = parseManifest(await text(process.stdin));
    for (const e of errors) process.stderr.write(`${e}\n`);
    if (errors.length > 0) return 1;
    if (fromStdin.length === 0 && dirs.length === 0)
      throw new ConfigError('stdin held no objects: give --config DIR, or pipe a Kubernetes manifest');
    proposed.push(...fromStdin);
  }
  for (const dir of dirs.filter((d) => d !== '-')) {
    const { documents, errors } = await loadDirectory(dir);
    for (const e of errors) process.stderr.write(`${e.file}: ${e.message}\n`);
    if (errors.length > 0) return 1;
    proposed.push(
      ...documents.map((d) => ({ object: d.object, origin: { file: d.file, document: d.document } })),
    );
  }
  return withHistory(flags, 'plan', async (history) => {
    const d = plan(history, proposed, {
      cluster: flag.str(flags, 'cluster') ?? 'local',
      prune: flag.bool(flags, 'prune'),
    });
    print(flags, d, formatDiff(d, `current (seq ${history.lastSeq})`, 'proposed'));
    // Like `terraform plan -detailed-exitcode`: 0 nothing changes, 2 something does.
    return d.resources.length > 0 || d.routing.length > 0 ? 2 : 0;
  });
}
