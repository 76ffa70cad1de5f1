/**
 * {@link LeaderLease} on Redis: one string key holding the holder id with a PX expiry. Claim and
 * release are single Lua scripts (compare-and-set on the holder), so two replicas can never both
 * see themselves as the holder of an unexpired key. If Redis loses the key (flush, failover to a
 * replica that missed it), the next claim by anyone takes it afresh.
 */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import type { Redis } from 'ioredis';
import type { LeaderLease } from './leader-lease.ts';
import { LuaScript } from './lua-script.ts';

/** KEYS: lease. ARGV: holder, ttl ms. Returns 1 if the holder has the lease afterwards, else 0. */
const CLAIM_LUA = `
local cur = redis.call('GET', KEYS[1])
if cur == false or cur == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
`;

/** KEYS: lease. ARGV: holder. Deletes the lease only if the holder has it. */
const RELEASE_LUA = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

const claimScript = new LuaScript(CLAIM_LUA);
const releaseScript = new LuaScript(RELEASE_LUA);

export class RedisLeaderLease implements LeaderLease {
  readonly holder = `${os.hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;

  constructor(
    private readonly redis: Redis,
    private readonly key: string,
    readonly ttlMs: number,
  ) {}

  async claim(): Promise<boolean> {
    return Number(await claimScript.run(this.redis, [this.key], [this.holder, Math.ceil(this.ttlMs)])) === 1;
  }

  async release(): Promise<void> {
    await releaseScript.run(this.redis, [this.key], [this.holder]);
  }
}
