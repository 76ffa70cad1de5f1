/**
 * Which compiler replica commits, with which fencing epochs, and what to do when the store
 * forgets what was committed.
 *
 * - Without a lease (one replica, `attache dev`): always the leader; a fenced commit is fatal.
 * - With a lease: replicas claim it; the holder takes a fresh fencing epoch per group and commits,
 *   the others are warm standbys (they fold and compile, but do not commit). The holder renews
 *   every `ttlMs / 3`; a standby tries to claim every `ttlMs / 8`, so after the holder dies a standby
 *   takes over within about `ttlMs` plus one claim interval. A holder whose renewal fails, or who
 *   has not renewed within `ttlMs` (paused, partitioned), stops committing at once; a fenced
 *   commit with a newer epoch in the store makes it step down and rejoin as a standby.
 * - Store loss: each renewal the leader also checks every group's epoch and head in the store.
 *   An epoch below its own (0 after a flush, or an older one on a promoted replica) or a head
 *   missing or below what it committed means the store lost data: it takes a new epoch and asks
 *   the runner to commit the group's current state again, without a restart. A fenced commit is
 *   examined the same way before anything else is concluded.
 * - A commit is owed from when a recommit is asked for, or a build could not be committed because
 *   the lease looked expired, until the runner reports the group settled (committed, or the store
 *   already had it): every renewal while leading asks again for what is still owed. The lease
 *   counts from when a claim was sent, so a claim answered late (queued while the Redis client
 *   reconnected to a promoted replica) or a compile that held the event loop past the expiry
 *   leaves a leader looking expired for a moment; without asking again, the head would stay
 *   behind until the next change.
 */
import { errorMessage, FencedError } from '../../shared/runtime/errors.ts';
import type { Logger } from '../../shared/runtime/logger.ts';
import type { LeaderLease } from '../../shared/snapshot/leader-lease.ts';
import type { SnapshotStore } from '../../shared/snapshot/snapshot-store.ts';

export interface LeadershipOptions {
  store: SnapshotStore;
  groups: readonly string[];
  log: Logger;
  /** Absent: this replica is the only committer. */
  lease?: LeaderLease;
  /**
   * The highest version this replica committed for the group, or saw the store already hold
   * (null before either). Never lowered by a recommit: it is what the store must not fall below.
   */
  committedVersion(group: string): number | null;
  /**
   * Commit the groups' current state again (newly elected, or the store lost it). Must not throw;
   * the runner calls {@link Leadership.settled} once the group's state is in the store.
   */
  recommit(groups: readonly string[]): void;
  /** Called with a FencedError when there is no lease to step down from. */
  onFatal(err: unknown): void;
}

export class Leadership {
  private readonly epochs = new Map<string, number>();
  /** Groups whose current state must be committed again; cleared by {@link settled}. */
  private readonly owed = new Set<string>();
  private leader = false;
  /** When the last successful claim started: the lease is ours until then + ttl at the latest. */
  private claimedAt = 0;
  private timer?: NodeJS.Timeout;
  private ticking?: Promise<void>;
  private closed = false;

  constructor(private readonly opts: LeadershipOptions) {}

  /**
   * Without a lease: takes the epochs and leads. With one: claims once (so a lone replica leads
   * before its first compile), then keeps claiming or renewing in the background.
   */
  async start(): Promise<void> {
    if (!this.opts.lease) {
      await this.takeEpochs(this.opts.groups);
      this.leader = true;
      return;
    }
    await this.claim(false);
    this.scheduleTick();
  }

  /** True while this replica may commit. */
  isLeader(): boolean {
    const lease = this.opts.lease;
    if (!lease) return this.leader;
    return this.leader && Date.now() - this.claimedAt < lease.ttlMs;
  }

  /** The group has a build this replica could not commit (not leading at that moment). */
  owe(group: string): void {
    this.owed.add(group);
  }

  /**
   * The group's current state is in the store (committed, or the store already had this version),
   * or there is nothing to commit until the next change (the compile failed): nothing is owed.
   */
  settled(group: string): void {
    this.owed.delete(group);
  }

  /** The epoch to commit the group with. */
  epoch(group: string): number {
    return this.epochs.get(group) ?? 0;
  }

  /**
   * A commit made with `epochUsed` was fenced. Decides whether the store lost data (take a new
   * epoch and commit again), our epoch simply changed meanwhile (commit again), or another
   * replica leads (step down; fatal without a lease).
   */
  async fenced(group: string, epochUsed: number): Promise<void> {
    if (this.epochs.get(group) !== epochUsed) {
      this.recommit([group]);
      return;
    }
    let current: number;
    try {
      current = await this.opts.store.currentEpoch(group);
    } catch (err) {
      this.opts.log.warn({ group, err: errorMessage(err) }, 'cannot read the fencing epoch; retrying later');
      this.recommit([group]);
      return;
    }
    if (current < epochUsed && this.isLeader()) {
      await this.recoverStore([group], `fencing epoch ${current} in the store is below ours (${epochUsed})`);
      return;
    }
    const err = new FencedError(
      `group ${group}: commit fenced (store epoch ${current}, ours ${epochUsed}): another compiler leads; this one stops committing`,
    );
    if (!this.opts.lease) {
      this.opts.log.error({ group }, err.message);
      this.opts.onFatal(err);
      return;
    }
    this.opts.log.warn({ group }, `${err.message} and rejoins as a standby`);
    await this.stepDown();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    await this.ticking?.catch(() => {});
    if (this.leader && this.opts.lease) {
      this.leader = false;
      await this.opts.lease.release().catch(() => {});
    }
  }

