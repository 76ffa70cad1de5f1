/**
 * NATS JetStream {@link EventLog}: the production log. One stream ({@link STREAM_NAME}) holds every
 * event subject, so the stream sequence is the system's logical clock.
 *
 * - `publish` is a JetStream publish with a `Nats-Msg-Id`; the stream's duplicate window turns a
 *   retried publish into `duplicate: true` with the original sequence. A publish still unanswered
 *   when the connection comes back is sent again at once (same id) rather than waiting out its
 *   timeout. Every failure (server unreachable, ack timeout) is a {@link DependencyError} after at
 *   most `publishTimeoutMs` since it was sent or the connection last came back: the event may or
 *   may not be stored, so the caller retries with the same message id.
 * - `read` and `follow` use ordered consumers (ephemeral, in-memory, no acks) that the client
 *   recreates from the next sequence after a disconnect or a server restart, so delivery has no
 *   gap and no duplicate. `follow` also rebuilds its consumer itself if the client gives up, or
 *   when its consumer falls silent: an ordered consumer has one replica, on the server that led
 *   the stream when it was made; if that server dies, the client waits for it to come back (its
 *   checks answer neither "found" nor "not found"), so after {@link SILENT_HEARTBEATS} missed
 *   heartbeats `follow` makes a new one, which the surviving servers host.
 * - `durable` is a durable pull consumer with explicit acks (see {@link JetStreamEventLog.durable}).
 *
 * nats-server 2.9 accepts one `filter_subject` per consumer, so several subject filters are sent
 * to the server as one covering filter ({@link coveringFilter}) and matched exactly on the client.
 */
import {
  AckPolicy,
  type Consumer,
  type ConsumerConfig,
  type ConsumerInfo,
  type ConsumerMessages,
  DeliverPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  jetstream,
  jetstreamManager,
  StorageType,
  type StreamConfig,
} from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { abortableSleep } from '../runtime/abortable-sleep.ts';
import { type NatsSecurity, natsServers } from '../runtime/connection-flags.ts';
import { AttacheError, DependencyError, EventTooLargeError, errorMessage } from '../runtime/errors.ts';
import type { Logger } from '../runtime/logger.ts';
import { decodeEvent, type EventEnvelope, encodeEvent } from './envelope.ts';
import type {
  DurableDelivery,
  DurableOptions,
  EventLog,
  FollowOptions,
  LoggedEvent,
  PublishAck,
  ReadOptions,
} from './event-log.ts';
import type { StreamRetention } from './retention.ts';
import {
  messageIdFor,
  STREAM_NAME,
  STREAM_SUBJECTS,
  subjectFor,
  subjectMatches,
  undecodableEvent,
} from './subjects.ts';

export interface JetStreamEventLogOptions {
  /** NATS server URL(s), e.g. `nats://127.0.0.1:4222`; a string may list several, comma-separated. */
  url: string | string[];
  /** Credentials and TLS (shared/runtime/connection-flags.ts). */
  security?: NatsSecurity;
  log: Logger;
  /** Stream name; default {@link STREAM_NAME}. */
  streamName?: string;
  /**
   * Stream retention. When given, the stream is created or updated to it (0 = unlimited); when
   * absent, a new stream keeps everything and an existing one keeps its limits, so a process that
   * does not own retention (ingestors, `attache replay`) never undoes the compiler's setting.
   * Events older than the window are gone: replay and the debugging tools then start from the
   * oldest retained event and say so.
   */
  retention?: StreamRetention;
  /** How long a message id is remembered for de-duplication; default 2 minutes. */
  duplicateWindowMs?: number;
  /**
   * Stream replicas (a NATS cluster). When given, the stream is created with, or updated to, this
   * many; when absent, a new stream gets 1 and an existing one keeps its own (so ingestors, which
   * may not change the stream, never undo the compiler's setting).
   */
  replicas?: number;
  /** Connection name shown by `nats server report connections`; default `attache-event-log`. */
  name?: string;
  /** Bound on one publish (send + PubAck); default 5 s. */
  publishTimeoutMs?: number;
  /** Bound on JetStream API requests (stream/consumer info, create, ack confirmation); default 5 s. */
  requestTimeoutMs?: number;
  /** How long a durable delivery may stay unacknowledged before the server redelivers it; default 60 s. */
  ackWaitMs?: number;
  /**
   * Lifetime of one consumer pull request; idle heartbeats run at half of it and a lost consumer
   * is detected after two missed heartbeats. Default 5 s (minimum 1 s).
   */
  pullExpiresMs?: number;
}

