/**
 * {@link SnapshotStore} on Redis: the production store shared by the compiler (writer) and the
 * fan-out nodes (readers). Key layout in `redis-keys.ts`.
 *
 * Manifests are stored with their type lists in content-addressed pieces (stored-manifest.ts),
 * so a commit that changed a few resources writes kilobytes; `getManifest` reassembles them (and
 * still reads manifests stored whole), and gc's mark phase reads the pieces too.
 *
 * Commit: blobs are written first (pipelined SET NX, skipping blobs Redis already holds), then one
 * Lua script checks the fencing epoch, that the version increases and that every referenced blob
 * exists, and only then stores the manifest, moves the head, appends to the snapshot log and
 * stores the commit record. A commit based on the head with a few small new blobs hands them to
 * the script itself (SET NX there), so it is one round trip.
 * The blob check is what makes a concurrent {@link RedisSnapshotStore.gc} safe: if gc swept a blob
 * between the write and the script, the script reports it missing and commit retries once with
 * every referenced blob it was given passed to the script itself, which writes the absent ones in
 * the same atomic step, so the retry cannot be raced again.
 *
 * Every Redis failure surfaces as a {@link DependencyError} naming the Redis address and the
 * operation; the client reconnects on its own, so the caller's next call may succeed.
 */
import { Redis } from 'ioredis';
import type { RedisSecurity, RedisSentinel } from '../runtime/connection-flags.ts';
import { AttacheError, DependencyError, errorMessage } from '../runtime/errors.ts';
import type { Logger } from '../runtime/logger.ts';
import { RetryBackoff } from '../runtime/retry.ts';
import { sha256Hex } from '../xds/encoding.ts';
import type { CheckpointStore } from './checkpoint-store.ts';
import { type CommitRecord, decodeCommitRecord, encodeCommitRecord } from './commit-record.ts';
import type { LeaderLease } from './leader-lease.ts';
import { LuaScript } from './lua-script.ts';
import { MANIFEST_SCHEMA, type Manifest, type ManifestEntry, manifestHashes } from './manifest.ts';
import { RedisCheckpointStore } from './redis-checkpoint-store.ts';
import { RedisKeys } from './redis-keys.ts';
import { RedisLeaderLease } from './redis-leader-lease.ts';
import type { CommitRequest, CommitResult, SnapshotLogEntry, SnapshotStore } from './snapshot-store.ts';
import {
  assembleManifest,
  decodePiece,
  parseStored,
  splitManifest,
  storedPieceHashes,
} from './stored-manifest.ts';

export interface RedisSnapshotStoreOptions {
  /** `redis://[user:password@]host:port[/db]` (`rediss://` for TLS) */
  url: string;
  /** ACL user, password and TLS (shared/runtime/connection-flags.ts). */
  security?: RedisSecurity;
  /**
   * Redis Sentinel: the primary is looked up from the sentinels (the host in `url` is ignored)
   * and followed across failovers.
   */
  sentinel?: RedisSentinel;
  /** Key prefix; several installations can share one Redis under different prefixes. */
  prefix?: string;
  log: Logger;
  /** Approximate number of entries the snapshot log keeps (XADD MAXLEN ~). */
  logMaxLen?: number;
  /** How long one Redis command may take before it fails with a DependencyError. */
  commandTimeoutMs?: number;
}

const DEFAULT_LOG_MAX_LEN = 100_000;
const DEFAULT_COMMAND_TIMEOUT_MS = 5_000;
/** Commands per pipeline / keys per MGET or script call: bounds client memory and server latency. */
const BATCH = 1_000;
/**
 * Manifests per MGET in gc's mark phase: a manifest is ~0.5 MB at 10,000 Mappings, so one MGET of
 * every retained version (50 per group by default) would be a reply of tens of megabytes that
 * holds up the commands queued behind it on the connection (the next commit's).
 */
const MANIFEST_BATCH = 8;
/** KEYS and ARGV of the commit script before its blob keys and (index, bytes) pairs. */
const COMMIT_FIXED_KEYS = 8;
const COMMIT_FIXED_ARGS = 8;
/** At most this many new blobs, of at most this many bytes in all, go inside the commit script. */
const INLINE_BLOBS = 64;
/** A one-Mapping change at 10,000 Mappings rewrites ~3.9 MB of route configurations. */
const INLINE_BYTES = 8 << 20;
/** How long one XREAD blocks; the client-side guard adds a grace period on top. */
const TAIL_BLOCK_MS = 5_000;
/** Manifest pieces (~3.5 KB of entries each) a reader keeps parsed, newest used first. */
const PIECE_CACHE = 8_192;

