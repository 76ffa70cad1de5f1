/**
 * The fan-out's copy of every group's current snapshot. It follows the snapshot store: on start
 * it loads each group's head, then tails the snapshot log; for each newer (group, version) it
 * reads the manifest, fetches only the blobs whose hash it does not hold, packs them into `Any`
 * bytes once, and swaps the group's snapshot atomically before telling its listeners. A resource
 * stored in chunks (shared/snapshot/resource-chunks.ts) is assembled from its chunks, of which
 * only those no held resource has are fetched and hashed: a route configuration of megabytes
 * whose one route changed costs a few kilobytes of reads and hashing, and one copy.
 *
 * Contract: a group's snapshot never goes backwards (a log entry at or below the current version
 * is ignored without I/O); a snapshot is installed only when every blob it references was fetched
 * and matched its hash, so a partial snapshot is never served; blobs that no current snapshot
 * references are dropped.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import { errorMessage } from '../../../shared/runtime/errors.ts';
import type { Logger } from '../../../shared/runtime/logger.ts';
import { RetryBackoff } from '../../../shared/runtime/retry.ts';
import type { Runner } from '../../../shared/runtime/runner.ts';
import type { KeyRing } from '../../../shared/runtime/secret-keys.ts';
import type { Manifest } from '../../../shared/snapshot/manifest.ts';
import { chunkedResourceHash } from '../../../shared/snapshot/resource-chunks.ts';
import { openSecretBlob } from '../../../shared/snapshot/sealed-blobs.ts';
import type { SnapshotStore } from '../../../shared/snapshot/snapshot-store.ts';
import { resourceHash, sha256Hex } from '../../../shared/xds/encoding.ts';
import { isTypeUrl, SECRET_TYPE, type TypeUrl } from '../../../shared/xds/type-urls.ts';
import type {
  CachedResource,
  GroupSnapshot,
  SnapshotListener,
  SnapshotSource,
  TypeSnapshot,
} from './group-snapshot.ts';
import { packAnyBytes, packAnyParts } from './pack-any.ts';

export interface SnapshotCacheOptions {
  store: SnapshotStore;
  log: Logger;
  registry: Registry;
  /** Pause before re-opening the tail after a store error. */
  retryDelayMs?: number;
  /** Opens sealed SDS blobs (shared/snapshot/sealed-blobs.ts). */
  secretKeys?: KeyRing;
}

interface HeldBlob {
  any: Uint8Array;
  /** Number of entries in current type snapshots that reference this hash. */
  refs: number;
  /** The chunk hashes it was assembled from, held while it is (resource-chunks.ts). */
  chunks?: readonly string[];
}

/** What {@link SnapshotCache.fetchMissing} fetched: packed resources and the new chunks' bytes. */
interface Fetched {
  packed: Map<string, Uint8Array>;
  chunks: Map<string, Uint8Array>;
}

export class SnapshotCache implements Runner, SnapshotSource {
  readonly name = 'snapshot-cache';
  private readonly snapshots = new Map<string, GroupSnapshot>();
  private readonly blobs = new Map<string, HeldBlob>();
  /** Chunks of the held resources stored in chunks, by hash; refs = held resources listing them. */
  private readonly chunks = new Map<string, { bytes: Uint8Array; refs: number }>();
  private readonly listeners = new Set<SnapshotListener>();
  private readonly log: Logger;
  private readonly versionGauge: Gauge<'group'>;
  private readonly blobGauge: Gauge;
  private readonly fetchedCounter: Counter;
  private abort?: AbortController;
  private loop?: Promise<void>;
  /** Log position of the last entry handled; the tail resumes after it. */
  private lastLogId?: string;
  private running = false;

  constructor(private readonly opts: SnapshotCacheOptions) {
    this.log = opts.log.child({ component: 'snapshot-cache' });
    this.versionGauge = new Gauge({
      name: 'attache_fanout_snapshot_version',
      help: 'Snapshot version currently held, per group',
      labelNames: ['group'],
      registers: [opts.registry],
    });
    this.blobGauge = new Gauge({
      name: 'attache_fanout_cached_blobs',
      help: 'Encoded resources held in memory',
      registers: [opts.registry],
    });
    this.fetchedCounter = new Counter({
      name: 'attache_fanout_blobs_fetched_total',
      help: 'Encoded resources fetched from the snapshot store',
      registers: [opts.registry],
    });
  }

  /**
   * Loads every group's head, then follows the snapshot log in the background from the position
   * taken before the heads were read (a commit in between is seen twice and skipped as not newer).
   */
  async start(): Promise<void> {
    this.lastLogId = await this.opts.store.logPosition();
    await this.loadHeads();
    const abort = new AbortController();
    this.abort = abort;
    this.running = true;
    this.loop = this.follow(abort.signal);
  }