type Limits = Required<
  Pick<JetStreamEventLogOptions, 'publishTimeoutMs' | 'requestTimeoutMs' | 'ackWaitMs' | 'pullExpiresMs'>
>;

const MS_TO_NANOS = 1_000_000;
const PULL_BATCH = 256;
const MAX_ACK_PENDING = 1_000;
const RETRY_DELAYS_MS = [100, 250, 500, 1_000, 2_000, 5_000];
/** Missed idle heartbeats (one per half pull expiry) after which `follow` replaces its consumer. */
const SILENT_HEARTBEATS = 4;
/** Pull expiries without a delivery, while the stream has more, after which `follow` replaces its consumer. */
const STALLED_PULLS = 3;

export class JetStreamEventLog implements EventLog {
  private closing?: Promise<void>;

  private constructor(
    private readonly nc: NatsConnection,
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly log: Logger,
    private readonly streamName: string,
    private readonly limits: Limits,
  ) {}

  /**
   * Connects (reconnecting forever once connected) and creates the stream, or updates it when its
   * subjects, duplicate window, age limit or replicas differ. Throws {@link DependencyError} when
   * NATS cannot be reached or JetStream refuses the stream.
   */
  static async connect(opts: JetStreamEventLogOptions): Promise<JetStreamEventLog> {
    const streamName = opts.streamName ?? STREAM_NAME;
    const requestTimeoutMs = opts.requestTimeoutMs ?? 5_000;
    const log = opts.log.child({ component: 'jetstream-event-log', stream: streamName });
    let nc: NatsConnection;
    try {
      nc = await connect({
        ...opts.security,
        servers: natsServers(opts.url),
        name: opts.name ?? 'attache-event-log',
        maxReconnectAttempts: -1,
        reconnectTimeWait: 250,
        timeout: requestTimeoutMs,
        // Every publish would build Error objects with stacks for async traces (~40 µs each);
        // failures are reported by their message.
        noAsyncTraces: true,
      });
    } catch (err) {
      throw new DependencyError(
        `cannot connect to NATS at ${String(opts.url)}: ${errorMessage(err)}; check that nats-server is running with JetStream (-js) and reachable`,
        { cause: err },
      );
    }
    try {
      const jsm = await jetstreamManager(nc, { timeout: requestTimeoutMs });
      const self = new JetStreamEventLog(
        nc,
        jetstream(nc, { timeout: requestTimeoutMs }),
        jsm,
        log,
        streamName,
        {
          publishTimeoutMs: opts.publishTimeoutMs ?? 5_000,
          requestTimeoutMs,
          ackWaitMs: opts.ackWaitMs ?? 60_000,
          pullExpiresMs: Math.max(1_000, opts.pullExpiresMs ?? 5_000),
        },
      );
      await self.ensureStream(
        {
          name: streamName,
          subjects: [...STREAM_SUBJECTS],
          storage: StorageType.File,
          duplicate_window: (opts.duplicateWindowMs ?? 120_000) * MS_TO_NANOS,
          max_age: (opts.retention?.maxAgeSeconds ?? 0) * 1_000 * MS_TO_NANOS,
          max_bytes: opts.retention && opts.retention.maxBytes > 0 ? opts.retention.maxBytes : -1,
          num_replicas: opts.replicas ?? 1,
        },
        opts.replicas !== undefined,
        opts.retention !== undefined,
      );
      self.watchConnection();
      return self;
    } catch (err) {
      await nc.close().catch(() => {});
      if (err instanceof DependencyError) throw err;
      throw new DependencyError(
        `cannot set up JetStream stream ${streamName}: ${errorMessage(err)}; check that nats-server runs with JetStream enabled (-js)`,
        { cause: err },
      );
    }
  }

