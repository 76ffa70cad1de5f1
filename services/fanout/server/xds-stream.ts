/**
 * What every xDS stream shares, SotW or delta, aggregated or restricted to one type: identity and
 * authorization from the first request, the write path with back-pressure, the initial-push gate,
 * and the push order.
 *
 * Write path contract:
 * - At most one response is in flight per stream: the next is written only after grpc-js has
 *   handed the previous one to HTTP/2 (its write callback). This is stricter than honouring
 *   `call.write()`'s return value (an object-mode stream returns false only after 16 queued
 *   messages), so a slow reader holds at most one encoded response in our buffers.
 * - While a write is in flight, a type that needs a response is only marked dirty (one bit per
 *   type); the response is built from the newest snapshot when the stream can write again. So a
 *   slow stream holds at most one pending response per type, always the newest, and memory per
 *   stream stays constant however many snapshots arrive.
 * - Dirty types are flushed in {@link PUSH_ORDER} (CDS, EDS, LDS, RDS, SDS). This is also the
 *   warming rule: a listener or route push never overtakes a cluster push the same stream is
 *   owed, so a route never reaches an Envoy before the clusters it names were sent.
 * - Make before break: a cluster or endpoint push that would take away names the client holds
 *   waits until the listener and route pushes the stream is owed are written, so a route is never
 *   left naming a cluster its client was just told is gone (grpc-js-xds fails such RPCs with
 *   "Cluster resource … does not exist"; Envoy answers 503). A wildcard cluster push that also
 *   adds clusters goes first (the new routes need them) but keeps the removed clusters
 *   ({@link makeBeforeBreak}); they are removed once the routes are out.
 * - A stream's first writes need a permit from the {@link InitialPushGate}; it keeps the permit
 *   until everything it owed at that point is flushed.
 */
import * as grpc from '@grpc/grpc-js';
import type { Logger } from '../../../shared/runtime/logger.ts';
import {
  CLUSTER_TYPE,
  ENDPOINT_TYPE,
  isTypeUrl,
  LISTENER_TYPE,
  PUSH_ORDER,
  ROUTE_TYPE,
  shortName,
  type TypeUrl,
} from '../../../shared/xds/type-urls.ts';
import type { GroupSnapshot, SnapshotSource } from '../cache/group-snapshot.ts';
import type { AckTally, TypeAnswer } from './ack-tally.ts';
import type { AdsEvents, StreamPeer } from './ads-events.ts';
import type { AdsMetrics } from './ads-metrics.ts';
import { type Principal, resolveGroup } from './client-auth.ts';
import type { AdsLimits } from './client-limits.ts';
import type { ClientMistakes } from './client-mistakes.ts';
import type { InitialPushGate } from './initial-push-gate.ts';
import type { NodeInfo } from './peer-identity.ts';
import { bridgeSet, type ServedSet, setChange } from './served-set.ts';
import type { WritePacer } from './write-pacer.ts';

/** Per-stream limits (client-limits.ts); 0 disables one. Names count SotW names, delta subscriptions and initial versions. */
export type StreamLimits = Readonly<Pick<AdsLimits, 'maxNamesPerStream' | 'maxTypeUrlLength'>>;

/** Node ids and clusters are kept (for status and logs) cut to this many characters. */
const MAX_NODE_FIELD = 256;

/** Everything streams of one server share (one object, not one per stream). */
export interface StreamContext {
  readonly source: Pick<SnapshotSource, 'current'>;
  readonly metrics: AdsMetrics;
  readonly log: Logger;
  /** Rate-limited, truncated warnings about what clients get wrong. */
  readonly mistakes: ClientMistakes;
  readonly limits: StreamLimits;
  readonly events?: AdsEvents;
  /** Group for nodes whose metadata names none (and whose credential allows it). */
  readonly defaultGroup: string;
  readonly gate: InitialPushGate;
  /** Bounds the bytes of non-EDS pushes in flight (waves). */
  readonly pacer: WritePacer;
  /** Counts the joined streams' answers per group and type (fleet status). */
  readonly tally: AckTally;
  /** The stream learned its group (first request accepted). */
  joined(stream: XdsStream): void;
  /** The stream is gone; called once. */
  left(stream: XdsStream): void;
}

