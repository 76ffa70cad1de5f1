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
 * - The message id is `messageIdFor(event)` qualified by the sequence of the object's previous
 *   event: a retry or a restarted ingestor re-publishing the same transition is de-duplicated, yet
 *   returning to an earlier state (a Secret referenced, unreferenced, referenced again, all at the
 *   same resourceVersion) is a new message.
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
import { publishWithRetry } from '../shared/publish-with-retry.ts';
import { resyncMarker } from '../shared/published-state.ts';
import type { Backoff } from '../shared/retry.ts';

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
}

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
  private waiters: (() => void)[] = [];
  private readonly window: number;
  private readonly maxPending: number;

  constructor(private readonly opts: PublishQueueOptions) {
    this.window = opts.window ?? 64;
    this.maxPending = opts.maxPending ?? 10_000;
  }

  /** Objects observed but not yet acknowledged by the log. */
  get size(): number {
    return this.pending.size + this.inflight.size;
  }

  /** Whether the newest state known for `key` (pending, in flight or logged) is live. */
  isLive(key: string): boolean {
    const p = this.pending.get(key) ?? this.inflight.get(key);
    if (p) return p.op === 'upsert';
    return this.logged.get(key)?.live ?? false;
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

  /** Publishes a `resync` marker (call when idle); its version is the cluster's last sequence before it. */
  async publishResync(): Promise<PublishAck> {
    const { cluster, ingestorId, events, log, signal, backoff } = this.opts;
    const event = resyncMarker(cluster, ingestorId, this.lastSeq);
    const ack = await publishWithRetry(events, event, {
      signal,
      log,
      ...(backoff ? { backoff } : {}),
      context: { op: 'resync' },
      onFailure: () => this.opts.onPublishFailure?.(),
    });
    if (!ack.duplicate) this.opts.onPublished?.(event, ack);
    return ack;
  }

  private pump(): void {
    if (this.opts.signal.aborted) return;
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
    const { cluster, ingestorId, events, log, signal, backoff } = this.opts;
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
        onFailure: () => this.opts.onPublishFailure?.(),
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
      // publishWithRetry gives up only when the ingestor closes (or on an oversize reject event).
      if (!signal.aborted) log.error({ err: errorMessage(err), key: state.key }, 'publish abandoned');
    } finally {
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
