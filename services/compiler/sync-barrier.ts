/**
 * The compiler's sync barrier: like a controller that waits for its informer caches to sync, the
 * compiler does not commit while a source cluster is between the start of a (re)list and the
 * `resync` marker that ends it — the log then holds only part of that cluster's state (a Host
 * published, its TLS Secret not yet), and a snapshot from it would serve a Host without TLS and
 * write a transient `error` status.
 *
 * Contract:
 * - a cluster starts syncing at its first event carrying `relist` (see EventEnvelope.relist) and
 *   stops at its next `resync` marker;
 * - every group is held while any cluster syncs (groups select objects, not clusters, so any
 *   cluster may feed any group);
 * - the hold is bounded: a cluster syncing for longer than `maxWaitMs` (an ingestor that died in
 *   the middle, a relist that never drains) no longer holds anything, and is reported once so the
 *   commit that goes ahead can say so. A new sync of that cluster starts after its next marker.
 * - Times are this process's clock when the event was folded: replaying history after a restart
 *   only holds for syncs still open at the end of the log, and each at most `maxWaitMs`.
 */
import type { EventEnvelope } from '../../shared/events/envelope.ts';

export interface BarrierCheck {
  /** When the earliest open sync stops holding (ms since epoch); undefined when nothing holds. */
  holdUntil?: number;
  /** Clusters whose sync has run past the maximum wait, reported once each. */
  expired: { cluster: string; syncingMs: number }[];
}

export class SyncBarrier {
  /** Cluster → when its open sync was first seen. */
  private readonly syncing = new Map<string, number>();
  private readonly reported = new Set<string>();

  constructor(
    private readonly maxWaitMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Folds one event (in log order). */
  observe(event: Pick<EventEnvelope, 'cluster' | 'op' | 'relist'>): void {
    if (event.op === 'resync') {
      this.syncing.delete(event.cluster);
      this.reported.delete(event.cluster);
      return;
    }
    if (event.relist && !this.syncing.has(event.cluster)) this.syncing.set(event.cluster, this.now());
  }

  /** Whether a commit must wait now, and which syncs just ran out of time. */
  check(): BarrierCheck {
    const now = this.now();
    let holdUntil: number | undefined;
    const expired: BarrierCheck['expired'] = [];
    for (const [cluster, since] of this.syncing) {
      const deadline = since + this.maxWaitMs;
      if (now < deadline) {
        holdUntil = holdUntil === undefined ? deadline : Math.min(holdUntil, deadline);
      } else if (!this.reported.has(cluster)) {
        this.reported.add(cluster);
        expired.push({ cluster, syncingMs: now - since });
      }
    }
    return holdUntil === undefined ? { expired } : { holdUntil, expired };
  }

  /** Clusters currently between a relist and its marker (admin/debug). */
  open(): string[] {
    return [...this.syncing.keys()].sort();
  }
}