/**
 * What a stream writes to, whatever the transport (h2-transport.ts or grpc-js, ads-server.ts).
 * `send` writes one response message: the `nonce` field plus the `body` (the response without
 * its nonce). The body may be shared by thousands of streams: a transport must not modify it,
 * and should not copy it per stream. `cb` runs once the message was handed to the socket (or
 * the call is gone).
 */
export interface StreamCall {
  send(out: Outgoing, cb: () => void): void;
  /** Ends the call with status OK. */
  end(): void;
  /** Ends the call with a non-OK status. */
  fail(code: grpc.status, details: string): void;
}

export type { WriteCounters } from './ads-metrics.ts';

/** One response a stream owes: the body without nonce, and the nonce. */
export interface Outgoing {
  readonly body: Buffer;
  readonly nonce: string;
  /**
   * Every stream sent this body is sent this nonce (the content version): the whole message is
   * shared, so a transport may frame (and compress) it once and write the same bytes everywhere.
   */
  readonly shared: boolean;
}

/** Per-type state a stream reports for debug output and fleet status. */
export interface TypeStatus {
  /** Version last sent (or resumed at). */
  sent?: string;
  /** Version last acknowledged. */
  acked?: string;
  /** The client's last answer for the type was a NACK. */
  nacked: boolean;
  wildcard: boolean;
  names: number;
}

const TYPE_INDEX = new Map<string, number>(PUSH_ORDER.map((t, i) => [t, i]));

/** Index of a type in {@link PUSH_ORDER}, which is also its dirty bit. */
export function typeIndex(typeUrl: TypeUrl): number {
  return TYPE_INDEX.get(typeUrl) as number;
}

/** EDS is never paced: an endpoint change must not wait behind a route wave. */
const UNPACED = typeIndex(ENDPOINT_TYPE);
/** Types whose removals wait for the routing pushes (make before break). */
const BREAKABLE = (1 << typeIndex(CLUSTER_TYPE)) | (1 << typeIndex(ENDPOINT_TYPE));
/** Types that name clusters: listeners (TCP proxies) and route configurations. */
const ROUTING = (1 << typeIndex(LISTENER_TYPE)) | (1 << typeIndex(ROUTE_TYPE));

const GATE_COLD = 0;
const GATE_WAITING = 1;
const GATE_HOLDING = 2;
const GATE_WARM = 3;

export abstract class XdsStream {
  abstract readonly protocol: 'sotw' | 'delta';
  /** Node and group, once the first request was accepted. */
  peer?: StreamPeer;
  closed = false;
  /** When max connection age ends this stream (ms since epoch). */
  deadline = Number.POSITIVE_INFINITY;
  /** The client's address and port (its connection), set by the hub for per-connection limits. */
  connection = '';
  /** The client's address, set by the hub for per-peer limits. */
  remote = '';
  /** Names per type index, and their sum, for the names-per-stream limit. */
  private readonly namesPerType = PUSH_ORDER.map(() => 0);
  private namesTotal = 0;
  /** Dirty bit per type index: a response may be owed. */
  protected dirty = 0;
  protected nonceSeq = 0;
  private inFlight = false;
  /** Queued in the pacer for room (at most once). */
  private pacing = false;
  /** Bytes of the in-flight write counted by the pacer (returned once: written or closed). */
  private pacedBytes = 0;
  private gateState = GATE_COLD;
  /** Unknown type URLs already warned about (rare; allocated on first use). */
  private warned?: Set<string>;

  constructor(
    protected readonly ctx: StreamContext,
    protected readonly call: StreamCall,
    /** Set for a per-type service: the only type this stream serves. */
    readonly onlyType: TypeUrl | undefined,
    /** Who the client authenticated as, and which groups it may receive. */
    readonly principal: Principal,
  ) {}

