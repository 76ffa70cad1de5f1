/**
 * The ingestor's outbox: at most one pending state per object (a newer observation replaces the
 * older one before it is sent), published to the event log by a window of concurrent publishes,
 * each retried with the same message id until JetStream acknowledges it.
 *
 * - Per object, one publish is in flight at a time, so per-object order in the log is the order
 *   of observation; different objects may interleave.
 * - A state equal to what the log (or the publish in flight) already holds is dropped: relists and
 *   restarts publish nothing for unchanged objects.
 * - The number of pending objects is bounded: `offer` answers `overflow` rather than grow, and
 *   the caller must re-offer later from its own cache (the Kubernetes ingestor re-sweeps the kind
 *   once the queue drains), so a long NATS outage costs memory per object, never per change.
 * - A publish that keeps failing holds up only its own object (the others go on in the window). A
 *   newer state of that object (an update, or its deletion) abandons it and is published instead,
 *   so a deleted object's failing publish is cancelled. How long the oldest failing object has
 *   been failing is the source's stall signal ({@link PublishQueue.failingSince}).
 * - The message id is `messageIdFor(event)` qualified by the sequence of the object's previous
 *   event: a retry or a restarted ingestor re-publishing the same transition is de-duplicated, yet
 *   returning to an earlier state (a Secret referenced, unreferenced, referenced again, all at the
 *   same resourceVersion) is a new message. Two replicas publishing the same transition from the
 *   same log position therefore store it once.
 * - With `canPublish` (a leader-elected ingestor), nothing is sent while it answers false, and each
 *   attempt asks it again; {@link PublishQueue.pause} (leadership lost) drops what is pending and
 *   abandons the publishes in flight, so a replica that lost its Lease sends nothing more.
 */
import {
  ENVELOPE_VERSION,
  type EventEnvelope,
  rejectEventFor,
  type SourceObject,
} from '../../../shared/events/envelope.ts';
import type { EventLog, PublishAck } from '../../../shared/events/event-log.ts';
import { messageIdFor } from '../../../shared/events/subjects.ts';
import { EventTooLargeError, errorMessage } from '../../../shared/runtime/errors.ts';
import type { Logger } from '../../../shared/runtime/logger.ts';
import type { Backoff } from '../../../shared/runtime/retry.ts';
import { publishWithRetry } from '../shared/publish-with-retry.ts';
import { resyncMarker } from '../shared/published-state.ts';

export interface ObjectIdentity {
  /** objectKey of the object. */
  key: string;
  kind: string;
  namespace: string;
  name: string;
  /** API group of the object (tells getambassador.io Mappings from x.getambassador.io ones). */
  group: string;
}

/** An observed state to publish. */
export interface DesiredState extends ObjectIdentity {
  op: 'upsert' | 'delete';
  resourceVersion: string;
  /** Present for upserts. */
  object?: SourceObject;
  /** changeHash of the object for upserts, '' for deletes. */
  hash: string;
  /** Observed by a full (re)list: the event carries `relist` (the compiler's sync barrier). */
  relist?: true;
}

/** What the log holds for one object: its newest upsert or delete. */
export interface LoggedState extends ObjectIdentity {
  live: boolean;
  resourceVersion: string;
  hash: string;
  seq: number;
}

export type OfferResult = 'queued' | 'unchanged' | 'overflow';

export interface PublishQueueOptions {
  cluster: string;
  ingestorId: string;
  events: EventLog;
  log: Logger;
  signal: AbortSignal;
  backoff?: Backoff;
  /** Concurrent publishes; default 64. */
  window?: number;
  /** Bound on pending objects; default 10,000. */
  maxPending?: number;
  onPublished?: (event: EventEnvelope, ack: PublishAck) => void;
  onPublishFailure?: () => void;
  /** Called whenever the number of unpublished objects changes. */
  onSize?: (size: number) => void;
  /** Called (asynchronously) each time the queue becomes empty. */
  onIdle?: () => void;
  /** Asked before every publish attempt; default: always. */
  canPublish?: () => boolean;
}

/** How often a queue held back by `canPublish` asks again. */
const GATE_RECHECK_MS = 200;

function same(target: LoggedState | DesiredState | undefined, state: DesiredState): boolean {
  const live = target === undefined ? false : 'live' in target ? target.live : target.op === 'upsert';
  if (state.op === 'delete') return !live;
  return live && (target?.resourceVersion === state.resourceVersion || target?.hash === state.hash);
}

