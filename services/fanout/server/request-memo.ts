/**
 * Decoded requests shared by the streams that send the same bytes. A fleet reconnecting to a
 * replacement fan-out sends, stream after stream, the same subscription requests with the same
 * `initial_resource_versions` (only a stream's first request carries its node, and is therefore
 * its own): decoding them, up to a hundred map entries each, was a fifth of the replacement's CPU
 * in the reconnect storm of `bench:fleet`.
 *
 * Contract: a request returned here may be returned again, for this and other streams, so it is
 * shared and must never be modified (the streams only read requests). Identical bytes decode to
 * identical requests, so sharing changes no outcome. Bounded by bytes: a request's key (its bytes)
 * and an estimate of its decoded size count against the budget; requests over
 * {@link MAX_KEPT_BYTES}, and requests naming a node, are decoded every time and never kept.
 */
import { ByteBoundedLru } from './byte-bounded-lru.ts';

/** Largest request kept (larger ones are rare, and V8 hashes longer string keys by length only). */
export const MAX_KEPT_BYTES = 16 * 1024;
const DEFAULT_BUDGET_BYTES = 4 * 1024 * 1024;

export class RequestMemo<T> {
  private readonly kept: ByteBoundedLru<string, T>;
  /** Requests answered from memory (for tests and debugging). */
  hits = 0;

  constructor(
    private readonly decodeBytes: (bytes: Uint8Array) => T,
    /** Field number of `node` in the request message (DiscoveryRequest 2, DeltaDiscoveryRequest 1). */
    private readonly nodeField: number,
    budgetBytes = DEFAULT_BUDGET_BYTES,
  ) {
    this.kept = new ByteBoundedLru(budgetBytes);
  }

  /** The decoded request (shared: read-only); throws as the decoder does for a malformed one. */
  decode(bytes: Buffer): T {
    if (bytes.length === 0 || bytes.length > MAX_KEPT_BYTES || !topLevelWithout(bytes, this.nodeField)) {
      return this.decodeBytes(bytes);
    }
    const key = bytes.toString('latin1');
    const hit = this.kept.get(key);
    if (hit !== undefined) {
      this.hits++;
      return hit;
    }
    const req = this.decodeBytes(bytes);
    // The key is one byte per byte; the decoded strings take about twice the bytes they came from.
    this.kept.set(key, req, 3 * bytes.length + 256);
    return req;
  }
}

/**
 * True when `bytes` is a well-formed sequence of top-level fields, none of them field `field`
 * (anything unusual — groups, truncation — answers false: decoded, never kept).
 */
function topLevelWithout(bytes: Uint8Array, field: number): boolean {
  let pos = 0;
  const varint = (): number => {
    let value = 0;
    let mul = 1;
    for (let i = 0; i < 8; i++) {
      if (pos >= bytes.length) return -1;
      const b = bytes[pos++] as number;
      value += (b & 0x7f) * mul;
      if (b < 0x80) return value;
      mul *= 128;
    }
    return -1;
  };
  while (pos < bytes.length) {
    const tag = varint();
    if (tag < 0 || Math.floor(tag / 8) === field) return false;
    const wire = tag & 7;
    if (wire === 0) {
      if (varint() < 0) return false;
    } else if (wire === 1) pos += 8;
    else if (wire === 2) {
      const len = varint();
      if (len < 0) return false;
      pos += len;
    } else if (wire === 5) pos += 4;
    else return false;
  }
  return pos === bytes.length;
}