  /** Handles one decoded request. */
  abstract handleRequest(req: unknown): void;
  /** The client's answers for the type at `index`, once the type was requested. */
  abstract answerOf(index: number): TypeAnswer | undefined;
  /** Per-type status (short type name → status). */
  abstract status(): Record<string, TypeStatus>;
  /** Builds the response owed for the type at `index`, or null if nothing is owed. */
  protected abstract build(index: number): Outgoing | null;
  /** Types this stream is subscribed to, as a dirty mask. */
  protected abstract subscribedMask(): number;

  /** A listener or route push is owed: cluster and endpoint removals must wait for it. */
  protected routingOwed(index: number): boolean {
    return ((1 << index) & BREAKABLE) !== 0 && (this.dirty & ROUTING) !== 0;
  }

  /**
   * The set to send now for a CDS or EDS move from `held` to `to`: `to` itself, or, while routes
   * that may still name what `to` drops are owed and `to` also adds, `to` plus the dropped
   * resources (removed once the routes are out: see {@link removesHeld}).
   */
  protected makeBeforeBreak(index: number, held: ServedSet | undefined, to: ServedSet): ServedSet {
    if (!held || held === to || !this.routingOwed(index)) return to;
    const change = setChange(held, to);
    if (!(change.removes && change.adds)) return to;
    // Still owed: the move from the bridge to `to` (a removal) once the routes are out.
    this.dirty |= 1 << index;
    return bridgeSet(held, to);
  }
  /**
   * Whether the response owed for the type at `index` (CDS or EDS) would take away resources the
   * client holds and should therefore wait for the routing pushes: it removes names, and either the
   * subscription names what it wants (a client subscribes to new clusters only after the routes
   * naming them arrive, so there is nothing to add first) or it adds nothing.
   */
  protected abstract removesHeld(index: number): boolean;

  /** A new snapshot of this stream's group: every subscribed type may owe a response. */
  onSnapshot(_snapshot: GroupSnapshot): void {
    this.dirty |= this.subscribedMask();
    this.flush();
  }

  /** Ends the stream with status OK (the client reconnects, here or elsewhere). */
  end(why: string): void {
    if (this.closed) return;
    this.close(why);
    try {
      this.call.end();
    } catch {
      // The call is already gone.
    }
  }

  /** Ends the stream with a non-OK status (a drain: the client reconnects elsewhere). */
  endWith(code: grpc.status, details: string, why: string): void {
    if (this.closed) return;
    this.close(why);
    try {
      this.call.fail(code, details);
    } catch {
      // The call is already gone.
    }
  }

  /** Forgets the stream (idempotent); the call itself is ended by whoever called this. */
  close(why: string, err?: unknown): void {
    if (this.closed) return;
    this.closed = true;
    this.dirty = 0;
    this.returnPacedBytes();
    if (this.gateState === GATE_HOLDING) this.ctx.gate.release();
    else if (this.gateState === GATE_WAITING) this.ctx.metrics.initialPushQueued.dec();
    this.gateState = GATE_WARM;
    this.ctx.left(this);
    if (this.peer) this.ctx.events?.onDisconnect?.(this.peer);
    this.ctx.log.debug({ node: this.peer?.nodeId, why, err: err ? String(err) : undefined }, 'stream closed');
  }

  /** One decoded request from the transport; a failure is logged and the stream stays open. */
  receive(req: unknown): void {
    if (this.closed) return;
    try {
      this.handleRequest(req);
    } catch (err) {
      this.requestFailed(err);
    }
  }

  /** The client half-closed: it wants nothing more, so the call ends with OK. */
  halfClosed(): void {
    if (!this.closed) this.end('client ended');
  }

  /** Logs a request that could not be handled; the stream stays open. */
  requestFailed(err: unknown): void {
    this.ctx.mistakes.report(
      'request_failed',
      { err: String(err), node: this.peer?.nodeId },
      'request handling failed',
    );
  }