  async publish(event: EventEnvelope, opts?: { msgId?: string }): Promise<PublishAck> {
    const msgID = opts?.msgId ?? messageIdFor(event);
    const subject = subjectFor(event);
    if (this.closing) throw new DependencyError(`event log is closed; cannot publish ${msgID}`);
    const bytes = encodeEvent(event);
    // The server's max_payload (our NATS configuration raises it to 8 MiB; the default is 1 MiB).
    const limit = this.nc.info?.max_payload;
    if (limit !== undefined && bytes.length > limit) {
      throw new EventTooLargeError(
        `event ${msgID} is ${bytes.length} bytes after compression, over the NATS max_payload of ${limit} bytes`,
        bytes.length,
        limit,
      );
    }
    // An attempt unanswered when the connection comes back (sent before the outage, or buffered
    // during it and sent to a server whose JetStream was not yet up) may never be answered: it is
    // sent again at once under the same message id (the duplicate window makes that safe) with a
    // fresh timeout, instead of waiting its timeout out. Right after a restart JetStream may
    // answer "no responders" for a moment; that is retried until the deadline too.
    let deadline = Date.now() + this.limits.publishTimeoutMs;
    let resent = 0;
    for (;;) {
      const reconnect = this.nextReconnect();
      const attempt = this.js.publish(subject, bytes, {
        msgID,
        timeout: Math.max(1, deadline - Date.now()),
        expect: { streamName: this.streamName },
      });
      try {
        const outcome = await Promise.race([attempt.then((ack) => ({ ack })), reconnect.promise]);
        if (outcome) {
          // A re-send that finds the message stored most likely found this call's own first copy.
          return { seq: outcome.ack.seq, duplicate: outcome.ack.duplicate && resent === 0 };
        }
        attempt.catch(() => {});
        if (this.closing) throw new Error('event log closed');
        deadline = Date.now() + this.limits.publishTimeoutMs;
        resent++;
        this.log.debug({ msgID, resent }, 're-sending an unanswered publish after the reconnect');
      } catch (err) {
        if ((err as Error)?.name === 'JetStreamNotEnabled' && !this.closing && Date.now() + 100 < deadline) {
          await new Promise((r) => setTimeout(r, 100));
          continue;
        }
        throw new DependencyError(
          `JetStream did not acknowledge event ${msgID} on ${subject} within ${this.limits.publishTimeoutMs} ms (${errorMessage(err)}); it may or may not be stored: retry with the same message id once NATS is reachable`,
          { cause: err },
        );
      } finally {
        reconnect.cancel();
      }
    }
  }

  /** Reconnections so far, and who waits for the next one. */
  private readonly reconnectWaiters = new Set<() => void>();

  /** Resolves (to undefined) at the connection's next reconnect; cancel() when no longer needed. */
  private nextReconnect(): { promise: Promise<undefined>; cancel(): void } {
    let wake!: () => void;
    const promise = new Promise<undefined>((resolve) => {
      wake = () => resolve(undefined);
    });
    this.reconnectWaiters.add(wake);
    return { promise, cancel: () => this.reconnectWaiters.delete(wake) };
  }

  async firstSeq(): Promise<number> {
    try {
      const info = await this.jsm.streams.info(this.streamName);
      return info.state.messages === 0 ? info.state.last_seq + 1 : info.state.first_seq;
    } catch (err) {
      throw new DependencyError(`cannot read the state of stream ${this.streamName}: ${errorMessage(err)}`, {
        cause: err,
      });
    }
  }

  async lastSeq(): Promise<number> {
    try {
      const info = await this.jsm.streams.info(this.streamName);
      return info.state.last_seq;
    } catch (err) {
      throw new DependencyError(`cannot read the state of stream ${this.streamName}: ${errorMessage(err)}`, {
        cause: err,
      });
    }
  }

