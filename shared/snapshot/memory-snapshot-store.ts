/**
 * In-memory {@link SnapshotStore}: the embedded store of `attache dev` and the reference
 * implementation for the contract suite. Single process, so the fenced commit is trivially atomic.
 */
import { EventEmitter } from 'node:events';
import type { CommitRecord } from './commit-record.ts';
import { type Manifest, manifestHashes } from './manifest.ts';
import type { CommitRequest, CommitResult, SnapshotLogEntry, SnapshotStore } from './snapshot-store.ts';

interface GroupState {
  epoch: number;
  head: number | null;
  manifests: Map<number, Manifest>;
  records: Map<number, CommitRecord>;
}

export class MemorySnapshotStore implements SnapshotStore {
  private readonly blobs = new Map<string, Uint8Array>();
  private readonly groupStates = new Map<string, GroupState>();
  private readonly log: SnapshotLogEntry[] = [];
  private readonly committed = new EventEmitter();
  private closed = false;

  constructor() {
    this.committed.setMaxListeners(0);
  }

  private state(group: string): GroupState {
    let s = this.groupStates.get(group);
    if (!s) {
      s = { epoch: 0, head: null, manifests: new Map(), records: new Map() };
      this.groupStates.set(group, s);
    }
    return s;
  }

  async acquireEpoch(group: string, above = 0): Promise<number> {
    const s = this.state(group);
    s.epoch = Math.max(s.epoch, above) + 1;
    return s.epoch;
  }

  async currentEpoch(group: string): Promise<number> {
    return this.groupStates.get(group)?.epoch ?? 0;
  }

  async commit(req: CommitRequest): Promise<CommitResult> {
    const { manifest } = req;
    for (const [hash, bytes] of req.blobs)
      if (!this.blobs.has(hash)) this.blobs.set(hash, Uint8Array.from(bytes));
    const s = this.state(manifest.group);
    if (req.epoch !== s.epoch) return { committed: false, reason: 'fenced', head: s.head ?? 0 };
    if (s.head !== null && manifest.version <= s.head)
      return { committed: false, reason: 'stale', head: s.head };
    const missing = manifestHashes(manifest).filter((h) => !this.blobs.has(h));
    if (missing.length > 0)
      throw new Error(`commit references ${missing.length} blobs that were not written`);
    s.manifests.set(manifest.version, structuredClone(manifest));
    if (req.record) s.records.set(manifest.version, structuredClone(req.record));
    s.head = manifest.version;
    const entry: SnapshotLogEntry = {
      id: String(this.log.length + 1),
      group: manifest.group,
      version: manifest.version,
    };
    this.log.push(entry);
    this.committed.emit('commit');
    return { committed: true, version: manifest.version };
  }

  async head(group: string): Promise<number | null> {
    return this.groupStates.get(group)?.head ?? null;
  }

  async getManifest(group: string, version: number): Promise<Manifest | null> {
    const m = this.groupStates.get(group)?.manifests.get(version);
    return m ? structuredClone(m) : null;
  }

  async getCommitRecord(group: string, version: number): Promise<CommitRecord | null> {
    const r = this.groupStates.get(group)?.records.get(version);
    return r ? structuredClone(r) : null;
  }

  async getBlobs(hashes: readonly string[]): Promise<Map<string, Uint8Array>> {
    const out = new Map<string, Uint8Array>();
    for (const h of hashes) {
      const b = this.blobs.get(h);
      if (b) out.set(h, b);
    }
    return out;
  }

  async groups(): Promise<string[]> {
    return [...this.groupStates.entries()]
      .filter(([, s]) => s.head !== null)
      .map(([g]) => g)
      .sort();
  }

  async versions(group: string): Promise<number[]> {
    return [...(this.groupStates.get(group)?.manifests.keys() ?? [])].sort((a, b) => a - b);
  }

  async logPosition(): Promise<string | undefined> {
    return this.log.length > 0 ? String(this.log.length) : undefined;
  }

  async *tail(opts: { after?: string; signal: AbortSignal }): AsyncIterable<SnapshotLogEntry> {
    let next = opts.after ? Number(opts.after) : 0;
    while (!opts.signal.aborted && !this.closed) {
      while (next < this.log.length) {
        const e = this.log[next];
        next++;
        if (e) yield e;
        if (opts.signal.aborted) return;
      }
      await new Promise<void>((resolve) => {
        const done = () => {
          this.committed.off('commit', done);
          opts.signal.removeEventListener('abort', done);
          resolve();
        };
        this.committed.on('commit', done);
        opts.signal.addEventListener('abort', done, { once: true });
      });
    }
  }

  async gc(group: string, keep: number): Promise<number> {
    const s = this.groupStates.get(group);
    if (!s) return 0;
    const versions = [...s.manifests.keys()].sort((a, b) => a - b);
    const drop = versions.slice(0, Math.max(0, versions.length - Math.max(1, keep)));
    for (const v of drop) {
      if (v === s.head) continue;
      s.manifests.delete(v);
      s.records.delete(v);
    }
    const live = new Set<string>();
    for (const st of this.groupStates.values())
      for (const m of st.manifests.values()) for (const h of manifestHashes(m)) live.add(h);
    for (const h of [...this.blobs.keys()]) if (!live.has(h)) this.blobs.delete(h);
    return drop.length;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.committed.emit('commit');
  }
}