  /** The type a request is about, or undefined (after a one-time warning) if not served here. */
  protected requestType(typeUrl: string): TypeUrl | undefined {
    const maxLength = this.ctx.limits.maxTypeUrlLength;
    if (maxLength > 0 && typeUrl.length > maxLength) {
      this.refuse('type_url_length', grpc.status.INVALID_ARGUMENT, `type_url longer than ${maxLength}`, {
        typeUrl,
      });
      return undefined;
    }
    if (typeUrl === '' && !this.onlyType) {
      // Every request on an aggregated stream names its type; one that does not is not xDS.
      this.refuse('missing_type_url', grpc.status.INVALID_ARGUMENT, 'type_url is required on ADS', {}, false);
      return undefined;
    }
    const t = this.onlyType && typeUrl === '' ? this.onlyType : typeUrl;
    if (isTypeUrl(t) && (!this.onlyType || t === this.onlyType)) return t;
    this.warned ??= new Set();
    if (!this.warned.has(t) && this.warned.size < 8) {
      // Remember a few (short) ones only: a hostile client must not grow this set.
      if (t.length <= 256) this.warned.add(t);
      this.ctx.mistakes.report(
        'unknown_type',
        { node: this.peer?.nodeId, typeUrl: t, only: this.onlyType },
        'request for a type this stream does not serve; ignored',
      );
    }
    return undefined;
  }

  /**
   * Maps the first request's node to its group within what the credential allows. Returns null
   * when refused (the stream is then ended with PERMISSION_DENIED).
   */
  protected identify(node: NodeInfo | null | undefined): StreamPeer | null {
    const resolved = resolveGroup(this.principal, node, this.ctx.defaultGroup);
    if ('denied' in resolved) {
      this.ctx.metrics.permissionDenied.inc();
      this.ctx.mistakes.report(
        'permission_denied',
        {
          node: node?.id,
          claimed: node?.metadata?.fields?.ambassador_id?.stringValue,
          allowed: this.principal.groups,
          credential: this.principal.name,
        },
        'node asks for a group its credential does not allow; refused',
      );
      this.close('permission denied');
      try {
        this.call.fail(grpc.status.PERMISSION_DENIED, resolved.denied);
      } catch {
        // The call is already gone.
      }
      return null;
    }
    const peer: StreamPeer = {
      nodeId: (node?.id ?? '').slice(0, MAX_NODE_FIELD),
      cluster: (node?.cluster ?? '').slice(0, MAX_NODE_FIELD),
      group: resolved.group,
    };
    this.peer = peer;
    this.ctx.events?.onConnect?.(peer);
    this.ctx.joined(this);
    return peer;
  }

  /**
   * Records that the type at `index` will name at most `count` resources. Over the names-per-stream
   * limit the stream is ended with RESOURCE_EXHAUSTED and false is returned (apply nothing).
   */
  protected withinNameLimit(index: number, count: number): boolean {
    const max = this.ctx.limits.maxNamesPerStream;
    const next = this.namesTotal - (this.namesPerType[index] ?? 0) + count;
    if (max > 0 && next > max) {
      this.refuse(
        'names_per_stream',
        grpc.status.RESOURCE_EXHAUSTED,
        `more than ${max} resource names on one stream`,
        { names: next },
      );
      return false;
    }
    this.namesTotal = next;
    this.namesPerType[index] = count;
    return true;
  }

  /**
   * Ends the stream with `code`: counted under `reason` (also as a limit hit when `isLimit`), and
   * logged at a bounded rate.
   */
  protected refuse(
    reason: string,
    code: grpc.status,
    details: string,
    fields: Record<string, unknown>,
    isLimit = true,
  ): void {
    if (isLimit) this.ctx.metrics.limitHits.inc({ limit: reason });
    this.ctx.mistakes.report(reason, { node: this.peer?.nodeId, ...fields }, `stream refused: ${details}`);
    this.close(reason);
    try {
      this.call.fail(code, details);
    } catch {
      // The call is already gone.
    }
  }

  /** Counted in the group's tally: joined (identified) and not closed. */
  private get tallied(): boolean {
    return this.peer !== undefined && !this.closed;
  }