  /**
   * Ends after `toSeq` (capped at the last sequence when called), or as soon as the server reports
   * nothing more pending for the filter. Blocks while NATS is unreachable (the ordered consumer
   * resumes where it stopped) and throws {@link DependencyError} if the log is closed meanwhile.
   */
  async *read(opts: ReadOptions): AsyncIterable<LoggedEvent> {
    const last = await this.lastSeq();
    const to = Math.min(opts.toSeq ?? last, last);
    const from = Math.max(1, opts.fromSeq);
    if (from > to) return;
    const filters = activeFilters(opts.subjects);
    const consumer = await this.orderedConsumer(from, filters);
    let messages: ConsumerMessages | undefined;
    try {
      const info = await consumer.info(true);
      if (info.num_pending === 0) return;
      messages = await consumer.consume({
        max_messages: Math.min(PULL_BATCH, to - from + 1),
        expires: this.limits.pullExpiresMs,
      });
      for await (const m of messages) {
        if (m.seq > to) return;
        if (matchesAny(filters, m.subject)) yield toLogged(m);
        if (m.seq === to || m.info.pending === 0) return;
      }
      throw new DependencyError(
        `reading stream ${this.streamName} from ${from} to ${to} stopped early: the log was closed`,
      );
    } finally {
      void messages?.close();
      consumer.delete().catch(() => {});
    }
  }

  /**
   * Delivers from `fromSeq`, then new events, until the signal aborts or the log closes. Survives
   * NATS restarts: if the client cannot recover its ordered consumer, a new one starts at the
   * sequence after the last delivered event.
   */
  async *follow(opts: FollowOptions): AsyncIterable<LoggedEvent> {
    const { signal } = opts;
    const filters = activeFilters(opts.subjects);
    let next = Math.max(1, opts.fromSeq);
    let failures = 0;
    while (!signal.aborted && !this.closing) {
      let consumer: Consumer | undefined;
      let messages: ConsumerMessages | undefined;
      const stop = () => void messages?.close();
      signal.addEventListener('abort', stop, { once: true });
      try {
        consumer = await this.orderedConsumer(next, filters);
        messages = await consumer.consume({ max_messages: PULL_BATCH, expires: this.limits.pullExpiresMs });
        if (signal.aborted) return;
        void this.closeWhenSilent(messages, next);
        // Unfiltered follows only: for a filtered one the stream's last sequence says nothing about
        // whether an event for it is waiting.
        const progress = filters ? undefined : this.closeWhenBehind(messages, () => next);
        try {
          for await (const m of messages) {
            failures = 0;
            next = m.seq + 1;
            progress?.delivered();
            if (matchesAny(filters, m.subject)) yield toLogged(m);
            if (signal.aborted) return;
          }
        } finally {
          progress?.stop();
        }
      } catch (err) {
        if (isPermanent(err)) throw err;
        if (signal.aborted || this.closing) return;
        this.log.warn({ err: errorMessage(err), fromSeq: next }, 'follow consumer failed; recreating it');
      } finally {
        signal.removeEventListener('abort', stop);
        void messages?.close();
        consumer?.delete().catch(() => {});
      }
      await abortableSleep(retryDelay(failures++), signal);
    }
  }

