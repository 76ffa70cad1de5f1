/**
 * Per group and type, how many of this node's streams have ACKed each version and how many NACKed
 * last: the counts behind fleet status (fleet-reporter.ts) and `/debug/fleet`. Streams report
 * every change of their answers as it happens ({@link AckTally.add} / {@link AckTally.remove} of
 * the old and new answer), and their answers when they join or leave a group, so a summary costs
 * the group's types × versions, never a walk over its streams — a reconnect storm asks for one
 * every 250 ms while 10,000 streams come back.
 *
 * Contract: for every group, the counts equal what a walk over the group's joined streams would
 * count from their per-type answers (a type counts once it is requested, even before any answer).
 */
import { PUSH_ORDER, shortName } from '../../../shared/xds/type-urls.ts';

/** What a stream's client last answered for one type. */
export interface TypeAnswer {
  /** Version last acknowledged (undefined: none yet). */
  readonly ackedVersion?: string;
  /** The client's last answer for the type was a NACK. */
  readonly nacked: boolean;
}

/** Per type: how many of a group's streams have ACKed each version, and how many NACKed last. */
export interface TypeSummary {
  acked: Record<string, number>;
  nacking: number;
}

/** One group's counts per type index. */
class GroupCounts {
  /** Streams holding a state for the type (requested it). */
  readonly holders = PUSH_ORDER.map(() => 0);
  readonly nacking = PUSH_ORDER.map(() => 0);
  readonly acked = PUSH_ORDER.map(() => new Map<string, number>());

  get empty(): boolean {
    return this.holders.every((n) => n === 0);
  }
}

const SHORT = PUSH_ORDER.map(shortName);

export class AckTally {
  private readonly groups = new Map<string, GroupCounts>();

  /** Counts one stream's answer for the type at `index` in `group`. */
  add(group: string, index: number, answer: TypeAnswer): void {
    let g = this.groups.get(group);
    if (!g) {
      g = new GroupCounts();
      this.groups.set(group, g);
    }
    (g.holders[index] as number)++;
    if (answer.nacked) (g.nacking[index] as number)++;
    const v = answer.ackedVersion;
    if (v !== undefined) {
      const m = g.acked[index] as Map<string, number>;
      m.set(v, (m.get(v) ?? 0) + 1);
    }
  }

  /** Takes back what {@link add} counted for the same answer. */
  remove(group: string, index: number, answer: TypeAnswer): void {
    const g = this.groups.get(group);
    if (!g) return;
    (g.holders[index] as number)--;
    if (answer.nacked) (g.nacking[index] as number)--;
    const v = answer.ackedVersion;
    if (v !== undefined) {
      const m = g.acked[index] as Map<string, number>;
      const n = (m.get(v) ?? 0) - 1;
      if (n > 0) m.set(v, n);
      else m.delete(v);
    }
    if (g.empty) this.groups.delete(group);
  }

  /** The group's counts by short type name (types no stream requested are absent). */
  types(group: string): Record<string, TypeSummary> {
    const out: Record<string, TypeSummary> = {};
    const g = this.groups.get(group);
    if (!g) return out;
    g.holders.forEach((holders, i) => {
      if (holders <= 0) return;
      out[SHORT[i] as string] = {
        acked: Object.fromEntries(g.acked[i] as Map<string, number>),
        nacking: g.nacking[i] as number,
      };
    });
    return out;
  }
}