  /** The type at `index` was requested for the first time: its (empty) answer now counts. */
  protected requested(index: number, answer: TypeAnswer): void {
    if (this.tallied) this.ctx.tally.add((this.peer as StreamPeer).group, index, answer);
  }

  /**
   * Records the client's answer for the type at `index` (`answer` is the type's state object),
   * keeping the group's tally in step.
   */
  protected answer(
    index: number,
    answer: { ackedVersion?: string; nacked: boolean },
    ackedVersion: string | undefined,
    nacked: boolean,
  ): void {
    const counted = this.tallied;
    const group = this.peer?.group as string;
    if (counted) this.ctx.tally.remove(group, index, answer);
    answer.ackedVersion = ackedVersion;
    answer.nacked = nacked;
    if (counted) this.ctx.tally.add(group, index, answer);
  }

  /** Marks the type at `index` as owing a response and writes if the stream can. */
  protected want(index: number): void {
    this.dirty |= 1 << index;
    this.flush();
  }

  protected forget(index: number): void {
    this.dirty &= ~(1 << index);
  }

  /** Writes the first owed response in push order, if no write is in flight and the gate allows. */
  protected flush(): void {
    if (this.closed || this.inFlight || !this.peer) return;
    if (this.dirty !== 0) {
      if (this.gateState === GATE_WAITING) return;
      if (this.gateState === GATE_COLD) {
        if (!this.ctx.gate.tryAcquire(this)) {
          this.gateState = GATE_WAITING;
          this.ctx.metrics.initialPushQueued.inc();
          return;
        }
        this.gateState = GATE_HOLDING;
      }
      const pacer = this.ctx.pacer;
      while (this.dirty !== 0) {
        let next = this.dirty;
        if ((next & ROUTING) !== 0 && (next & BREAKABLE) !== 0) {
          // Make before break: removals wait for the listener and route pushes owed.
          for (let bits = next & BREAKABLE; bits !== 0; bits &= bits - 1) {
            const i = 31 - Math.clz32(bits & -bits);
            if (this.removesHeld(i)) next &= ~(1 << i);
          }
        }
        const index = 31 - Math.clz32(next & -next);
        const paced = index !== UNPACED;
        if (paced && !pacer.hasRoom()) {
          // Wait for the wave; the dirty bit stays, so what is sent then is the newest.
          if (!this.pacing) {
            this.pacing = true;
            pacer.wait(this);
          }
          return;
        }
        this.dirty &= ~(1 << index);
        const out = this.build(index);
        if (!out) continue;
        this.inFlight = true;
        this.pacedBytes = paced ? out.body.length : 0;
        if (this.pacedBytes > 0) pacer.started(this.pacedBytes);
        this.call.send(out, () => this.written());
        return;
      }
    }
    if (this.gateState === GATE_HOLDING) {
      // Everything owed at admission is out: later pushes are not initial ones.
      this.gateState = this.nonceSeq > 0 ? GATE_WARM : GATE_COLD;
      this.ctx.gate.release();
    }
  }

  /** The gate admitted this stream after it waited (holding a permit now). */
  admitted(): void {
    if (this.closed) {
      this.ctx.gate.release();
      return;
    }
    this.ctx.metrics.initialPushQueued.dec();
    this.gateState = GATE_HOLDING;
    this.flush();
  }

  /** The pacer has room again. */
  paced(): void {
    this.pacing = false;
    this.flush();
  }

  private written(): void {
    this.inFlight = false;
    this.returnPacedBytes();
    this.flush();
  }

  /** Gives the in-flight write's bytes back to the pacer, once (a closed stream's write may never call back). */
  private returnPacedBytes(): void {
    const bytes = this.pacedBytes;
    if (bytes === 0) return;
    this.pacedBytes = 0;
    this.ctx.pacer.finished(bytes);
  }

  protected countResponse(typeUrl: TypeUrl): void {
    this.ctx.metrics.responses.inc({ type: shortName(typeUrl), group: this.peer?.group ?? '' });
  }
}