  /**
   * A durable pull consumer with explicit acks, named `name` on the server. Deliveries within one
   * iteration are in sequence order. An iteration starts after the consumer's ack floor: if a
   * previous iteration or process left deliveries unacknowledged, the consumer is recreated at
   * the first unacknowledged event, so those are redelivered first and in order. A server
   * redelivery (ack wait expired) of an event this iteration already yielded is not yielded again.
   * If deliveries are lost in transit (NATS restart), the iteration restarts the same way and may
   * repeat events it yielded that were not yet acknowledged — never skip one.
   * Callers ack in sequence order; one iteration per name at a time. Names use [A-Za-z0-9_-].
   */
  async *durable(name: string, opts: DurableOptions): AsyncIterable<DurableDelivery> {
    if (!/^[A-Za-z0-9_-]+$/.test(name)) {
      throw new AttacheError(
        `durable consumer name ${JSON.stringify(name)} must use only letters, digits, - and _`,
      );
    }
    const { signal } = opts;
    const filters = activeFilters(opts.subjects);
    let lastYielded = 0;
    let failures = 0;
    while (!signal.aborted && !this.closing) {
      let messages: ConsumerMessages | undefined;
      const stop = () => void messages?.close();
      signal.addEventListener('abort', stop, { once: true });
      try {
        const info = await this.prepareDurable(name, coveringFilter(filters));
        let expectedDelivery = info.delivered.consumer_seq + 1;
        const consumer = await this.js.consumers.get(this.streamName, name);
        messages = await consumer.consume({ max_messages: PULL_BATCH, expires: this.limits.pullExpiresMs });
        if (signal.aborted) return;
        for await (const m of messages) {
          failures = 0;
          if (m.info.deliverySequence !== expectedDelivery) {
            this.log.warn(
              { durable: name, expected: expectedDelivery, got: m.info.deliverySequence },
              'durable consumer lost deliveries; resuming from its first unacknowledged event',
            );
            break;
          }
          expectedDelivery++;
          if (m.redelivered && m.seq <= lastYielded) continue;
          if (!matchesAny(filters, m.subject)) {
            m.ack();
            continue;
          }
          lastYielded = m.seq;
          yield { ...toLogged(m), ack: () => this.confirmAck(name, m) };
          if (signal.aborted) return;
        }
      } catch (err) {
        if (isPermanent(err)) throw err;
        if (signal.aborted || this.closing) return;
        this.log.warn({ err: errorMessage(err), durable: name }, 'durable consumer failed; retrying');
        await abortableSleep(retryDelay(failures++), signal);
      } finally {
        signal.removeEventListener('abort', stop);
        void messages?.close();
      }
    }
  }

  /** Drains subscriptions and closes the connection; bounded even when NATS is unreachable. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      const drained = this.nc.drain().catch(() => {});
      const timer = new Promise<void>((resolve) => setTimeout(resolve, this.limits.requestTimeoutMs).unref());
      await Promise.race([drained, timer]);
      if (!this.nc.isClosed()) await this.nc.close().catch(() => {});
    })();
    return this.closing;
  }

  private async ensureStream(
    wanted: Partial<StreamConfig> & { name: string },
    enforceReplicas: boolean,
    ownsRetention: boolean,
  ): Promise<void> {
    let current: StreamConfig;
    try {
      current = (await this.jsm.streams.info(wanted.name)).config;
    } catch (err) {
      if (!isApiError(err, JetStreamApiCodes.StreamNotFound)) throw err;
      await this.jsm.streams.add(wanted);
      this.log.info({ subjects: wanted.subjects }, 'created event stream');
      return;
    }
    if (current.storage !== wanted.storage) {
      this.log.warn(
        { storage: current.storage },
        'event stream does not use file storage; recreate it to change that',
      );
    }
    const differs =
      [...current.subjects].sort().join() !== [...(wanted.subjects ?? [])].sort().join() ||
      current.duplicate_window !== wanted.duplicate_window ||
      (ownsRetention && (current.max_age !== wanted.max_age || current.max_bytes !== wanted.max_bytes)) ||
      (enforceReplicas && current.num_replicas !== wanted.num_replicas);
    if (!differs) return;
    await this.jsm.streams.update(wanted.name, {
      ...current,
      subjects: wanted.subjects,
      duplicate_window: wanted.duplicate_window,
      ...(ownsRetention ? { max_age: wanted.max_age, max_bytes: wanted.max_bytes } : {}),
      num_replicas: enforceReplicas ? wanted.num_replicas : current.num_replicas,
    });
    this.log.info('updated event stream settings');
  }

  /**
   * Closes `messages` (of an unfiltered follow) when the stream holds events past `next()` and none has been delivered for
   * {@link STALLED_PULLS} pull expiries: the library's ordered consumer can end up neither
   * delivering nor reporting missed heartbeats after its server is killed (seen in the fault
   * suite: a compiler leader that followed nothing for 90 s while its standby read every event),
   * so progress is checked against the stream's own last sequence. A check that cannot read the
   * stream (an election in progress) decides nothing.
   */
  private closeWhenBehind(
    messages: ConsumerMessages,
    next: () => number,
  ): { delivered(): void; stop(): void } {
    const stallMs = STALLED_PULLS * this.limits.pullExpiresMs;
    let lastDelivery = Date.now();
    let checking = false;
    const timer = setInterval(() => {
      if (checking || Date.now() - lastDelivery < stallMs) return;
      checking = true;
      const behindFrom = next();
      this.lastSeq()
        .then((last) => {
          if (last >= behindFrom && Date.now() - lastDelivery >= stallMs) {
            this.log.warn(
              { fromSeq: behindFrom, lastSeq: last, stalledMs: Date.now() - lastDelivery },
              'follow consumer delivers nothing while the stream has more; recreating it',
            );
            void messages.close();
          }
        })
        .catch(() => {})
        .finally(() => {
          checking = false;
        });
    }, this.limits.pullExpiresMs);
    timer.unref();
    return {
      delivered: () => {
        lastDelivery = Date.now();
      },
      stop: () => clearInterval(timer),
    };
  }

