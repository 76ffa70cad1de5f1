/**
 * Watches the snapshot log in Redis (the same tail the fan-out follows) to timestamp commits. The
 * commit time is the Redis stream entry id's millisecond part: Redis's own clock when the fenced
 * commit script appended the entry, on this machine's clock.
 *
 * A change made of many objects may reach the log in several commits; {@link CommitWatch.waitFor}
 * returns the first commit whose content satisfies a probe, so "committed" means the whole change.
 */
import { silentLogger } from '../../shared/runtime/logger.ts';
import { RedisSnapshotStore } from '../../shared/snapshot/redis-snapshot-store.ts';
import { loadResources } from '../../shared/snapshot/resource-chunks.ts';
import type { SnapshotLogEntry } from '../../shared/snapshot/snapshot-store.ts';
import { shortName, type TypeUrl } from '../../shared/xds/type-urls.ts';
import { type ArmedProbe, armProbe, type Probe } from './version-book.ts';

export interface CommitInfo {
  group: string;
  version: number;
  /** Redis time of the commit (ms since the epoch). */
  committedAt: number;
  /** When the watcher saw it. */
  seenAt: number;
  /** Commits of the group after `afterId` up to and including this one. */
  commitsSince: number;
  /** Short names of the types whose version differs from the previous commit's. */
  changedTypes: string[];
  logId: string;
}

export class CommitWatch {
  private readonly entries: Array<SnapshotLogEntry & { seenAt: number }> = [];
  private readonly abort = new AbortController();
  private loop?: Promise<void>;
  private wake?: () => void;
  private failure?: unknown;

  private constructor(private readonly store: RedisSnapshotStore) {}

  static async start(redisUrl: string): Promise<CommitWatch> {
    const store = await RedisSnapshotStore.connect({ url: redisUrl, log: silentLogger() });
    const w = new CommitWatch(store);
    w.loop = w.follow();
    return w;
  }

  /** The id of the newest entry seen so far ('0-0' if none): pass it to {@link waitFor}. */
  get lastId(): string {
    return this.entries.at(-1)?.id ?? '0-0';
  }

  /** The newest commit seen for a group, waiting up to `timeoutMs` for a first one. */
  async head(group: string, timeoutMs: number): Promise<SnapshotLogEntry> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const e = this.entries.findLast((x) => x.group === group);
      if (e) return e;
      await this.sleepUntilEntry(deadline, `no snapshot committed for group ${group}`);
    }
  }

  /**
   * The first commit of `group` after log position `afterId` whose resources of the probe's type
   * satisfy the probe (present, and absent-marker absent).
   */
  async waitFor(group: string, afterId: string, probe: Probe, timeoutMs: number): Promise<CommitInfo> {
    const armed = armProbe(probe);
    const deadline = Date.now() + timeoutMs;
    let checked = 0;
    let previous = await this.previousVersion(group, afterId);
    for (;;) {
      const candidates = this.entries.filter((e) => e.group === group && compareIds(e.id, afterId) > 0);
      while (checked < candidates.length) {
        const e = candidates[checked++] as SnapshotLogEntry & { seenAt: number };
        const changed = await this.changedTypes(group, previous, e.version);
        previous = e.version;
        if (await this.satisfies(group, e.version, armed)) {
          return {
            group,
            version: e.version,
            committedAt: Number(e.id.split('-')[0]),
            seenAt: e.seenAt,
            commitsSince: checked,
            changedTypes: changed,
            logId: e.id,
          };
        }
      }
      await this.sleepUntilEntry(deadline, `no commit of group ${group} carried change '${probe.id}'`);
    }
  }

  async close(): Promise<void> {
    this.abort.abort();
    await this.loop?.catch(() => {});
    await this.store.close();
  }

  private async follow(): Promise<void> {
    try {
      for await (const e of this.store.tail({ signal: this.abort.signal })) {
        this.entries.push({ ...e, seenAt: Date.now() });
        this.wake?.();
      }
    } catch (err) {
      this.failure = err;
      this.wake?.();
    }
  }

  private async sleepUntilEntry(deadline: number, what: string): Promise<void> {
    if (this.failure) throw new Error(`snapshot log tail failed: ${String(this.failure)}`);
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`${what} (timed out)`);
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, Math.min(left, 1000));
      this.wake = () => {
        clearTimeout(t);
        resolve();
      };
    });
    this.wake = undefined;
  }

  private async previousVersion(group: string, afterId: string): Promise<number | undefined> {
    return this.entries.filter((e) => e.group === group && compareIds(e.id, afterId) <= 0).at(-1)?.version;
  }

  private async changedTypes(group: string, before: number | undefined, after: number): Promise<string[]> {
    const b = before === undefined ? null : await this.store.getManifest(group, before);
    const a = await this.store.getManifest(group, after);
    if (!a) return [];
    const out: string[] = [];
    for (const [typeUrl, tm] of Object.entries(a.types)) {
      if (tm?.version !== b?.types[typeUrl as TypeUrl]?.version) out.push(shortName(typeUrl));
    }
    return out.sort();
  }

  private async satisfies(group: string, version: number, probe: ArmedProbe): Promise<boolean> {
    const m = await this.store.getManifest(group, version);
    const entries = m?.types[probe.typeUrl as TypeUrl]?.resources ?? [];
    const blobs = await loadResources(entries, (hashes) => this.store.getBlobs(hashes));
    let present = false;
    for (const bytes of blobs.values()) {
      const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      if (probe.absent && b.indexOf(probe.absent) >= 0) return false;
      if (b.indexOf(probe.present) >= 0) present = true;
    }
    return present;
  }
}

/** Orders Redis stream ids (`ms-seq`). */
export function compareIds(a: string, b: string): number {
  const [am = 0, as = 0] = a.split('-').map(Number);
  const [bm = 0, bs = 0] = b.split('-').map(Number);
  return am !== bm ? am - bm : as - bs;
}