/**
 * KEYS: epoch, head, manifest, versions, groups, log, commits, commit record, blob…
 * ARGV: epoch, version, manifest bytes, group, log max length, nudge channel, base version ('' for
 * none: the blob keys are every hash of the manifest; else only those the base lacks, valid while
 * the head is the base), commit record ('' for none), then optional (index, bytes) pairs: blobs to
 * write (SET NX) before the check, each by its 1-based position among the blob keys.
 * Returns {'ok', id} | {'fenced', head} | {'stale', head} | {'rebase', head} (the head is not the
 * base) | {'missing', index…}, each index being the 1-based position of a missing blob among the
 * blob keys. The commit record is written last, once the snapshot is committed: it only explains
 * the version, and is never the reason one is not served.
 */
const COMMIT_LUA = `
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local head = redis.call('GET', KEYS[2])
if tonumber(ARGV[1]) ~= current then return {'fenced', head or '0'} end
if head and tonumber(ARGV[2]) <= tonumber(head) then return {'stale', head} end
if ARGV[7] ~= '' and head ~= ARGV[7] then return {'rebase', head or '0'} end
for j = 9, #ARGV, 2 do redis.call('SET', KEYS[8 + tonumber(ARGV[j])], ARGV[j + 1], 'NX') end
local missing = {'missing'}
for i = 9, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 0 then missing[#missing + 1] = i - 8 end
end
if #missing > 1 then return missing end
redis.call('SET', KEYS[3], ARGV[3])
redis.call('ZADD', KEYS[4], ARGV[2], ARGV[2])
redis.call('SET', KEYS[2], ARGV[2])
redis.call('SADD', KEYS[5], ARGV[4])
redis.call('INCR', KEYS[7])
local id = redis.call('XADD', KEYS[6], 'MAXLEN', '~', ARGV[5], '*', 'group', ARGV[4], 'version', ARGV[2])
redis.call('PUBLISH', ARGV[6], cjson.encode({id = id, group = ARGV[4], version = ARGV[2]}))
if ARGV[8] ~= '' then redis.call('SET', KEYS[8], ARGV[8]) end
return {'ok', id}
`;

/**
 * KEYS: commits, blob…  ARGV: the commit counter read before the mark phase.
 * Deletes the blobs only if no commit happened since the mark began (a commit after it may
 * reference blobs the mark did not see); returns the number deleted, or -1 if one did.
 */
const SWEEP_LUA = `
if (redis.call('GET', KEYS[1]) or '0') ~= ARGV[1] then return -1 end
local n = 0
for i = 2, #KEYS do n = n + redis.call('UNLINK', KEYS[i]) end
return n
`;

/**
 * KEYS: blob…  Returns one character per key, '1' if it exists, else '0'. One script call answers
 * for a thousand keys about ten times faster than a pipeline of a thousand EXISTS.
 */
const PROBE_LUA = `
local out = {}
for i = 1, #KEYS do out[i] = redis.call('EXISTS', KEYS[i]) end
return table.concat(out)
`;

/** KEYS: epoch. ARGV: floor. Sets the epoch to max(current, floor) + 1 and returns it. */
const EPOCH_LUA = `
local e = tonumber(redis.call('GET', KEYS[1]) or '0')
local floor = tonumber(ARGV[1])
if e < floor then e = floor end
e = e + 1
redis.call('SET', KEYS[1], e)
return e
`;

const epochScript = new LuaScript(EPOCH_LUA);
const commitScript = new LuaScript(COMMIT_LUA);
const sweepScript = new LuaScript(SWEEP_LUA);
const probeScript = new LuaScript(PROBE_LUA);

export class RedisSnapshotStore implements SnapshotStore {
  private readonly keys: RedisKeys;
  private readonly tails = new Set<Redis>();
  private closed = false;
  /**
   * gc's mark phase, remembered between runs: the blob hashes a manifest references, by the
   * SHA-256 of the manifest's bytes as read. Hashing the bytes costs a tenth of parsing them
   * (0.3 ms vs 2-8 ms for a 0.5 MB manifest), and each gc reads the same retained manifests
   * again; keying by content keeps the result exact whatever rewrote a key. Holds only the
   * manifests the latest mark read.
   */
  private markCache = new Map<string, Referenced>();
  /** Parsed manifest pieces by hash (immutable, content-addressed), least recently used first. */
  private readonly pieceCache = new Map<string, readonly ManifestEntry[]>();
  /**
   * Per group, the manifest this store last committed and the hashes of its pieces: while the
   * head is that version its pieces are stored (the head is never collected), so a commit on top
   * of it neither sends nor checks the pieces it shares with it.
   */
  private readonly lastStored = new Map<
    string,
    { version: number; manifest: Manifest; pieces: Set<string> }
  >();

  private constructor(
    private readonly redis: Redis,
    private readonly where: string,
    private readonly health: ConnectionHealth,
    prefix: string,
    private readonly log: Logger,
    private readonly logMaxLen: number,
  ) {
    this.keys = new RedisKeys(prefix);
    redis.on('end', () => this.reconnectAfterEnd(redis, 'snapshot store'));
  }

