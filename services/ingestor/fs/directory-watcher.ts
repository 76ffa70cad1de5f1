/**
 * Low-latency change hints for a directory tree. One non-recursive `fs.watch` per directory the
 * last scan traversed, rather than `{ recursive: true }`: recursive watching on Linux is emulated
 * by Node (and has thrown uncaught errors when subdirectories disappear), while per-directory
 * inotify watches behave the same on every platform and follow the tree as scans re-sync them.
 * Hints are only hints: a watch that fails or overflows is dropped and the periodic rescan
 * remains the safety net. Bursts are coalesced: the first event schedules one callback
 * `debounceMs` later and later events before it fires ride along.
 */
import fs from 'node:fs';
import { errorMessage } from '../../../shared/runtime/errors.ts';
import type { Logger } from '../../../shared/runtime/logger.ts';

export class DirectoryWatcher {
  private readonly watchers = new Map<string, fs.FSWatcher>();
  private timer?: NodeJS.Timeout;
  private closed = false;
  private warned = false;

  constructor(
    private readonly onChange: () => void,
    private readonly log: Logger,
    private readonly debounceMs = 50,
  ) {}

  /** Watches exactly `dirs` (absolute paths): starts new watches, stops those no longer listed. */
  sync(dirs: readonly string[]): void {
    if (this.closed) return;
    const wanted = new Set(dirs);
    for (const [dir, w] of this.watchers) {
      if (!wanted.has(dir)) this.unwatch(dir, w);
    }
    for (const dir of wanted) {
      if (!this.watchers.has(dir)) this.watch(dir);
    }
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    for (const [dir, w] of this.watchers) this.unwatch(dir, w);
  }

  private watch(dir: string): void {
    try {
      // Not persistent: the rescan timer, not a watch, decides whether the process stays up.
      const w = fs.watch(dir, { persistent: false }, () => this.hint());
      w.on('error', (err) => {
        this.log.debug({ dir, err: errorMessage(err) }, 'directory watch failed; relying on rescans');
        this.unwatch(dir, w);
        this.hint();
      });
      this.watchers.set(dir, w);
    } catch (err) {
      // ENOSPC (inotify limit) or a directory that just vanished: rescans still cover it.
      const level = this.warned ? 'debug' : 'warn';
      this.warned = true;
      this.log[level]({ dir, err: errorMessage(err) }, 'cannot watch directory; relying on periodic rescans');
    }
  }

  private unwatch(dir: string, w: fs.FSWatcher): void {
    if (this.watchers.get(dir) === w) this.watchers.delete(dir);
    w.close();
  }

  private hint(): void {
    if (this.closed || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (!this.closed) this.onChange();
    }, this.debounceMs);
  }
}