  /** Closes `messages` once its consumer missed {@link SILENT_HEARTBEATS} heartbeats in a row. */
  private async closeWhenSilent(messages: ConsumerMessages, fromSeq: number): Promise<void> {
    try {
      for await (const s of messages.status()) {
        if (s.type === 'heartbeats_missed' && s.count >= SILENT_HEARTBEATS) {
          this.log.warn(
            { missed: s.count, fromSeq },
            'follow consumer silent (its server may be gone); recreating it on the servers that answer',
          );
          await messages.close();
          return;
        }
      }
    } catch {
      // The status stream ends with the messages; nothing to watch any more.
    }
  }

  private orderedConsumer(fromSeq: number, filters: readonly string[] | undefined): Promise<Consumer> {
    const filter = coveringFilter(filters);
    return this.js.consumers
      .get(this.streamName, {
        opt_start_seq: fromSeq,
        ...(filter ? { filter_subjects: filter } : {}),
      })
      .catch((err: unknown) => {
        throw new DependencyError(
          `cannot create a reader on stream ${this.streamName}: ${errorMessage(err)}`,
          {
            cause: err,
          },
        );
      });
  }

  /**
   * Returns the durable's info, (re)creating it so delivery starts at the first unacknowledged
   * event: JetStream would otherwise redeliver leftovers only after the ack wait, out of order.
   */
  private async prepareDurable(name: string, filter: string | undefined): Promise<ConsumerInfo> {
    let info: ConsumerInfo | undefined;
    try {
      info = await this.jsm.consumers.info(this.streamName, name);
    } catch (err) {
      if (!isApiError(err, JetStreamApiCodes.ConsumerNotFound)) throw err;
    }
    const config = (startSeq: number): Partial<ConsumerConfig> => ({
      durable_name: name,
      ack_policy: AckPolicy.Explicit,
      ack_wait: this.limits.ackWaitMs * MS_TO_NANOS,
      max_ack_pending: MAX_ACK_PENDING,
      max_deliver: -1,
      ...(startSeq > 1
        ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: startSeq }
        : { deliver_policy: DeliverPolicy.All }),
      ...(filter ? { filter_subject: filter } : {}),
    });
    if (!info) return this.jsm.consumers.add(this.streamName, config(1));
    const sameFilter = (info.config.filter_subject || undefined) === filter;
    if (sameFilter && info.config.ack_policy === AckPolicy.Explicit && info.num_ack_pending === 0)
      return info;
    const startSeq = info.ack_floor.stream_seq + 1;
    this.log.info(
      { durable: name, startSeq, ackPending: info.num_ack_pending, sameFilter },
      'recreating durable consumer at its first unacknowledged event',
    );
    await this.jsm.consumers.delete(this.streamName, name);
    return this.jsm.consumers.add(this.streamName, config(startSeq));
  }

  private async confirmAck(durable: string, m: JsMsg): Promise<void> {
    try {
      await m.ackAck({ timeout: this.limits.requestTimeoutMs });
    } catch (err) {
      throw new DependencyError(
        `JetStream did not confirm the ack of event ${m.seq} for durable ${durable}: ${errorMessage(err)}; it will be redelivered`,
        { cause: err },
      );
    }
  }

  private watchConnection(): void {
    void (async () => {
      for await (const s of this.nc.status()) {
        if (s.type === 'disconnect')
          this.log.warn({ server: s.server }, 'disconnected from NATS; reconnecting');
        else if (s.type === 'reconnect') {
          this.log.info({ server: s.server }, 'reconnected to NATS');
          for (const wake of [...this.reconnectWaiters]) wake();
        } else if (s.type === 'error')
          this.log.error({ err: errorMessage(s.error) }, 'NATS connection error');
      }
    })().catch(() => {});
  }
}