  /**
   * ioredis stops reconnecting for good (status `end`) when a reconnection is interrupted before
   * it got a connection, e.g. a Sentinel lookup cut short by a disconnect during a failover; every
   * later command then fails with "Connection is closed". Until the store is closed, connect again.
   */
  private reconnectAfterEnd(conn: Redis, what: string): void {
    if (this.closed) return;
    this.log.warn({ connection: what }, 'Redis client gave up reconnecting; connecting again in 1 s');
    setTimeout(() => {
      if (!this.closed && conn.status === 'end') conn.connect().catch(() => {});
    }, 1000).unref();
  }

  /** Connects and waits until Redis answers; fails with a DependencyError if it cannot. */
  static async connect(opts: RedisSnapshotStoreOptions): Promise<RedisSnapshotStore> {
    const where = opts.sentinel
      ? `sentinel primary ${JSON.stringify(opts.sentinel.name)} via ${opts.sentinel.sentinels.map((s) => `${s.host}:${s.port}`).join(',')}`
      : redisAddress(opts.url);
    const log = opts.log.child({ component: 'redis-snapshot-store', redis: where });
    const redis = new Redis(opts.url, {
      ...opts.security,
      lazyConnect: true,
      connectionName: 'attache-snapshot-store',
      // Fail fast while Redis is away (the caller keeps the last good state and retries);
      // the connection itself keeps reconnecting in the background.
      maxRetriesPerRequest: 1,
      commandTimeout: opts.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS,
      ...(opts.sentinel
        ? {
            sentinels: opts.sentinel.sentinels,
            name: opts.sentinel.name,
          }
        : {}),
      // A primary demoted to replica refuses writes: reconnect (to the new primary, through the
      // sentinels) and resend the command.
      reconnectOnError: (err: Error) => (err.message.startsWith('READONLY') ? 2 : false),
    });
    const health = new ConnectionHealth(redis, log, opts.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS);
    try {
      await redis.connect();
    } catch (err) {
      redis.disconnect();
      throw new DependencyError(
        `cannot connect to Redis at ${where} for the snapshot store: ${health.explain(err)}; check that Redis is running and reachable from this host`,
        { cause: err },
      );
    }
    return new RedisSnapshotStore(
      redis,
      where,
      health,
      opts.prefix ?? 'attache:',
      log,
      opts.logMaxLen ?? DEFAULT_LOG_MAX_LEN,
    );
  }

  /**
   * A leader lease named `name` kept in this store's Redis (same connection, same failover), for
   * replicas that take turns committing to it.
   */
  leaderLease(name: string, ttlMs: number): LeaderLease {
    return new RedisLeaderLease(this.redis, this.keys.lease(name), ttlMs);
  }

  /** The compiler's checkpoints, kept in this store's Redis under the same prefix. */
  checkpoints(): CheckpointStore {
    return new RedisCheckpointStore(this.redis, this.keys, (what, fn) => this.op(what, fn));
  }

  async acquireEpoch(group: string, above = 0): Promise<number> {
    return this.op(`acquiring a fencing epoch for group ${JSON.stringify(group)}`, async () =>
      Number(await epochScript.run(this.redis, [this.keys.epoch(group)], [Math.max(0, Math.floor(above))])),
    );
  }

  async currentEpoch(group: string): Promise<number> {
    const v = await this.op(`reading the fencing epoch of group ${JSON.stringify(group)}`, () =>
      this.redis.get(this.keys.epoch(group)),
    );
    return v === null ? 0 : Number(v);
  }

