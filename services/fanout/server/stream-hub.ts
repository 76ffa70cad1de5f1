/**
 * Connects gRPC calls to xDS streams and snapshot updates to the streams of the updated group.
 * One listener on the snapshot source serves every stream; a stream joins its group's set once
 * its first request named the node. The hub also owns what applies to all streams at once:
 * maximum connection age, graceful drain, the initial-push gate and fleet-status summaries.
 *
 * Memory: a call carries its stream under a symbol and every call shares the same five event
 * listeners (module functions reading the stream from `this`), so a stream costs its own small
 * state object and nothing per resource.
 */
import * as grpc from '@grpc/grpc-js';
import { errorMessage } from '../../../shared/runtime/errors.ts';
import type { Logger } from '../../../shared/runtime/logger.ts';
import type { TypeUrl } from '../../../shared/xds/type-urls.ts';
import type { GroupSnapshot, SnapshotSource } from '../cache/group-snapshot.ts';
import type { AdsEvents } from './ads-events.ts';
import type { AdsMetrics } from './ads-metrics.ts';
import { authenticate, type ClientAuthOptions } from './client-auth.ts';
import type { AdsLimits } from './client-limits.ts';
import type { ClientMistakes } from './client-mistakes.ts';
import { DeltaStream } from './delta-stream.ts';
import { InitialPushGate } from './initial-push-gate.ts';
import { SotwStream } from './sotw-stream.ts';
import type { StreamCall, StreamContext, StreamLimits, TypeStatus, XdsStream } from './xds-stream.ts';

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
  /** Streams writing their initial responses at once (default 64). */
  initialPushConcurrency?: number;
  /** Streams are ended with OK after this age ± 10 % (jittered); 0 or absent: never. */
  maxConnectionAgeMs?: number;
}

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

/** Per type: how many of this node's streams have ACKed each version, and how many NACKed last. */
export interface TypeSummary {
  acked: Record<string, number>;
  nacking: number;
}

/** One group's streams on this fan-out node. */
export interface GroupSummary {
  streams: number;
  types: Record<string, TypeSummary>;
}

type Call = grpc.ServerDuplexStream<unknown, Buffer>;
type Carrier = Call & { [STREAM]?: XdsStream };

const STREAM = Symbol('xds-stream');

function onData(this: Carrier, req: unknown): void {
  const s = this[STREAM];
  if (!s || s.closed) return;
  try {
    s.handleRequest(req);
  } catch (err) {
    s.requestFailed(err);
  }
}
function onEnd(this: Carrier): void {
  const s = this[STREAM];
  // The client half-closed: it wants nothing more, so the call ends with OK.
  if (s && !s.closed) s.end('client ended');
}
function onCancelled(this: Carrier): void {
  this[STREAM]?.close('cancelled');
}
function onError(this: Carrier, err: unknown): void {
  this[STREAM]?.close('error', err);
}
function onClose(this: Carrier): void {
  this[STREAM]?.close('closed');
}

function decrement(m: Map<string, number>, key: string): void {
  const n = (m.get(key) ?? 0) - 1;
  if (n > 0) m.set(key, n);
  else m.delete(key);
}

export class StreamHub {
  private readonly byGroup = new Map<string, Set<XdsStream>>();
  private readonly all = new Set<XdsStream>();
  /** Open streams per connection and per client address (for the limits). */
  private readonly perConnection = new Map<string, number>();
  private readonly perPeer = new Map<string, number>();
  private readonly ctx: StreamContext;
  private readonly unsubscribe: () => void;
  private readonly sweeper?: NodeJS.Timeout;
  private draining = false;

