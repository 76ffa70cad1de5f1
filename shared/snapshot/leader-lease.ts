/**
 * The leader lease port: one holder at a time, for a bounded time. Compiler replicas use it to
 * pick the one that commits; the others follow the log as warm standbys.
 *
 * A lease is advisory: it keeps replicas from competing, but safety rests on the snapshot store's
 * fencing epochs (a paused holder whose lease expired is fenced at its next commit). Holders must
 * renew well inside `ttlMs` and consider the lease lost once `ttlMs` passed since the start of
 * their last successful claim.
 */
export interface LeaderLease {
  /** This replica's holder id (unique per process). */
  readonly holder: string;
  readonly ttlMs: number;
  /**
   * Takes the lease if it is free or already ours, and (re)starts its expiry; true if this
   * replica holds it afterwards. Renewal is the same call.
   */
  claim(): Promise<boolean>;
  /** Gives the lease up if this replica holds it, so a standby can take over without waiting. */
  release(): Promise<void>;
}
