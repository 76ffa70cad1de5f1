/**
 * Connects gRPC calls to xDS streams and snapshot updates to the streams of the updated group.
 * One listener on the snapshot source serves every stream; a stream joins its group's set once
 * its first request named the node. The hub also owns what applies to all streams at once:
 * maximum connection age, graceful drain, the initial-push gate and fleet-status summaries.
 * Transports (h2-transport.ts, grpcjs-transport.ts) open streams through {@link StreamHub.open}
 * and feed them requests; the hub knows no transport.
 */
import type { PeerCertificate } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { errorMessage } from '../../../shared/runtime/errors.ts';
import type { Logger } from '../../../shared/runtime/logger.ts';
import { PUSH_ORDER, type TypeUrl } from '../../../shared/xds/type-urls.ts';
import type { GroupSnapshot, SnapshotSource } from '../cache/group-snapshot.ts';
import { AckTally, type TypeSummary } from './ack-tally.ts';
import type { AdsEvents } from './ads-events.ts';
import type { AdsMetrics } from './ads-metrics.ts';
import { authenticate, type ClientAuthOptions, type ConnectionAuth } from './client-auth.ts';
import type { AdsLimits } from './client-limits.ts';
import type { ClientMistakes } from './client-mistakes.ts';
import { DeltaStream } from './delta-stream.ts';
import { InitialPushGate } from './initial-push-gate.ts';
import { SotwStream } from './sotw-stream.ts';
import { WritePacer } from './write-pacer.ts';
import type { StreamCall, StreamContext, StreamLimits, TypeStatus, XdsStream } from './xds-stream.ts';

/** Streams told of a new snapshot per turn of the event loop (see `onSnapshot`). */
const DISPATCH_SLICE = 256;

export interface StreamHubOptions {
  source: SnapshotSource;
  metrics: AdsMetrics;
  log: Logger;
  mistakes: ClientMistakes;
  /** How streams authenticate (client-auth.ts). */
  auth: ClientAuthOptions;
  limits: HubLimits;
  /** Group for nodes whose metadata names none. */
  defaultGroup: string;
  events?: AdsEvents;
  /** Streams writing their initial responses at once (default 256; the pacer's room also gates). */
  initialPushConcurrency?: number;
  /** Bytes of non-EDS responses in flight at once, i.e. the size of a push wave (default 32 MiB). */
  pushBudgetBytes?: number;
  /** Streams are ended with OK after this age ± 10 % (jittered); 0 or absent: never. */
  maxConnectionAgeMs?: number;
}

export const DEFAULT_INITIAL_PUSH_CONCURRENCY = 256;
export const DEFAULT_PUSH_BUDGET_BYTES = 32 * 1024 * 1024;

/** Limits on streams (0 disables one); per-stream ones are passed on to every stream. */
export type HubLimits = StreamLimits & Pick<AdsLimits, 'maxStreamsPerConnection' | 'maxStreamsPerPeer'>;