  async commit(req: CommitRequest): Promise<CommitResult> {
    const { manifest } = req;
    const what = `committing group ${JSON.stringify(manifest.group)} version ${manifest.version}`;
    if (!Number.isSafeInteger(manifest.version) || manifest.version < 0)
      throw new AttacheError(`${what}: the version must be a non-negative integer`);
    return this.op(what, async () => {
      // The manifest is stored in pieces (stored-manifest.ts), written beside the resources.
      const last = this.lastStored.get(manifest.group);
      const stored = splitManifest(manifest, last?.manifest);
      const pieceBlobs = new Map<string, Uint8Array>();
      for (const p of stored.pieces) pieceBlobs.set(p.hash, p.bytes);
      const pieceHashes = new Set(pieceBlobs.keys());
      const blobs = new OverlayMap(req.blobs, pieceBlobs);
      const allHashes = () => [...new Set([...manifestHashes(manifest), ...pieceHashes])];
      // With a base that is still the head, only the hashes it lacks need probing and checking.
      let base = req.base;
      let hashes: string[];
      if (base) {
        const knownPieces = last && last.version === base.version ? last.pieces : undefined;
        if (base.manifest && base.manifest.version === base.version) {
          hashes = newHashes(manifest, base.manifest);
          for (const h of pieceHashes) if (!knownPieces?.has(h)) hashes.push(h);
        } else {
          const known = base.hashes;
          hashes = manifestHashes(manifest).filter((h) => !known.has(h));
          for (const h of pieceHashes) if (!knownPieces?.has(h) && !known.has(h)) hashes.push(h);
        }
        hashes = [...new Set(hashes)];
      } else hashes = allHashes();
      // A few small new blobs (an endpoint or Mapping change on top of the head) travel inside
      // the commit script, which writes them with SET NX as writeBlobs would: one round trip per
      // commit instead of three (probe, write, commit).
      const inline = base ? inlineBlobs(blobs, hashes) : undefined;
      if (!inline) await this.writeBlobs(blobs, base ? new Set(hashes) : undefined);
      const keys = [
        this.keys.epoch(manifest.group),
        this.keys.head(manifest.group),
        this.keys.manifest(manifest.group, manifest.version),
        this.keys.versions(manifest.group),
        this.keys.groups,
        this.keys.log,
        this.keys.commits,
        this.keys.commitRecord(manifest.group, manifest.version),
        ...hashes.map((h) => this.keys.blob(h)),
      ];
      const args: (string | number | Buffer)[] = [
        String(req.epoch),
        String(manifest.version),
        asBuffer(stored.bytes),
        manifest.group,
        this.logMaxLen,
        this.keys.nudgeChannel,
        base ? String(base.version) : '',
        req.record ? encodeCommitRecord(req.record) : '',
        ...(inline ?? []),
      ];
      for (let attempt = 1; ; attempt++) {
        const reply = (await commitScript.run(this.redis, keys, args)) as [string, ...unknown[]];
        const [status, ...rest] = reply;
        if (status === 'rebase' && base) {
          // The head is not the base any more: check every hash, as a commit without a base does.
          base = undefined;
          hashes = allHashes();
          await this.writeBlobs(blobs);
          keys.splice(
            COMMIT_FIXED_KEYS,
            keys.length - COMMIT_FIXED_KEYS,
            ...hashes.map((h) => this.keys.blob(h)),
          );
          args.length = COMMIT_FIXED_ARGS;
          args[6] = '';
          attempt--;
          continue;
        }
        if (status === 'ok') {
          this.lastStored.set(manifest.group, { version: manifest.version, manifest, pieces: pieceHashes });
          return { committed: true, version: manifest.version };
        }
        if (status === 'fenced' || status === 'stale')
          return { committed: false, reason: status, head: Number(rest[0]) };
        const missing = rest.map((i) => hashes[Number(i) - 1] as string);
        const unknown = missing.filter((h) => !blobs.has(h));
        if (unknown.length > 0)
          throw new AttacheError(
            `${what}: the manifest references ${unknown.length} blobs that were neither provided nor stored (first: ${unknown[0]}); the commit was refused`,
          );
        if (attempt >= 2)
          throw new DependencyError(
            `${what}: ${missing.length} blobs are missing from Redis right after the commit script wrote them; check that maxmemory-policy is noeviction`,
          );
        this.log.warn(
          { group: manifest.group, version: manifest.version, missing: missing.length },
          'blobs vanished before commit (concurrent gc?); retrying with the blobs inline',
        );
        args.length = COMMIT_FIXED_ARGS;
        hashes.forEach((h, i) => {
          const bytes = blobs.get(h);
          if (bytes) args.push(i + 1, asBuffer(bytes));
        });
      }
    });
  }

  /**
   * Writes blobs with pipelined SET NX, first asking which already exist (the probe script) so
   * that a snapshot that changed one resource sends one blob, not all of them.
   */
  private async writeBlobs(
    blobs: ReadonlyMap<string, Uint8Array>,
    only?: ReadonlySet<string>,
  ): Promise<void> {
    const batches = chunks(only ? [...blobs].filter(([hash]) => only.has(hash)) : [...blobs], BATCH);
    const present = await Promise.all(
      batches.map((b) =>
        probeScript.run(
          this.redis,
          b.map(([hash]) => this.keys.blob(hash)),
          [],
        ),
      ),
    );
    const absent = batches.flatMap((b, i) => b.filter((_, j) => String(present[i])[j] !== '1'));
    await Promise.all(
      chunks(absent, BATCH).map(async (batch) => {
        const pipe = this.redis.pipeline();
        for (const [hash, bytes] of batch) pipe.set(this.keys.blob(hash), asBuffer(bytes), 'NX');
        pipelineResults(await pipe.exec());
      }),
    );
  }

