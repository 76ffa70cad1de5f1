/** Redis Lua scripts run by SHA, so the script body crosses the wire once per server. */
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { errorMessage } from '../runtime/errors.ts';

/** A Lua script run by EVALSHA, loaded with EVAL when Redis does not know it (e.g. after a restart). */
export class LuaScript {
  private readonly sha: string;
  constructor(private readonly source: string) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  async run(redis: Redis, keys: readonly string[], args: readonly (string | Buffer | number)[]) {
    const tail = [keys.length, ...keys, ...args];
    try {
      return await redis.call('EVALSHA', [this.sha, ...tail]);
    } catch (err) {
      if (!errorMessage(err).startsWith('NOSCRIPT')) throw err;
      return await redis.call('EVAL', [this.source, ...tail]);
    }
  }
}
