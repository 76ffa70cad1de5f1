/**
 * A least-recently-used map bounded by the (estimated) bytes of what it holds, not by its entry
 * count: a cache whose entries a client can make arbitrarily large (one subscription naming
 * 100,000 resources) must be bounded by what they cost. An entry larger than the whole budget is
 * not kept at all. Evictions are counted so a metric can show the bound being hit.
 */
export class ByteBoundedLru<K, V> {
  private readonly entries = new Map<K, { value: V; bytes: number }>();
  /** The entry last inserted or moved to the end (the most recently used one, if still held). */
  private newest?: { value: V; bytes: number };
  private total = 0;
  /** Entries removed to stay within the budget, or refused for being larger than it. */
  evictions = 0;

  constructor(
    private maxBytes: number,
    /** Called for each entry removed to make room (not for delete() or replacement). */
    private readonly onEvict?: (key: K, value: V) => void,
  ) {}

  get bytes(): number {
    return this.total;
  }

  get size(): number {
    return this.entries.size;
  }

  /** Changes the budget, evicting at once if the new one is smaller. */
  resize(maxBytes: number): void {
    this.maxBytes = maxBytes;
    this.shrink();
  }

  /** The value for `key`, marking it most recently used. */
  get(key: K): V | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    // Already the most recent (a push looks up the same entry for thousands of streams in a
    // row): nothing to reorder.
    if (this.newest !== e) {
      this.entries.delete(key);
      this.entries.set(key, e);
      this.newest = e;
    }
    return e.value;
  }

  /** Stores `value` as most recently used; false (and nothing stored) if it alone exceeds the budget. */
  set(key: K, value: V, bytes: number): boolean {
    this.delete(key);
    if (bytes > this.maxBytes) {
      this.evictions++;
      return false;
    }
    const e = { value, bytes };
    this.entries.set(key, e);
    this.newest = e;
    this.total += bytes;
    this.shrink();
    return true;
  }

  delete(key: K): void {
    const e = this.entries.get(key);
    if (!e) return;
    this.entries.delete(key);
    this.total -= e.bytes;
  }

  clear(): void {
    this.entries.clear();
    this.total = 0;
  }

  private shrink(): void {
    while (this.total > this.maxBytes) {
      const oldest = this.entries.entries().next();
      if (oldest.done) break;
      const [key, e] = oldest.value;
      this.entries.delete(key);
      this.total -= e.bytes;
      this.evictions++;
      this.onEvict?.(key, e.value);
    }
  }
}