  async head(group: string): Promise<number | null> {
    const v = await this.op(`reading the head of group ${JSON.stringify(group)}`, () =>
      this.redis.get(this.keys.head(group)),
    );
    return v === null ? null : Number(v);
  }

  async getManifest(group: string, version: number): Promise<Manifest | null> {
    const bytes = await this.op(`reading group ${JSON.stringify(group)} manifest ${version}`, () =>
      this.redis.getBuffer(this.keys.manifest(group, version)),
    );
    if (bytes === null) return null;
    const read = parseStored(bytes);
    if ('whole' in read) return read.whole;
    const pieces = await this.op(`reading group ${JSON.stringify(group)} manifest ${version}'s pieces`, () =>
      this.pieces(storedPieceHashes(read.stored)),
    );
    return assembleManifest(read.stored, pieces);
  }

  /**
   * Manifest pieces by hash, from the cache or Redis; a missing piece is absent from the result.
   * Pieces are immutable, so a cached one is always right.
   */
  private async pieces(hashes: readonly string[]): Promise<Map<string, readonly ManifestEntry[]>> {
    const out = new Map<string, readonly ManifestEntry[]>();
    const absent: string[] = [];
    for (const h of hashes) {
      const hit = this.pieceCache.get(h);
      if (hit) {
        this.pieceCache.delete(h);
        this.pieceCache.set(h, hit);
        out.set(h, hit);
      } else absent.push(h);
    }
    for (let i = 0; i < absent.length; i += BATCH) {
      const batch = [...new Set(absent.slice(i, i + BATCH))];
      const values = await this.redis.mgetBuffer(batch.map((h) => this.keys.blob(h)));
      values.forEach((v, j) => {
        if (v === null) return;
        const entries = decodePiece(v);
        const h = batch[j] as string;
        out.set(h, entries);
        this.pieceCache.set(h, entries);
      });
    }
    while (this.pieceCache.size > PIECE_CACHE) {
      const oldest = this.pieceCache.keys().next().value as string;
      this.pieceCache.delete(oldest);
    }
    return out;
  }

  async getCommitRecord(group: string, version: number): Promise<CommitRecord | null> {
    const text = await this.op(`reading group ${JSON.stringify(group)} commit record ${version}`, () =>
      this.redis.get(this.keys.commitRecord(group, version)),
    );
    return text === null ? null : decodeCommitRecord(text);
  }

  async getBlobs(hashes: readonly string[]): Promise<Map<string, Uint8Array>> {
    return this.op(`reading ${hashes.length} blobs`, async () => {
      const out = new Map<string, Uint8Array>();
      for (let i = 0; i < hashes.length; i += BATCH) {
        const batch = hashes.slice(i, i + BATCH);
        const values = await this.redis.mgetBuffer(batch.map((h) => this.keys.blob(h)));
        values.forEach((v, j) => {
          if (v !== null) out.set(batch[j] as string, v);
        });
      }
      return out;
    });
  }

  async groups(): Promise<string[]> {
    const groups = await this.op('listing groups', () => this.redis.smembers(this.keys.groups));
    return groups.sort();
  }

  async versions(group: string): Promise<number[]> {
    const vs = await this.op(`listing versions of group ${JSON.stringify(group)}`, () =>
      this.redis.zrange(this.keys.versions(group), 0, -1),
    );
    return vs.map(Number);
  }

  async logPosition(): Promise<string | undefined> {
    const newest = await this.op('reading the snapshot log position', () =>
      this.redis.xrevrange(this.keys.log, '+', '-', 'COUNT', 1),
    );
    return newest[0]?.[0];
  }