  private scheduleTick(): void {
    const lease = this.opts.lease;
    if (!lease || this.closed) return;
    const every = this.leader ? lease.ttlMs / 3 : lease.ttlMs / 8;
    this.timer = setTimeout(() => {
      this.ticking = this.tick().finally(() => {
        this.ticking = undefined;
        this.scheduleTick();
      });
    }, every);
  }

  private async tick(): Promise<void> {
    const wasLeader = this.leader;
    await this.claim(true);
    if (wasLeader && this.leader) await this.checkStore();
    if (this.owed.size > 0 && this.isLeader()) {
      this.opts.log.debug({ groups: [...this.owed] }, 'asking again for the recommit still owed');
      this.opts.recommit([...this.owed]);
    }
  }

  private recommit(groups: readonly string[]): void {
    for (const g of groups) this.owed.add(g);
    this.opts.recommit(groups);
  }

  /** Claims or renews the lease; on winning it newly, takes epochs (and, if `announce`, recommits). */
  private async claim(announce: boolean): Promise<void> {
    const lease = this.opts.lease;
    if (!lease || this.closed) return;
    const startedAt = Date.now();
    let held: boolean;
    try {
      held = await lease.claim();
    } catch (err) {
      if (this.leader && Date.now() - this.claimedAt >= lease.ttlMs) {
        this.leader = false;
        this.opts.log.warn(
          { err: errorMessage(err) },
          'leader lease could not be renewed in time; stopping commits until it is claimed again',
        );
      } else if (!this.leader) {
        this.opts.log.warn({ err: errorMessage(err) }, 'leader lease claim failed; retrying');
      }
      return;
    }
    if (!held) {
      this.opts.log.debug('leader lease held by another compiler');
      if (this.leader) {
        this.leader = false;
        this.opts.log.warn('another compiler holds the leader lease; continuing as a standby');
      }
      return;
    }
    this.claimedAt = startedAt;
    if (this.leader) return;
    try {
      await this.takeEpochs(this.opts.groups);
    } catch (err) {
      this.opts.log.warn({ err: errorMessage(err) }, 'elected, but taking fencing epochs failed; retrying');
      return;
    }
    this.leader = true;
    this.opts.log.info({ holder: lease.holder }, 'holding the leader lease: this compiler commits');
    if (announce) this.recommit(this.opts.groups);
  }

  private async stepDown(): Promise<void> {
    if (!this.leader) return;
    this.leader = false;
    try {
      await this.opts.lease?.release();
    } catch (err) {
      this.opts.log.debug({ err: errorMessage(err) }, 'releasing the leader lease failed; it expires');
    }
  }

  /** Compares the store's epoch and head of every group with what this leader committed. */
  private async checkStore(): Promise<void> {
    const lost: string[] = [];
    const reasons: string[] = [];
    for (const group of this.opts.groups) {
      const mine = this.epochs.get(group) ?? 0;
      let epoch: number;
      let head: number | null;
      try {
        [epoch, head] = await Promise.all([this.opts.store.currentEpoch(group), this.opts.store.head(group)]);
      } catch (err) {
        this.opts.log.debug({ err: errorMessage(err) }, 'store check failed; next renewal retries');
        return;
      }
      if (epoch > mine) {
        this.opts.log.warn(
          { group, epoch, mine },
          'another compiler took a newer fencing epoch; continuing as a standby',
        );
        await this.stepDown();
        return;
      }
      const committed = this.opts.committedVersion(group);
      if (epoch < mine) {
        lost.push(group);
        reasons.push(`${group}: epoch ${epoch} < ${mine}`);
      } else if (committed !== null && (head === null || head < committed)) {
        lost.push(group);
        reasons.push(`${group}: head ${head ?? 'missing'} < committed ${committed}`);
      }
    }
    if (lost.length > 0) await this.recoverStore(lost, reasons.join('; '));
  }

  private async recoverStore(groups: readonly string[], reason: string): Promise<void> {
    this.opts.log.warn(
      { groups, reason },
      'the snapshot store lost committed data; taking new fencing epochs and committing again',
    );
    try {
      await this.takeEpochs(groups);
    } catch (err) {
      this.opts.log.warn({ err: errorMessage(err) }, 'taking new fencing epochs failed; retrying');
    }
    this.recommit(groups);
  }

  private async takeEpochs(groups: readonly string[]): Promise<void> {
    for (const g of groups) this.epochs.set(g, await this.opts.store.acquireEpoch(g, this.epochs.get(g)));
  }
}
