/**
 * The checkpoint store port: where the compiler keeps encoded checkpoints of its folded world
 * state (services/compiler/checkpoint.ts), each addressed by the event sequence it covers, so a
 * starting compiler and `attache replay` fold only the tail of the log after the nearest one.
 *
 * Contract:
 * - checkpoints are opaque bytes; the store neither reads nor validates them (the codec carries a
 *   format version and a checksum, and a reader falls back to the log when either is wrong);
 * - `put` replaces a checkpoint at the same sequence, then keeps only the newest `keep`, so the
 *   set is bounded however long the compiler runs;
 * - a checkpoint is derived state: losing any or all of them costs start-up time, never data.
 *
 * Implementations: `RedisCheckpointStore` (beside the snapshot store, same prefix) and
 * `MemoryCheckpointStore` (`attache dev`, tests); both pass `checkpoint-store.contract.ts`.
 */

export interface CheckpointStore {
  /** Stores `bytes` as the checkpoint at `seq`, then deletes all but the newest `keep` (≥ 1). */
  put(seq: number, bytes: Uint8Array, keep: number): Promise<void>;
  /** Sequences of the stored checkpoints, ascending. */
  list(): Promise<number[]>;
  /** The checkpoint at exactly `seq`, or null when there is none. */
  get(seq: number): Promise<Uint8Array | null>;
}

export class MemoryCheckpointStore implements CheckpointStore {
  private readonly stored = new Map<number, Uint8Array>();

  async put(seq: number, bytes: Uint8Array, keep: number): Promise<void> {
    this.stored.set(seq, bytes);
    const seqs = [...this.stored.keys()].sort((a, b) => a - b);
    for (const old of seqs.slice(0, Math.max(0, seqs.length - Math.max(1, keep)))) this.stored.delete(old);
  }

  async list(): Promise<number[]> {
    return [...this.stored.keys()].sort((a, b) => a - b);
  }

  async get(seq: number): Promise<Uint8Array | null> {
    return this.stored.get(seq) ?? null;
  }
}