  /**
   * Tails the snapshot log on a dedicated connection (XREAD BLOCK holds a connection). Survives
   * Redis restarts: the connection reconnects and the read resumes after the last id seen. If
   * Redis lost its data, new entries still sort after that id because stream ids are
   * millisecond timestamps. Entries trimmed away (MAXLEN) before they were read are not
   * reported; a reader that falls that far behind should reload the heads.
   */
  async *tail(opts: { after?: string; signal: AbortSignal }): AsyncIterable<SnapshotLogEntry> {
    const { signal } = opts;
    if (opts.after !== undefined && !/^\d+(-\d+)?$/.test(opts.after))
      throw new AttacheError(`snapshot log position ${JSON.stringify(opts.after)} is not a Redis stream id`);
    let last = opts.after ?? '0-0';
    if (signal.aborted || this.closed) return;
    const conn = this.redis.duplicate({
      connectionName: 'attache-snapshot-tail',
      maxRetriesPerRequest: null,
      commandTimeout: undefined,
      // Resolve a blocked XREAD on a connection that died silently (no FIN, e.g. a paused server).
      blockingTimeout: TAIL_BLOCK_MS,
      blockingTimeoutGrace: 2_000,
    });
    const health = new ConnectionHealth(conn, this.log);
    this.tails.add(conn);
    const stop = () => conn.disconnect();
    signal.addEventListener('abort', stop, { once: true });
    // Re-reading after a failure: half a second, jittered so fan-out nodes do not retry in step.
    const retry = new RetryBackoff({ initialMs: 500, maxMs: 500, factor: 1 });
    try {
      while (!signal.aborted && !this.closed) {
        let reply: [string, [string, string[]][]][] | null;
        try {
          reply = (await conn.xread(
            'COUNT',
            BATCH,
            'BLOCK',
            TAIL_BLOCK_MS,
            'STREAMS',
            this.keys.log,
            last,
          )) as [string, [string, string[]][]][] | null;
        } catch (err) {
          if (signal.aborted || this.closed) return;
          this.log.warn({ err: health.explain(err), after: last }, 'snapshot log read failed; retrying');
          if (conn.status === 'end') conn.connect().catch(() => {});
          await retry.wait(signal);
          continue;
        }
        for (const [, entries] of reply ?? []) {
          for (const [id, fields] of entries) {
            last = id;
            const entry = logEntry(id, fields);
            if (entry) yield entry;
            else this.log.warn({ id }, 'skipping malformed snapshot log entry');
            if (signal.aborted || this.closed) return;
          }
        }
      }
    } finally {
      signal.removeEventListener('abort', stop);
      this.tails.delete(conn);
      conn.disconnect();
    }
  }

  /**
   * Deletes the group's manifests beyond the newest `keep` (at least one; never the head), then
   * sweeps blobs no stored manifest of any group references. The sweep is mark-and-sweep over
   * SCAN; each deletion batch runs only if no commit happened since its mark began (checked
   * atomically in Lua), and a commit after a deletion finds the blob missing and rewrites it.
   */
  async gc(group: string, keep: number): Promise<number> {
    return this.op(`garbage-collecting group ${JSON.stringify(group)}`, async () => {
      const keepN = Math.max(1, Math.floor(keep));
      const [head, old] = await Promise.all([
        this.redis.get(this.keys.head(group)),
        this.redis.zrange(this.keys.versions(group), 0, -(keepN + 1)),
      ]);
      const drop = old.filter((v) => v !== head);
      if (drop.length > 0) {
        const tx = this.redis.multi();
        for (let i = 0; i < drop.length; i += BATCH) {
          const batch = drop.slice(i, i + BATCH);
          tx.del(...batch.map((v) => this.keys.manifest(group, v)));
          tx.del(...batch.map((v) => this.keys.commitRecord(group, v)));
          tx.zrem(this.keys.versions(group), ...batch);
        }
        pipelineResults(await tx.exec());
      }
      const swept = await this.sweepBlobs();
      this.log.debug({ group, manifests: drop.length, blobs: swept }, 'gc done');
      return drop.length;
    });
  }

  /** Returns the number of blobs deleted, or -1 if commits kept racing the mark phase. */
  private async sweepBlobs(): Promise<number> {
    for (let attempt = 1; attempt <= 3; attempt++) {
      const mark = (await this.redis.get(this.keys.commits)) ?? '0';
      const live = new Set<string>();
      const livePieces = new Set<string>();
      const marked = new Map<string, Referenced>();
      for await (const keys of this.scan(this.keys.manifestPattern)) {
        for (const batch of chunks(keys, MANIFEST_BATCH)) {
          for (const bytes of await this.redis.mgetBuffer(batch)) {
            if (bytes === null) continue;
            const digest = sha256Hex(bytes);
            const refs = marked.get(digest) ?? this.markCache.get(digest) ?? (await this.referenced(bytes));
            if (refs === undefined) {
              this.log.warn(
                'gc: a stored manifest names a piece that is missing; nothing is swept this time',
              );
              return -1;
            }
            marked.set(digest, refs);
            for (const h of refs.hashes) live.add(h);
            // Retained versions share most pieces: each piece's entries are marked once.
            for (const piece of refs.pieces) {
              if (livePieces.has(piece.hash)) continue;
              livePieces.add(piece.hash);
              live.add(piece.hash);
              for (const e of piece.entries) {
                if (e.chunks) for (const c of e.chunks) live.add(c);
                else live.add(e.hash);
              }
            }
          }
        }
      }
      this.markCache = marked;
      let swept = 0;
      let raced = false;
      sweep: for await (const keys of this.scan(this.keys.blobPattern)) {
        const dead = keys.filter((k) => !live.has(this.keys.hashOfBlobKey(k)));
        for (let i = 0; i < dead.length; i += BATCH) {
          const n = Number(
            await sweepScript.run(this.redis, [this.keys.commits, ...dead.slice(i, i + BATCH)], [mark]),
          );
          if (n < 0) {
            raced = true;
            break sweep;
          }
          swept += n;
        }
      }
      if (!raced) return swept;
    }
    this.log.info('gc: commits kept racing the blob sweep; unreferenced blobs are left for the next gc');
    return -1;
  }

