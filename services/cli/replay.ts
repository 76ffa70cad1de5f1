/**
 * `attache replay`: rebuilds a group's snapshot as of a point of the log — an event sequence
 * (`--to-seq`), a committed version (`--version`) or a time (`--at`, the last event stored at or
 * before it) — with the compiler's own fold and passes, and writes it like `translate` plus
 * `manifest.json` and `provenance.json`. It starts from the compiler's nearest checkpoint at or
 * before the point (in Redis with --redis, or served by --admin) and folds the events after it;
 * `--from-zero`, or no usable checkpoint, folds the log from its first event. With --redis it also
 * compares the rebuilt manifest with the one committed for that version: invariant 4 says they are
 * byte-identical. Exit 0 when written (and identical if compared), 3 when the committed manifest
 * differs, 1 when the point cannot be rebuilt (outside the log or before its reachable window).
 */
import fs from 'node:fs';
import path from 'node:path';
import { type FlagValue, flag } from '../../shared/runtime/config.ts';
import { ConfigError } from '../../shared/runtime/errors.ts';
import { createLogger } from '../../shared/runtime/logger.ts';
import { canonicalJson, encodeManifest, type Manifest } from '../../shared/snapshot/manifest.ts';
import { buildSnapshot } from '../compiler/runner-snapshot.ts';
import { toTranslateFiles } from '../compiler/translate-output.ts';
import type { LogHistory, Point } from '../debug/log-history.ts';
import { parsePoint } from '../debug/log-history.ts';
import { openHistory, redisStoreFromFlags } from './log-source.ts';

/** The point the flags name (`--to-seq`, `--version` or `--at`); the end of the log when none. */
export function pointFromFlags(flags: Record<string, FlagValue>, history: LogHistory): Point {
  const given = [
    flag.optionalNum(flags, 'to-seq') !== undefined,
    flag.optionalNum(flags, 'version') !== undefined,
    flag.str(flags, 'at') !== undefined,
  ].filter(Boolean).length;
  if (given > 1) throw new ConfigError('give at most one of --to-seq, --version and --at');
  const seq = flag.optionalNum(flags, 'to-seq');
  if (seq !== undefined) return { seq };
  const version = flag.optionalNum(flags, 'version');
  if (version !== undefined) return { version };
  const at = flag.str(flags, 'at');
  if (at !== undefined) {
    const p = parsePoint(at);
    if (!('time' in p)) throw new ConfigError(`--at takes a time, e.g. 2026-03-01T14:02:00Z; got ${at}`);
    return p;
  }
  return { seq: history.lastSeq };
}

/** Writes the snapshot at seq into dir; returns the manifest bytes. */
export function writeReplay(
  history: LogHistory,
  seq: number,
  dir: string,
): { manifest: Manifest; bytes: Uint8Array } {
  const result = history.compileAt(seq);
  const { manifest } = buildSnapshot(history.group, seq, result);
  fs.mkdirSync(dir, { recursive: true });
  for (const [name, body] of Object.entries(toTranslateFiles(result)))
    fs.writeFileSync(path.join(dir, name), body);
  const bytes = encodeManifest(manifest);
  fs.writeFileSync(path.join(dir, 'manifest.json'), bytes);
  fs.writeFileSync(
    path.join(dir, 'provenance.json'),
    `${JSON.stringify(JSON.parse(canonicalJson(result.provenance)), null, 2)}\n`,
  );
  return { manifest, bytes };
}

export async function runReplay(flags: Record<string, FlagValue>): Promise<number> {
  const log = createLogger('attache-replay');
  const out = flag.str(flags, 'out') ?? '';
  const fromZero = flag.bool(flags, 'from-zero');
  const store = await redisStoreFromFlags(flags, log);
  try {
    const checkpoints = fromZero
      ? undefined
      : store
        ? store.checkpoints()
        : flag.str(flags, 'admin')
          ? 'admin'
          : undefined;
    const { history, close } = await openHistory(flags, log, checkpoints ? { checkpoints } : {});
    try {
      const seq = history.resolve(pointFromFlags(flags, history));
      const start = await history.useCheckpoint(seq);
      for (const why of start.skipped) process.stderr.write(`checkpoint not used: ${why}\n`);
      const { bytes } = writeReplay(history, seq, out);
      const from =
        start.checkpoint === null
          ? 'from the start of the log'
          : `from the checkpoint at sequence ${start.checkpoint} (+${seq - start.checkpoint} events)`;
      process.stdout.write(`rebuilt ${history.group} at event sequence ${seq} ${from} into ${out}\n`);
      if (!store) return 0;
      const committed = await store.getManifest(history.group, seq);
      if (!committed) {
        process.stdout.write(`no committed manifest for version ${seq} (not committed or collected)\n`);
        return 0;
      }
      const same = Buffer.compare(Buffer.from(encodeManifest(committed)), Buffer.from(bytes)) === 0;
      process.stdout.write(
        same ? 'identical to the committed manifest\n' : 'DIFFERS from the committed manifest\n',
      );
      return same ? 0 : 3;
    } finally {
      await close();
    }
  } finally {
    await store?.close();
  }
}