/**
 * The one filter to give the server for `filters` (nats-server 2.9 takes a single filter subject),
 * or undefined for none. It is the narrowest filter matching every subject any of `filters`
 * matches — equal tokens stay, differing ones become `*`, a `>` ends it — provided the server
 * accepts it, i.e. it lies within one stream subject. So `['attache.ev.a.>', 'attache.ev.b.>']`
 * becomes `attache.ev.*.>`, while `clusterSubjects('a')`, which spans both roots, gets no server
 * filter. Callers always match the exact filters on the client.
 */
export function coveringFilter(filters: readonly string[] | undefined): string | undefined {
  if (!filters || filters.length === 0) return undefined;
  const split = filters.map((f) => f.split('.'));
  const cover: string[] = [];
  for (let i = 0; ; i++) {
    const tokens = split.map((t) => t[i]);
    const ended = tokens.filter((t) => t === undefined).length;
    if (ended === tokens.length) break;
    // A filter that ends here matches subjects of exactly i tokens, which a longer cover would miss.
    if (ended > 0) return undefined;
    if (tokens.includes('>')) {
      cover.push('>');
      break;
    }
    cover.push(tokens.every((t) => t === tokens[0]) ? (tokens[0] as string) : '*');
  }
  return STREAM_SUBJECTS.some((s) => filterWithin(cover, s.split('.'))) ? cover.join('.') : undefined;
}

/** True when every subject `filter` matches is matched by `outer` (both tokenised). */
function filterWithin(filter: readonly string[], outer: readonly string[]): boolean {
  for (let i = 0; i < outer.length; i++) {
    const o = outer[i];
    const f = filter[i];
    if (o === '>') return f !== undefined;
    if (f === undefined || f === '>') return false;
    if (o !== '*' && o !== f) return false;
  }
  return filter.length === outer.length;
}

/** A JetStream request the server rejected as invalid: retrying cannot succeed. */
function isPermanent(err: unknown): boolean {
  const api = err instanceof DependencyError ? err.cause : err;
  return api instanceof JetStreamApiError && api.status === 400;
}

function activeFilters(subjects: readonly string[] | undefined): readonly string[] | undefined {
  return subjects && subjects.length > 0 ? subjects : undefined;
}

function matchesAny(filters: readonly string[] | undefined, subject: string): boolean {
  return !filters || filters.some((f) => subjectMatches(f, subject));
}

/**
 * A message that does not decode becomes the `reject` its subject stands for (undecodableEvent):
 * readers report it and read on, where throwing would stop every reader at that sequence forever.
 */
function toLogged(m: JsMsg): LoggedEvent {
  let event: EventEnvelope;
  try {
    event = decodeEvent(m.data);
  } catch (err) {
    event = undecodableEvent(m.subject, `sequence ${m.seq}: ${errorMessage(err)}`);
  }
  return {
    seq: m.seq,
    subject: m.subject,
    event,
    time: new Date(Math.floor(m.info.timestampNanos / 1_000_000)).toISOString(),
  };
}

function isApiError(err: unknown, code: number): boolean {
  return err instanceof JetStreamApiError && err.code === code;
}

function retryDelay(failures: number): number {
  return RETRY_DELAYS_MS[Math.min(failures, RETRY_DELAYS_MS.length - 1)] as number;
}