  /**
   * Every blob hash a stored manifest references: its pieces and their entries too. Undefined
   * when a piece is missing (what it listed is unknown, so nothing may be swept).
   */
  private async referenced(bytes: Uint8Array): Promise<Referenced | undefined> {
    const read = parseStored(bytes);
    if ('whole' in read) return { hashes: manifestHashes(read.whole), pieces: [] };
    const hashes = storedPieceHashes(read.stored);
    const pieces = await this.pieces(hashes);
    if (hashes.some((h) => !pieces.has(h))) return undefined;
    const { types: _, ...rest } = read.stored;
    return {
      hashes: manifestHashes({ ...rest, schema: MANIFEST_SCHEMA, types: {} }),
      pieces: hashes.map((h) => ({ hash: h, entries: pieces.get(h) as readonly ManifestEntry[] })),
    };
  }

  private async *scan(pattern: string): AsyncIterable<string[]> {
    let cursor = '0';
    do {
      const [next, keys] = await this.redis.scan(cursor, 'MATCH', pattern, 'COUNT', BATCH);
      cursor = next;
      if (keys.length > 0) yield keys;
    } while (cursor !== '0');
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const conn of this.tails) conn.disconnect();
    try {
      await this.redis.quit();
    } catch {
      this.redis.disconnect();
    }
  }

  /** Runs Redis work, turning client and server failures into an operator-readable DependencyError. */
  private async op<T>(what: string, fn: () => Promise<T>): Promise<T> {
    if (this.closed) throw new DependencyError(`${what}: the Redis snapshot store is closed`);
    try {
      return await fn();
    } catch (err) {
      if (err instanceof AttacheError) throw err;
      throw new DependencyError(
        `Redis at ${this.where} (snapshot store): ${what} failed: ${this.health.explain(err)}; check that Redis is running, reachable and accepting writes`,
        { cause: err },
      );
    }
  }
}

/** The `sentinel` option when sentinels are configured (spread into the connect options). */
export function withSentinel(sentinel: RedisSentinel | undefined): { sentinel?: RedisSentinel } {
  return sentinel ? { sentinel } : {};
}