export class PublishQueue {
  /** Newest logged state per key: seeded from the log on start, updated by every acknowledged publish. */
  readonly logged = new Map<string, LoggedState>();
  /**
   * Highest sequence of this cluster's events known to this process, not counting the markers
   * published since start: two markers with no change between them are one message.
   */
  lastSeq = 0;
  private readonly pending = new Map<string, DesiredState>();
  private readonly inflight = new Map<string, DesiredState>();
  /** When each object whose publish is failing first failed (the resync marker under ''). */
  private readonly failing = new Map<string, number>();
  /** Abandons an in-flight publish that a newer state of its object supersedes. */
  private readonly supersede = new Map<string, AbortController>();
  private waiters: (() => void)[] = [];
  private readonly window: number;
  private readonly maxPending: number;
  /** Aborted by pause(): the publishes of the current leadership term. */
  private term = new AbortController();
  private paused = false;
  private recheck?: NodeJS.Timeout;

  constructor(private readonly opts: PublishQueueOptions) {
    this.window = opts.window ?? 64;
    this.maxPending = opts.maxPending ?? 10_000;
  }

  /** Objects observed but not yet acknowledged by the log. */
  get size(): number {
    return this.pending.size + this.inflight.size;
  }

  /** When the longest-failing publish still being retried first failed; undefined when none fails. */
  failingSince(): number | undefined {
    let oldest: number | undefined;
    for (const t of this.failing.values()) if (oldest === undefined || t < oldest) oldest = t;
    return oldest;
  }

  private failed(key: string): void {
    if (!this.failing.has(key)) this.failing.set(key, Date.now());
    this.opts.onPublishFailure?.();
  }

  /** Whether the newest state known for `key` (pending, in flight or logged) is live. */
  isLive(key: string): boolean {
    const p = this.pending.get(key) ?? this.inflight.get(key);
    if (p) return p.op === 'upsert';
    return this.logged.get(key)?.live ?? false;
  }

  /** Whether a state for `key` waits or is being published. */
  busy(key: string): boolean {
    return this.pending.has(key) || this.inflight.has(key);
  }

  /**
   * Whether the log already holds `key` live at `resourceVersion` with nothing queued for it: an
   * offer of that state would be `unchanged`, so callers may skip hashing the object.
   */
  holdsLive(key: string, resourceVersion: string): boolean {
    if (this.busy(key)) return false;
    const logged = this.logged.get(key);
    return logged?.live === true && resourceVersion !== '' && logged.resourceVersion === resourceVersion;
  }

  /** Identity of every object the queue knows (logged, pending or in flight). */
  *identities(): Iterable<ObjectIdentity> {
    for (const s of this.logged.values()) yield s;
    for (const s of this.inflight.values()) if (!this.logged.has(s.key)) yield s;
    for (const s of this.pending.values()) if (!this.logged.has(s.key) && !this.inflight.has(s.key)) yield s;
  }

  offer(state: DesiredState): OfferResult {
    const target = this.inflight.get(state.key) ?? this.logged.get(state.key);
    if (same(target, state)) {
      if (this.pending.delete(state.key)) this.sizeChanged();
      return 'unchanged';
    }
    const replaced = this.pending.get(state.key);
    if (!replaced && this.pending.size >= this.maxPending) return 'overflow';
    // A publish of an older state that keeps failing is abandoned for this one.
    if (this.failing.has(state.key)) this.supersede.get(state.key)?.abort();
    // A relist's state coalesced with a later watch event still belongs to the relist.
    this.pending.set(state.key, replaced?.relist ? { ...state, relist: true } : state);
    this.sizeChanged();
    this.pump();
    return 'queued';
  }