  constructor(private readonly opts: StreamHubOptions) {
    const hub = this;
    this.ctx = {
      source: opts.source,
      metrics: opts.metrics,
      log: opts.log,
      mistakes: opts.mistakes,
      limits: opts.limits,
      events: opts.events,
      defaultGroup: opts.defaultGroup,
      gate: new InitialPushGate(opts.initialPushConcurrency ?? 64),
      joined(stream) {
        hub.join(stream);
      },
      left(stream) {
        hub.leave(stream);
      },
    };
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

  /** A grpc-js bidi handler for SotW or delta, for every type or only `onlyType`. */
  handler(protocol: 'sotw' | 'delta', onlyType?: TypeUrl): grpc.handleBidiStreamingCall<unknown, Buffer> {
    return (call) => this.accept(call, protocol, onlyType);
  }

  private accept(call: Call, protocol: 'sotw' | 'delta', onlyType: TypeUrl | undefined): void {
    if (this.draining) {
      call.emit('error', {
        code: grpc.status.UNAVAILABLE,
        details: 'fan-out node is draining; reconnect elsewhere',
      });
      return;
    }
    const auth = authenticate(this.opts.auth, call.metadata, call.getAuthContext()?.sslPeerCertificate);
    if ('refused' in auth) {
      // Refused before a single request is read: no resources, no fleet events.
      const { code, details, reason } = auth.refused;
      if (code === grpc.status.PERMISSION_DENIED) this.opts.metrics.permissionDenied.inc();
      else this.opts.metrics.unauthenticated.inc();
      this.opts.mistakes.report(reason, { peer: call.getPeer(), details }, 'xDS stream refused');
      call.emit('error', { code, details });
      return;
    }
    const principal = auth.principal;
    const connection = call.getPeer();
    const remote = peerHost(connection);
    const over = this.overStreamLimit(connection, remote);
    if (over) {
      this.opts.metrics.limitHits.inc({ limit: over.limit });
      this.opts.mistakes.report(over.limit, { peer: connection }, 'xDS stream refused: too many streams');
      call.emit('error', { code: grpc.status.RESOURCE_EXHAUSTED, details: over.details });
      return;
    }
    if (principal.via === 'anonymous') {
      this.opts.log.warn(
        { peer: call.getPeer() },
        'unauthenticated xDS stream accepted (--allow-unauthenticated): it may ask for any group',
      );
    }
    const out = call as unknown as StreamCall;
    const stream =
      protocol === 'sotw'
        ? new SotwStream(this.ctx, out, onlyType, principal)
        : new DeltaStream(this.ctx, out, onlyType, principal);
    stream.connection = connection;
    stream.remote = remote;
    this.perConnection.set(connection, (this.perConnection.get(connection) ?? 0) + 1);
    this.perPeer.set(remote, (this.perPeer.get(remote) ?? 0) + 1);
    const age = this.opts.maxConnectionAgeMs ?? 0;
    if (age > 0) stream.deadline = Date.now() + age * (0.9 + Math.random() * 0.2);
    this.all.add(stream);
    const carrier = call as Carrier;
    carrier[STREAM] = stream;
    call.on('data', onData);
    call.on('end', onEnd);
    call.on('cancelled', onCancelled);
    call.on('error', onError);
    call.on('close', onClose);
  }

  private join(stream: XdsStream): void {
    const group = stream.peer?.group as string;
    let set = this.byGroup.get(group);
    if (!set) {
      set = new Set();
      this.byGroup.set(group, set);
    }
    set.add(stream);
    this.opts.metrics.streams.inc({ group });
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

  /** Which version each of the group's streams has ACKed, per type (see {@link GroupSummary}). */
  summary(group: string): GroupSummary {
    const types: Record<string, TypeSummary> = {};
    const set = this.byGroup.get(group);
    for (const s of set ?? []) {
      for (const [type, st] of Object.entries(s.status())) {
        let t = types[type];
        if (!t) {
          t = { acked: {}, nacking: 0 };
          types[type] = t;
        }
        if (st.acked !== undefined) t.acked[st.acked] = (t.acked[st.acked] ?? 0) + 1;
        if (st.nacked) t.nacking++;
      }
    }
    return { streams: set?.size ?? 0, types };
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

  private onSnapshot(next: GroupSnapshot): void {
    for (const s of this.byGroup.get(next.group) ?? []) {
      try {
        s.onSnapshot(next);
      } catch (err) {
        this.opts.log.error({ err: errorMessage(err), node: s.peer?.nodeId }, 'push failed');
      }
    }
  }
}