/** host:port of a Redis URL, without credentials, for messages and logs. */
function redisAddress(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || '6379'}`;
  } catch {
    return '(invalid Redis URL)';
  }
}

/**
 * Follows one connection's state: logs the first error of an outage and the recovery (not every
 * reconnect attempt), and turns client errors into reasons an operator can act on.
 */
class ConnectionHealth {
  private lastError: string | undefined;

  constructor(
    redis: Redis,
    log: Logger,
    private readonly commandTimeoutMs?: number,
  ) {
    redis.on('error', (err: Error) => {
      if (this.lastError === undefined) log.warn({ err: err.message }, 'Redis connection lost; reconnecting');
      this.lastError = err.message;
    });
    redis.on('ready', () => {
      if (this.lastError !== undefined) log.info('Redis connection restored');
      this.lastError = undefined;
    });
  }

  explain(err: unknown): string {
    const message = errorMessage(err).replace(/\.$/, '');
    if (
      (err instanceof Error && err.name === 'MaxRetriesPerRequestError') ||
      message === 'Connection is closed'
    )
      return `Redis is unreachable (${this.lastError ?? 'connection closed'})`;
    if (message === 'Command timed out') return `Redis did not answer within ${this.commandTimeoutMs} ms`;
    return message;
  }
}

/** Results of a pipeline or MULTI; throws the first command error. */
function pipelineResults(results: [Error | null, unknown][] | null): unknown[] {
  if (results === null) throw new Error('Redis transaction was aborted');
  return results.map(([err, value]) => {
    if (err) throw err;
    return value;
  });
}

/**
 * The hashes `m` references that `base` does not, found by comparing them part by part: a type
 * list that is the same object as the base's is skipped without reading its entries. It is
 * `manifestHashes(m)` less `manifestHashes(base)`, except that a hash `base` lists under another
 * type or resource would be listed again (resource hashes include the type URL, so none is; a
 * chunk moved between resources is); a hash listed too many only costs its existence check.
 */
export function newHashes(m: Manifest, base: Manifest): string[] {
  const out: string[] = [];
  const baseOthers = new Set<string>([base.diagnostics]);
  if (base.provenance) baseOthers.add(base.provenance);
  for (const h of base.provenancePieces ?? []) baseOthers.add(h);
  if (!baseOthers.has(m.diagnostics)) out.push(m.diagnostics);
  if (m.provenance && !baseOthers.has(m.provenance)) out.push(m.provenance);
  for (const h of m.provenancePieces ?? []) if (!baseOthers.has(h)) out.push(h);
  for (const [t, tm] of Object.entries(m.types)) {
    const was = base.types[t as keyof Manifest['types']];
    if (!tm || tm === was) continue;
    if (was && newHashesInPlace(tm.resources, was.resources, out)) continue;
    const known = new Set<string>();
    for (const e of was?.resources ?? []) known.add(e.hash);
    let chunksOf: Map<string, string[] | undefined> | undefined;
    for (const e of tm.resources) {
      if (known.has(e.hash)) continue;
      if (!e.chunks) {
        out.push(e.hash);
        continue;
      }
      // A changed resource stored in chunks: only the chunks its previous version lacks are new.
      chunksOf ??= new Map((was?.resources ?? []).map((b) => [b.name, b.chunks]));
      const had = new Set(chunksOf.get(e.name));
      for (const c of e.chunks) if (!had.has(c)) out.push(c);
    }
  }
  return out;
}

/**
 * When `entries` has `was`'s names position by position (a commit that replaced a few resources),
 * pushes the hashes of the replaced entries that `was` lacks at their position and returns true,
 * without a set of every hash: unchanged entries are the very same objects and are skipped.
 * Else pushes nothing and returns false.
 */
function newHashesInPlace(
  entries: readonly ManifestEntry[],
  was: readonly ManifestEntry[],
  out: string[],
): boolean {
  if (entries.length !== was.length) return false;
  const found: string[] = [];
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i] as ManifestEntry;
    const w = was[i] as ManifestEntry;
    if (e === w) continue;
    if (e.name !== w.name) return false;
    if (e.hash === w.hash) continue;
    if (!e.chunks) found.push(e.hash);
    else {
      const had = new Set(w.chunks);
      for (const c of e.chunks) if (!had.has(c)) found.push(c);
    }
  }
  for (const h of found) out.push(h);
  return true;
}

/** What a stored manifest references: blob hashes, and its pieces with the entries they list. */
interface Referenced {
  hashes: readonly string[];
  pieces: readonly { hash: string; entries: readonly ManifestEntry[] }[];
}

/** Two maps read as one (`extra` wins), without copying the first's thousands of entries. */
class OverlayMap implements ReadonlyMap<string, Uint8Array> {
  constructor(
    private readonly base: ReadonlyMap<string, Uint8Array>,
    private readonly extra: ReadonlyMap<string, Uint8Array>,
  ) {}
  get size(): number {
    let n = this.base.size;
    for (const k of this.extra.keys()) if (!this.base.has(k)) n++;
    return n;
  }
  get(key: string): Uint8Array | undefined {
    return this.extra.get(key) ?? this.base.get(key);
  }
  has(key: string): boolean {
    return this.extra.has(key) || this.base.has(key);
  }
  *entries(): MapIterator<[string, Uint8Array]> {
    for (const e of this.extra) yield e;
    for (const e of this.base) if (!this.extra.has(e[0])) yield e;
  }
  *keys(): MapIterator<string> {
    for (const [k] of this.entries()) yield k;
  }
  *values(): MapIterator<Uint8Array> {
    for (const [, v] of this.entries()) yield v;
  }
  [Symbol.iterator](): MapIterator<[string, Uint8Array]> {
    return this.entries();
  }
  forEach(fn: (value: Uint8Array, key: string, map: ReadonlyMap<string, Uint8Array>) => void): void {
    for (const [k, v] of this.entries()) fn(v, k, this);
  }
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/**
 * The (1-based index, bytes) pairs of the commit script for `hashes`, when they are few and small
 * enough to send inline; else undefined (they are probed and written first). A hash without bytes
 * is left to the script's existence check, as writeBlobs leaves it.
 */
function inlineBlobs(
  blobs: ReadonlyMap<string, Uint8Array>,
  hashes: readonly string[],
): (number | Buffer)[] | undefined {
  if (hashes.length > INLINE_BLOBS) return undefined;
  const pairs: (number | Buffer)[] = [];
  let size = 0;
  for (let i = 0; i < hashes.length; i++) {
    const bytes = blobs.get(hashes[i] as string);
    if (!bytes) continue;
    size += bytes.byteLength;
    if (size > INLINE_BYTES) return undefined;
    pairs.push(i + 1, asBuffer(bytes));
  }
  return pairs;
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function logEntry(id: string, fields: string[]): SnapshotLogEntry | null {
  let group: string | undefined;
  let version: number | undefined;
  for (let i = 0; i + 1 < fields.length; i += 2) {
    if (fields[i] === 'group') group = fields[i + 1];
    else if (fields[i] === 'version') version = Number(fields[i + 1]);
  }
  return group !== undefined && version !== undefined && Number.isSafeInteger(version)
    ? { id, group, version }
    : null;
}