  /** Resolves once nothing is pending or in flight. */
  idle(): Promise<void> {
    if (this.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /**
   * Stops publishing: drops every pending state and abandons the publishes in flight (their retries
   * stop; one already stored stays stored and is read back from the log by whoever leads next).
   */
  pause(): void {
    this.paused = true;
    this.term.abort(new Error('publishing paused: leadership lost'));
    this.term = new AbortController();
    if (this.pending.size > 0) {
      this.pending.clear();
      this.pump();
    }
  }

  /** Publishes again after {@link pause}. */
  resume(): void {
    this.paused = false;
    this.pump();
  }

  /** Publishes a `resync` marker (call when idle); its version is the cluster's last sequence before it. */
  async publishResync(): Promise<PublishAck> {
    const { cluster, ingestorId, log, backoff } = this.opts;
    const event = resyncMarker(cluster, ingestorId, this.lastSeq);
    try {
      const ack = await publishWithRetry(this.gatedEvents(), event, {
        signal: AbortSignal.any([this.opts.signal, this.term.signal]),
        log,
        ...(backoff ? { backoff } : {}),
        context: { op: 'resync' },
        onFailure: () => this.failed(''),
      });
      if (!ack.duplicate) this.opts.onPublished?.(event, ack);
      return ack;
    } finally {
      this.failing.delete('');
    }
  }

  /** The event log, refusing to publish while `canPublish` says no (a retry asks again). */
  private gatedEvents(): Pick<EventLog, 'publish'> {
    const { events, canPublish } = this.opts;
    return {
      publish: (event, opts) => {
        if (this.paused || (canPublish && !canPublish()))
          return Promise.reject(new Error('not publishing: this replica does not hold the lease'));
        return events.publish(event, opts);
      },
    };
  }

  private blocked(): boolean {
    return this.paused || !(this.opts.canPublish?.() ?? true);
  }

  private pump(): void {
    if (this.opts.signal.aborted) return;
    if (this.pending.size > 0 && this.blocked()) {
      // Held back (a lapsed renewal may come back without a leadership change): ask again soon.
      if (!this.paused && !this.recheck)
        this.recheck = setTimeout(() => {
          this.recheck = undefined;
          this.pump();
        }, GATE_RECHECK_MS);
      return;
    }
    for (const [key, state] of this.pending) {
      if (this.inflight.size >= this.window) break;
      if (this.inflight.has(key)) continue;
      this.pending.delete(key);
      if (same(this.logged.get(key), state)) continue;
      this.inflight.set(key, state);
      void this.publishOne(state);
    }
    this.sizeChanged();
    if (this.size === 0) {
      const waiters = this.waiters;
      this.waiters = [];
      for (const w of waiters) w();
      if (this.opts.onIdle) queueMicrotask(this.opts.onIdle);
    }
  }

  private async publishOne(state: DesiredState): Promise<void> {
    const { cluster, ingestorId, log, backoff } = this.opts;
    const superseded = new AbortController();
    this.supersede.set(state.key, superseded);
    const signal = AbortSignal.any([this.opts.signal, this.term.signal, superseded.signal]);
    const events = this.gatedEvents();
    const prevSeq = this.logged.get(state.key)?.seq ?? 0;
    const generation = state.object?.metadata.generation;
    const event: EventEnvelope = {
      v: ENVELOPE_VERSION,
      cluster,
      kind: state.kind,
      namespace: state.namespace,
      name: state.name,
      op: state.op,
      resourceVersion: state.resourceVersion,
      generation: Number.isSafeInteger(generation) ? (generation as number) : 0,
      observedAt: new Date().toISOString(),
      ingestor: ingestorId,
      ...(state.op === 'upsert' && state.object ? { object: state.object } : {}),
      ...(state.relist ? { relist: true as const } : {}),
    };
    const send = (e: EventEnvelope) =>
      publishWithRetry(events, e, {
        signal,
        log,
        ...(backoff ? { backoff } : {}),
        msgId: `${messageIdFor(e)}@${prevSeq}`,
        context: { kind: e.kind, namespace: e.namespace, name: e.name, op: e.op },
        onFailure: () => this.failed(state.key),
      });
    try {
      let ack: PublishAck;
      try {
        ack = await send(event);
      } catch (err) {
        // Too large for the log even compressed: record the object as rejected (the compiler keeps
        // its last good version and says why) instead of retrying it forever. The state counts as
        // published, so only a newer version of the object is tried again.
        if (!(err instanceof EventTooLargeError) || event.op !== 'upsert') throw err;
        log.warn(
          { key: state.key, err: err.message },
          'object too large for the event log; recorded as rejected',
        );
        ack = await send(rejectEventFor(event, `${err.message}; the object is not published`));
      }
      const { key, kind, namespace, name, group } = state;
      this.logged.set(key, {
        key,
        kind,
        namespace,
        name,
        group,
        live: state.op === 'upsert',
        resourceVersion: state.resourceVersion,
        hash: state.hash,
        seq: ack.seq,
      });
      this.lastSeq = Math.max(this.lastSeq, ack.seq);
      this.opts.onPublished?.(event, ack);
    } catch (err) {
      // publishWithRetry gives up only when the ingestor closes, a newer state supersedes it (or on
      // an oversize reject event).
      if (superseded.signal.aborted && !this.opts.signal.aborted)
        log.warn({ key: state.key }, 'failing publish abandoned for a newer state of the object');
      else if (!signal.aborted) log.error({ err: errorMessage(err), key: state.key }, 'publish abandoned');
    } finally {
      this.failing.delete(state.key);
      this.supersede.delete(state.key);
      this.inflight.delete(state.key);
      const next = this.pending.get(state.key);
      if (next && same(this.logged.get(state.key), next)) this.pending.delete(state.key);
      this.pump();
    }
  }

  private sizeChanged(): void {
    this.opts.onSize?.(this.size);
  }
}