/** `host` of a grpc-js peer string `host:port` / `[v6]:port`. */
export function peerHost(peer: string): string {
  const i = peer.lastIndexOf(':');
  const host = i > 0 ? peer.slice(0, i) : peer;
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

export interface StreamStatus {
  node: string;
  group: string;
  protocol: 'sotw' | 'delta';
  types: Record<string, TypeStatus>;
}

export type { TypeSummary } from './ack-tally.ts';

/** One group's streams on this fan-out node. */
export interface GroupSummary {
  streams: number;
  types: Record<string, TypeSummary>;
}

/** A call as a transport presents it when it opens: credentials, peer, and where to write. */
export interface IncomingCall {
  /** Initial metadata (the `authorization` entry authenticates). */
  readonly metadata: grpc.Metadata;
  /** The verified client certificate, with mutual TLS. */
  readonly peerCertificate: PeerCertificate | undefined;
  /** `host:port` of the client's connection (`[v6]:port` for IPv6). */
  readonly peer: string;
  readonly out: StreamCall;
  /**
   * The connection's remembered authentication, when the transport keeps one per connection
   * (then `peerCertificate` is the same object for each of its streams).
   */
  readonly connectionAuth?: ConnectionAuth;
}

function decrement(m: Map<string, number>, key: string): void {
  const n = (m.get(key) ?? 0) - 1;
  if (n > 0) m.set(key, n);
  else m.delete(key);
}

export class StreamHub {
  private readonly byGroup = new Map<string, Set<XdsStream>>();
  /** Per group: the snapshot being told to its streams, and how far the telling got. */
  private readonly dispatches = new Map<
    string,
    { snapshot: GroupSnapshot; streams: readonly XdsStream[]; at: number }
  >();
  private readonly all = new Set<XdsStream>();
  /** Open streams per connection and per client address (for the limits). */
  private readonly perConnection = new Map<string, number>();
  private readonly perPeer = new Map<string, number>();
  private readonly ctx: StreamContext;
  private readonly tally = new AckTally();
  private readonly unsubscribe: () => void;
  private readonly sweeper?: NodeJS.Timeout;
  private draining = false;

  constructor(private readonly opts: StreamHubOptions) {
    const hub = this;
    const pacer = new WritePacer(opts.pushBudgetBytes ?? DEFAULT_PUSH_BUDGET_BYTES);
    this.ctx = {
      source: opts.source,
      metrics: opts.metrics,
      log: opts.log,
      mistakes: opts.mistakes,
      limits: opts.limits,
      events: opts.events,
      defaultGroup: opts.defaultGroup,
      gate: new InitialPushGate(opts.initialPushConcurrency ?? DEFAULT_INITIAL_PUSH_CONCURRENCY, () =>
        pacer.hasRoom(),
      ),
      pacer,
      tally: this.tally,
      joined(stream) {
        hub.join(stream);
      },
      left(stream) {
        hub.leave(stream);
      },
    };
    pacer.onRoom = () => this.ctx.gate.pump();
    this.unsubscribe = opts.source.subscribe((next) => this.onSnapshot(next));
    const age = opts.maxConnectionAgeMs ?? 0;
    if (age > 0) {
      this.sweeper = setInterval(() => this.sweep(), Math.min(1000, Math.max(10, age / 20)));
      this.sweeper.unref();
    }
  }

  /** Number of open streams. */
  get streamCount(): number {
    return this.all.size;
  }

  /** The initial-push gate (for tests and debug output). */
  get gate(): InitialPushGate {
    return this.ctx.gate;
  }

  /**
   * Opens an xDS stream for a call: refuses it (with the status sent on `call.out`) when the node
   * is draining, the credentials fail or a stream limit is reached. The transport then feeds the
   * stream (`receive`, `halfClosed`, `close`).
   */
  open(call: IncomingCall, protocol: 'sotw' | 'delta', onlyType: TypeUrl | undefined): XdsStream | undefined {
    if (this.draining) {
      call.out.fail(grpc.status.UNAVAILABLE, 'fan-out node is draining; reconnect elsewhere');
      return undefined;
    }
    const auth = authenticate(this.opts.auth, call.metadata, call.peerCertificate, call.connectionAuth);
    if ('refused' in auth) {
      // Refused before a single request is read: no resources, no fleet events.
      const { code, details, reason } = auth.refused;
      if (code === grpc.status.PERMISSION_DENIED) this.opts.metrics.permissionDenied.inc();
      else this.opts.metrics.unauthenticated.inc();
      this.opts.mistakes.report(reason, { peer: call.peer, details }, 'xDS stream refused');
      call.out.fail(code, details);
      return undefined;
    }
    const principal = auth.principal;
    const connection = call.peer;
    const remote = peerHost(connection);
    const over = this.overStreamLimit(connection, remote);
    if (over) {
      this.opts.metrics.limitHits.inc({ limit: over.limit });
      this.opts.mistakes.report(over.limit, { peer: connection }, 'xDS stream refused: too many streams');
      call.out.fail(grpc.status.RESOURCE_EXHAUSTED, over.details);
      return undefined;
    }
    if (principal.via === 'anonymous') {
      this.opts.log.warn(
        { peer: connection },
        'unauthenticated xDS stream accepted (--allow-unauthenticated): it may ask for any group',
      );
    }
    const stream =
      protocol === 'sotw'
        ? new SotwStream(this.ctx, call.out, onlyType, principal)
        : new DeltaStream(this.ctx, call.out, onlyType, principal);
    stream.connection = connection;
    stream.remote = remote;
    this.perConnection.set(connection, (this.perConnection.get(connection) ?? 0) + 1);
    this.perPeer.set(remote, (this.perPeer.get(remote) ?? 0) + 1);
    const age = this.opts.maxConnectionAgeMs ?? 0;
    if (age > 0) stream.deadline = Date.now() + age * (0.9 + Math.random() * 0.2);
    this.all.add(stream);
    return stream;
  }

  private join(stream: XdsStream): void {
    const group = stream.peer?.group as string;
    let set = this.byGroup.get(group);
    if (!set) {
      set = new Set();
      this.byGroup.set(group, set);
    }
    set.add(stream);
    this.count(stream, group, 1);
    this.opts.metrics.streams.inc({ group });
  }

  /** Adds (+1) or takes back (-1) the stream's answers in the group's tally. */
  private count(stream: XdsStream, group: string, sign: 1 | -1): void {
    for (let i = 0; i < PUSH_ORDER.length; i++) {
      const a = stream.answerOf(i);
      if (!a) continue;
      if (sign > 0) this.tally.add(group, i, a);
      else this.tally.remove(group, i, a);
    }
  }

  /** Which stream limit a new stream on `connection` from `remote` would exceed, if any. */
  private overStreamLimit(
    connection: string,
    remote: string,
  ): { limit: string; details: string } | undefined {
    const { maxStreamsPerConnection: perConn, maxStreamsPerPeer: perPeer } = this.opts.limits;
    if (perConn > 0 && (this.perConnection.get(connection) ?? 0) >= perConn) {
      return { limit: 'streams_per_connection', details: `more than ${perConn} streams on one connection` };
    }
    if (perPeer > 0 && (this.perPeer.get(remote) ?? 0) >= perPeer) {
      return { limit: 'streams_per_peer', details: `more than ${perPeer} streams from one address` };
    }
    return undefined;
  }

  private leave(stream: XdsStream): void {
    if (this.all.delete(stream)) {
      decrement(this.perConnection, stream.connection);
      decrement(this.perPeer, stream.remote);
    }
    const group = stream.peer?.group;
    if (group === undefined) return;
    const set = this.byGroup.get(group);
    if (set?.delete(stream)) {
      this.count(stream, group, -1);
      this.opts.metrics.streams.dec({ group });
      if (set.size === 0) this.byGroup.delete(group);
    }
  }

  /** Every open stream's node, group and per-type versions (for debug output). */
  status(): StreamStatus[] {
    return [...this.all].map((s) => ({
      node: s.peer?.nodeId ?? '',
      group: s.peer?.group ?? '',
      protocol: s.protocol,
      types: s.status(),
    }));
  }

  /** Groups with open streams on this node, sorted. */
  groups(): string[] {
    return [...this.byGroup.keys()].sort();
  }

  /**
   * Which version each of the group's streams has ACKed, per type (see {@link GroupSummary}), from
   * the running tally: no walk over the streams (ack-tally.ts).
   */
  summary(group: string): GroupSummary {
    return { streams: this.byGroup.get(group)?.size ?? 0, types: this.tally.types(group) };
  }

  /** Ends every open stream with status OK at once, so clients reconnect (here or elsewhere). */
  endAll(reason = 'shutdown'): void {
    for (const s of [...this.all]) this.endOne(s, reason);
  }

  /**
   * Refuses new streams and ends the open ones with OK, spread evenly over `windowMs` in random
   * order, so the fleet reconnects elsewhere gradually instead of in one storm.
   */
  async drain(windowMs: number): Promise<void> {
    this.draining = true;
    const order = [...this.all];
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1));
      [order[i], order[j]] = [order[j] as XdsStream, order[i] as XdsStream];
    }
    if (windowMs <= 0 || order.length === 0) {
      for (const s of order) this.endOne(s, 'drain');
      return;
    }
    const started = Date.now();
    const tick = Math.max(5, Math.min(100, windowMs / 100));
    let ended = 0;
    while (ended < order.length) {
      const due = Math.min(order.length, Math.ceil((order.length * (Date.now() - started)) / windowMs));
      while (ended < due) this.endOne(order[ended++] as XdsStream, 'drain');
      if (ended < order.length) await new Promise((r) => setTimeout(r, tick));
    }
  }

  /** New streams are refused with UNAVAILABLE from now on (the node is draining). */
  stopAccepting(): void {
    this.draining = true;
  }

  /** Ends one stream with a non-OK status, counted under `reason`. */
  endWith(s: XdsStream, reason: string, code: grpc.status, details: string): void {
    if (s.closed) return;
    this.opts.metrics.streamsEnded.inc({ reason });
    s.endWith(code, details, reason);
  }

  close(): void {
    this.unsubscribe();
    if (this.sweeper) clearInterval(this.sweeper);
    this.endAll();
  }

  private endOne(s: XdsStream, reason: string): void {
    if (s.closed) return;
    this.opts.metrics.streamsEnded.inc({ reason });
    s.end(reason);
  }

  /** Ends streams past their (jittered) maximum age. */
  private sweep(): void {
    const now = Date.now();
    for (const s of this.all) if (s.deadline <= now) this.endOne(s, 'max_age');
  }

  /**
   * Tells the group's streams of a new snapshot, {@link DISPATCH_SLICE} streams per turn of the
   * event loop: the first streams' responses reach their sockets (and their ACKs come back) while
   * later streams are still being told, instead of every write of the push queuing behind one
   * synchronous loop over 10,000 streams. A newer snapshot of the group restarts the dispatch
   * from the first stream; streams always build from the newest snapshot, so none is skipped.
   */
  private onSnapshot(next: GroupSnapshot): void {
    const set = this.byGroup.get(next.group);
    if (!set || set.size === 0) return;
    const running = this.dispatches.has(next.group);
    this.dispatches.set(next.group, { snapshot: next, streams: [...set], at: 0 });
    if (!running) this.dispatch(next.group);
  }

  private dispatch(group: string): void {
    const job = this.dispatches.get(group);
    if (!job) return;
    const end = Math.min(job.at + DISPATCH_SLICE, job.streams.length);
    while (job.at < end) {
      const s = job.streams[job.at++] as XdsStream;
      if (s.closed) continue;
      try {
        s.onSnapshot(job.snapshot);
      } catch (err) {
        this.opts.log.error({ err: errorMessage(err), node: s.peer?.nodeId }, 'push failed');
      }
    }
    if (job.at >= job.streams.length) this.dispatches.delete(group);
    else setImmediate(() => this.dispatch(group));
  }
}
