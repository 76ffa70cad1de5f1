/**
 * {@link CheckpointStore} in the snapshot store's Redis (same connection, prefix and failover):
 * `<p>ckpt:<seq>` holds one checkpoint's bytes, the sorted set `<p>ckpts` its sequences.
 *
 * Why Redis rather than a NATS object store: a checkpoint is derived state, like everything Redis
 * holds (losing it costs start-up time, never data); the compiler already holds this connection
 * and its fencing there, so checkpoints need no new client library, bucket or NATS permission;
 * and a restart reads one key with one GET. The set is bounded (`keep`), so its memory is about
 * `keep` times the encoded world state (README: Compiler checkpoints).
 */
import type { Redis } from 'ioredis';
import type { CheckpointStore } from './checkpoint-store.ts';
import type { RedisKeys } from './redis-keys.ts';

/** Runs one Redis operation, turning failures into the store's DependencyError. */
type Op = <T>(what: string, fn: () => Promise<T>) => Promise<T>;

export class RedisCheckpointStore implements CheckpointStore {
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    private readonly op: Op,
  ) {}

  async put(seq: number, bytes: Uint8Array, keep: number): Promise<void> {
    await this.op(`writing the compiler checkpoint at sequence ${seq}`, async () => {
      execOk(
        await this.redis
          .multi()
          .set(this.keys.checkpoint(seq), Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength))
          .zadd(this.keys.checkpoints, seq, String(seq))
          .exec(),
      );
      const old = await this.redis.zrange(this.keys.checkpoints, 0, -(Math.max(1, keep) + 1));
      if (old.length === 0) return;
      execOk(
        await this.redis
          .multi()
          .unlink(...old.map((s) => this.keys.checkpoint(s)))
          .zrem(this.keys.checkpoints, ...old)
          .exec(),
      );
    });
  }

  async list(): Promise<number[]> {
    const seqs = await this.op('listing compiler checkpoints', () =>
      this.redis.zrange(this.keys.checkpoints, 0, -1),
    );
    return seqs.map(Number).sort((a, b) => a - b);
  }

  async get(seq: number): Promise<Uint8Array | null> {
    return this.op(`reading the compiler checkpoint at sequence ${seq}`, () =>
      this.redis.getBuffer(this.keys.checkpoint(seq)),
    );
  }
}

/** Throws the first error of a MULTI (or its abort). */
function execOk(results: [Error | null, unknown][] | null): void {
  if (results === null) throw new Error('Redis transaction was aborted');
  for (const [err] of results) if (err) throw err;
}