  ready(): boolean {
    return this.running;
  }

  async close(): Promise<void> {
    this.running = false;
    this.abort?.abort();
    await this.loop;
    this.loop = undefined;
  }

  current(group: string): GroupSnapshot | undefined {
    return this.snapshots.get(group);
  }

  /** Groups with a snapshot, sorted. */
  groups(): string[] {
    return [...this.snapshots.keys()].sort();
  }

  /** Number of distinct encoded resources held (for debug output and tests). */
  get blobCount(): number {
    return this.blobs.size;
  }

  subscribe(listener: SnapshotListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private async loadHeads(): Promise<void> {
    for (const group of await this.opts.store.groups()) {
      const head = await this.opts.store.head(group);
      if (head !== null) await this.apply(group, head);
    }
  }

  /**
   * Tails the log from where start() left it, resuming after the last handled entry when the store fails; after a failure the
   * heads are reloaded in case entries were trimmed meanwhile.
   */
  private async follow(signal: AbortSignal): Promise<void> {
    // A fixed pause (default 1 s), jittered so fan-out nodes that lost Redis together do not return together.
    const delay = this.opts.retryDelayMs ?? 1000;
    const retry = new RetryBackoff({ initialMs: delay, maxMs: delay, factor: 1 });
    while (!signal.aborted) {
      try {
        for await (const entry of this.opts.store.tail({ after: this.lastLogId, signal })) {
          await this.apply(entry.group, entry.version);
          this.lastLogId = entry.id;
        }
        if (signal.aborted) return;
        this.log.warn('snapshot log tail ended; reopening');
      } catch (err) {
        if (signal.aborted) return;
        this.log.warn({ err: errorMessage(err) }, 'snapshot log tail failed; retrying');
      }
      await retry.wait(signal);
      if (signal.aborted) return;
      try {
        await this.loadHeads();
      } catch (err) {
        this.log.warn({ err: errorMessage(err) }, 'reloading heads failed; retrying');
      }
    }
  }

  /** Brings `group` to `version` if that is newer. Store errors throw; bad data is logged and skipped. */
  private async apply(group: string, version: number): Promise<void> {
    const previous = this.snapshots.get(group);
    if (previous && version <= previous.version) return;
    const manifest = await this.opts.store.getManifest(group, version);
    if (!manifest) {
      // Collected already: a newer version superseded it and its own log entry follows.
      this.log.debug({ group, version }, 'manifest no longer stored; skipping');
      return;
    }
    const fetched = await this.fetchMissing(manifest);
    if (!fetched) return;
    this.install(manifest, previous, fetched);
  }

  /**
   * Fetches and packs the blobs the manifest needs that are not held (for a resource stored in
   * chunks, the chunks no held resource has); null if any is unusable.
   */
  private async fetchMissing(manifest: Manifest): Promise<Fetched | null> {
    const typeOf = new Map<string, TypeUrl>();
    const chunked = new Map<string, { typeUrl: TypeUrl; chunks: readonly string[] }>();
    const wanted = new Set<string>();
    for (const [typeUrl, tm] of Object.entries(manifest.types)) {
      if (!isTypeUrl(typeUrl) || !tm) continue;
      for (const e of tm.resources) {
        if (this.blobs.has(e.hash)) continue;
        if (!e.chunks) {
          typeOf.set(e.hash, typeUrl);
          continue;
        }
        chunked.set(e.hash, { typeUrl, chunks: e.chunks });
        for (const c of e.chunks) if (!this.chunks.has(c)) wanted.add(c);
      }
    }
    const packed = new Map<string, Uint8Array>();
    const fetched: Fetched = { packed, chunks: new Map() };
    if (typeOf.size === 0 && chunked.size === 0) return fetched;
    const got = await this.opts.store.getBlobs([...typeOf.keys(), ...wanted]);
    this.fetchedCounter.inc(got.size);
    const unusable = (hash: string, reason: string): null => {
      this.log.error(
        { group: manifest.group, version: manifest.version, hash, reason },
        'snapshot references an unusable blob; keeping the previous snapshot',
      );
      return null;
    };
    for (const c of wanted) {
      const bytes = got.get(c);
      if (!bytes) return unusable(c, 'chunk missing');
      if (sha256Hex(bytes) !== c) return unusable(c, 'chunk hash mismatch');
      fetched.chunks.set(c, bytes);
    }
    for (const [hash, { typeUrl, chunks }] of chunked) {
      // Sealed secrets are stored whole; a chunk list must hash to the entry's hash.
      if (typeUrl === SECRET_TYPE) return unusable(hash, 'a secret stored in chunks');
      if (chunkedResourceHash(typeUrl, chunks) !== hash) return unusable(hash, 'chunk list mismatch');
      const parts = chunks.map((c) => (this.chunks.get(c)?.bytes ?? fetched.chunks.get(c)) as Uint8Array);
      packed.set(hash, packAnyParts(typeUrl, parts));
    }
    for (const [hash, typeUrl] of typeOf) {
      let bytes = got.get(hash);
      let reason = bytes ? 'hash mismatch' : 'missing';
      if (bytes && typeUrl === SECRET_TYPE) {
        try {
          bytes = openSecretBlob(hash, bytes, this.opts.secretKeys);
        } catch (err) {
          bytes = undefined;
          reason = errorMessage(err);
        }
      }
      if (!bytes || resourceHash(typeUrl, bytes) !== hash) {
        this.log.error(
          {
            group: manifest.group,
            version: manifest.version,
            hash,
            reason,
          },
          'snapshot references an unusable blob; keeping the previous snapshot',
        );
        return null;
      }
      packed.set(hash, packAnyBytes(typeUrl, bytes));
    }
    return fetched;
  }

  private install(manifest: Manifest, previous: GroupSnapshot | undefined, fetched: Fetched): void {
    const { packed } = fetched;
    const chunkLists = new Map<string, readonly string[]>();
    const types = new Map<TypeUrl, TypeSnapshot>();
    const added: TypeSnapshot[] = [];
    for (const [typeUrl, tm] of Object.entries(manifest.types)) {
      if (!isTypeUrl(typeUrl) || !tm) continue;
      const old = previous?.types.get(typeUrl);
      if (old && old.version === tm.version) {
        types.set(typeUrl, old);
        continue;
      }
      const resources = new Map<string, CachedResource>();
      for (const e of tm.resources) {
        // An unchanged resource keeps its object, so whatever was derived from it once (delta
        // `Resource` bytes) is reused across versions.
        const kept = old?.resources.get(e.name);
        if (kept && kept.hash === e.hash && kept.onDemand === (e.onDemand === true)) {
          resources.set(e.name, kept);
          continue;
        }
        const any = this.blobs.get(e.hash)?.any ?? packed.get(e.hash);
        if (!any) throw new Error(`internal: blob ${e.hash} neither held nor fetched`);
        if (e.chunks) chunkLists.set(e.hash, e.chunks);
        resources.set(e.name, { name: e.name, hash: e.hash, any, onDemand: e.onDemand === true });
      }
      const snap: TypeSnapshot = { typeUrl, version: tm.version, resources };
      types.set(typeUrl, snap);
      added.push(snap);
    }
    const next: GroupSnapshot = { group: manifest.group, version: manifest.version, types };
    for (const t of added) for (const r of t.resources.values()) this.retain(r, chunkLists, fetched.chunks);
    for (const t of previous?.types.values() ?? [])
      if (types.get(t.typeUrl) !== t) for (const r of t.resources.values()) this.release(r.hash);
    this.snapshots.set(manifest.group, next);
    this.versionGauge.set({ group: manifest.group }, manifest.version);
    this.blobGauge.set(this.blobs.size);
    this.log.info(
      { group: manifest.group, version: manifest.version, changedTypes: added.length, fetched: packed.size },
      'snapshot installed',
    );
    for (const listener of this.listeners) {
      try {
        listener(next, previous);
      } catch (err) {
        this.log.error({ err: errorMessage(err), group: manifest.group }, 'snapshot listener failed');
      }
    }
  }

  private retain(
    r: CachedResource,
    chunkLists: ReadonlyMap<string, readonly string[]>,
    fetchedChunks: ReadonlyMap<string, Uint8Array>,
  ): void {
    const held = this.blobs.get(r.hash);
    if (held) {
      held.refs++;
      return;
    }
    const chunks = chunkLists.get(r.hash);
    this.blobs.set(r.hash, chunks ? { any: r.any, refs: 1, chunks } : { any: r.any, refs: 1 });
    for (const c of chunks ?? []) {
      const chunk = this.chunks.get(c);
      if (chunk) chunk.refs++;
      else this.chunks.set(c, { bytes: fetchedChunks.get(c) as Uint8Array, refs: 1 });
    }
  }

  private release(hash: string): void {
    const held = this.blobs.get(hash);
    if (!held) return;
    held.refs--;
    if (held.refs > 0) return;
    this.blobs.delete(hash);
    for (const c of held.chunks ?? []) {
      const chunk = this.chunks.get(c);
      if (chunk && --chunk.refs <= 0) this.chunks.delete(c);
    }
  }

  /** Number of chunks held for resources stored in chunks (for tests). */
  get chunkCount(): number {
    return this.chunks.size;
  }
}
