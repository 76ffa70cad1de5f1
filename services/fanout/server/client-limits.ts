/**
 * What one xDS client may cost the fan-out, and the defaults `attache fanout` starts with (its
 * flags; also the library defaults). Kept free of runtime imports so the command table can read
 * the defaults without loading gRPC.
 *
 * Worst case these defaults allow one client address: 256 streams x 10,000 names of up to
 * ~100 bytes is ~250 MB of subscription state, so the per-peer limit is the one to lower when
 * many untrusted clients share a network; each refusal is counted in
 * `attache_fanout_limit_hits_total{limit}`.
 */

/** Per-client limits of one server; 0 disables one. */
export interface AdsLimits {
  /** Largest request message accepted (grpc-js refuses larger ones with RESOURCE_EXHAUSTED). */
  maxRequestBytes: number;
  /** Resource names one stream may name, over all its types (RESOURCE_EXHAUSTED beyond). */
  maxNamesPerStream: number;
  /** Longest `type_url` accepted, in characters (INVALID_ARGUMENT beyond). */
  maxTypeUrlLength: number;
  /** Open streams on one client connection (address and port). */
  maxStreamsPerConnection: number;
  /** Open streams from one client address, over all its connections. */
  maxStreamsPerPeer: number;
}

export const DEFAULT_LIMITS: Readonly<AdsLimits> = {
  maxRequestBytes: 2 * 1024 * 1024,
  maxNamesPerStream: 10_000,
  maxTypeUrlLength: 256,
  maxStreamsPerConnection: 64,
  maxStreamsPerPeer: 256,
};

/**
 * Process-wide byte budgets of the fan-out's shared caches (served-set.ts): interned
 * subscriptions and served sets. What streams hold themselves is bounded by the limits above.
 */
export interface ServedSetCacheBudget {
  subscriptionBytes: number;
  servedSetBytes: number;
}

export const DEFAULT_CACHE_BUDGET: Readonly<ServedSetCacheBudget> = {
  subscriptionBytes: 32 * 1024 * 1024,
  servedSetBytes: 128 * 1024 * 1024,
};
