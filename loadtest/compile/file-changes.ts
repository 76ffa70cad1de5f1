/**
 * The benchmark's file phase: the real YAML ingestor (`attache ingest fs`, its own process) on the
 * generated directory, publishing into the log the running compiler follows; one Mapping is
 * changed in the 10,000-document `mappings.yaml` at a time (write to a temporary file, then
 * rename, as editors and `git checkout` do) and timed from the rename to the commit that covers
 * its event, and from that event's time in the log (JetStream's stored timestamp, same machine
 * clock) to the same commit, and the ingestor's own share: from the rename to that event's time in
 * the log. The ingestor's watch debounce and the compiler's debounce are on that path; both are
 * reported and subtracted in the `…ExclDebounce` figures.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { EventLog } from '../../shared/events/event-log.ts';
import { escapeToken } from '../../shared/events/subjects.ts';
import { freePort } from '../../test/harness/ports.ts';
import { AttacheChild } from '../fleet/attache-child.ts';
import { type Dist, dist } from '../fleet/stats.ts';
import { type BenchShape, mappingYaml, NAMESPACE } from './generate.ts';

export interface FileChangeOptions {
  dir: string;
  shape: BenchShape;
  natsUrl: string;
  events: EventLog;
  /** The source cluster the log's objects were published as (the ingestor takes them over). */
  cluster: string;
  /** performance.now() of the first commit covering `seq`. */
  committed: (seq: number) => Promise<number>;
  changes: number;
  compilerDebounceMs: number;
  watchDebounceMs: number;
  timeoutMs: number;
  logFile: string;
  progress: (line: string) => void;
}

export interface FileChangeResult {
  changes: number;
  watchDebounceMs: number;
  compilerDebounceMs: number;
  /** Ingestor start → ready (the directory reconciled with the log). */
  ingestorStartupMs: number;
  fromWriteMs: Dist | null;
  fromWriteExclDebounceMs: Dist | null;
  fromEventMs: Dist | null;
  fromEventExclDebounceMs: Dist | null;
  /** The ingestor's share: from the file write to its event's time in the log. */
  writeToEventMs: Dist | null;
  writeToEventExclDebounceMs: Dist | null;
  ingestorPeakRssBytes: number | null;
}

export async function measureFileChanges(o: FileChangeOptions): Promise<FileChangeResult> {
  const file = path.join(o.dir, 'mappings.yaml');
  const docs = Array.from({ length: o.shape.mappings }, (_, i) => mappingYaml(i, o.shape));
  const adminPort = await freePort();
  const t0 = performance.now();
  const ingestor = new AttacheChild(
    'ingestor',
    [
      ...['ingest', 'fs', '--dir', o.dir, '--cluster', o.cluster, '--nats', o.natsUrl],
      ...['--admin-host', '127.0.0.1', '--admin-port', String(adminPort)],
      ...['--anti-entropy-interval-ms', '0', '--watch-debounce-ms', String(o.watchDebounceMs)],
    ],
    o.logFile,
  );
  try {
    await ingestor.waitReady(adminPort, o.timeoutMs);
    const ingestorStartupMs = performance.now() - t0;
    o.progress(`file phase: ingestor ready in ${Math.round(ingestorStartupMs)} ms`);
    // Whatever the reconciliation republished (objects the earlier phases changed) is committed.
    await o.committed(await o.events.lastSeq());

    const fromWrite: number[] = [];
    const fromEvent: number[] = [];
    const toEvent: number[] = [];
    for (let k = 1; k <= o.changes; k++) {
      const i = (k * 7919 + 13) % o.shape.mappings;
      docs[i] = mappingYaml(i, o.shape, 1000 + k);
      const subject = `attache.ev.${escapeToken(o.cluster)}.Mapping.${escapeToken(NAMESPACE)}.${escapeToken(`m-${i}`)}`;
      const abort = new AbortController();
      const fromSeq = (await o.events.lastSeq()) + 1;
      const seen = (async () => {
        for await (const e of o.events.follow({ fromSeq, subjects: [subject], signal: abort.signal }))
          return e;
        return undefined;
      })();
      const tmp = `${file}.tmp~`;
      fs.writeFileSync(tmp, `${docs.join('\n---\n')}\n`);
      const writtenAt = performance.now();
      fs.renameSync(tmp, file);
      const timer = setTimeout(() => abort.abort(), o.timeoutMs);
      const event = await seen;
      clearTimeout(timer);
      abort.abort();
      if (!event?.time) throw new Error(`no event for Mapping m-${i} within ${o.timeoutMs} ms`);
      const at = await o.committed(event.seq);
      fromWrite.push(at - writtenAt);
      const loggedAt = Date.parse(event.time) - performance.timeOrigin;
      fromEvent.push(at - loggedAt);
      toEvent.push(loggedAt - writtenAt);
    }
    const hwm = /^VmHWM:\s+(\d+)\s+kB/m.exec(safeRead(`/proc/${ingestor.pid}/status`));
    const minus = (xs: number[], d: number) => xs.map((x) => Math.max(0, x - d));
    return {
      changes: o.changes,
      watchDebounceMs: o.watchDebounceMs,
      compilerDebounceMs: o.compilerDebounceMs,
      ingestorStartupMs,
      fromWriteMs: dist(fromWrite),
      fromWriteExclDebounceMs: dist(minus(fromWrite, o.watchDebounceMs + o.compilerDebounceMs)),
      fromEventMs: dist(fromEvent),
      fromEventExclDebounceMs: dist(minus(fromEvent, o.compilerDebounceMs)),
      writeToEventMs: dist(toEvent),
      writeToEventExclDebounceMs: dist(minus(toEvent, o.watchDebounceMs)),
      ingestorPeakRssBytes: hwm ? Number(hwm[1]) * 1024 : null,
    };
  } finally {
    await ingestor.stop();
  }
}

function safeRead(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}
