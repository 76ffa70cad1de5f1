/**
 * What the state-of-the-world and delta simulated Envoys share: the ADS call's lifecycle (open,
 * retry with Envoy's backoff, close), the node sent on the first message of each call only
 * (`set_node_on_first_message_only`), Envoy's start-up order (CDS → EDS → LDS → RDS) and the
 * "configured" moment. A subclass owns only its protocol: how it (re)subscribes, how it reads a
 * response and what it holds.
 */
import {
  CLUSTER_TYPE,
  ENDPOINT_TYPE,
  LISTENER_TYPE,
  ROUTE_TYPE,
  shortName,
  VIRTUAL_HOST_TYPE,
} from '../../shared/xds/type-urls.ts';
import type { SimCall } from './h2-channel.ts';
import type { SimStream, StreamContext } from './stream-context.ts';

/** The bookkeeping every type subscription has, whatever the protocol. */
export interface TypeProgress {
  /** A subscription for the type has been sent (on this or an earlier call). */
  subscribed: boolean;
  /** At least one response for the type has been ACKed. */
  acked: boolean;
}

/** The node a simulated Envoy names in the first request of a call. */
export interface SimNode {
  id: string;
  cluster: string;
  metadata?: { fields: Record<string, { boolValue: boolean }> };
}

/**
 * The dependent type a type's resources name: EDS for clusters, RDS for listeners, VHDS for route
 * configurations that use it (their own name, as a namespace).
 */
export const DEPENDENT: Readonly<Record<string, string>> = {
  [CLUSTER_TYPE]: ENDPOINT_TYPE,
  [LISTENER_TYPE]: ROUTE_TYPE,
  [ROUTE_TYPE]: VIRTUAL_HOST_TYPE,
};

const STREAM_TYPES = [CLUSTER_TYPE, ENDPOINT_TYPE, LISTENER_TYPE, ROUTE_TYPE, VIRTUAL_HOST_TYPE] as const;

export abstract class EnvoyStream<S extends TypeProgress> implements SimStream {
  private call?: SimCall;
  protected readonly types = new Map<string, S>();
  private nodeSent = false;
  private isConfigured = false;
  private attempt = 0;
  private retry?: NodeJS.Timeout;
  private closed = false;

  constructor(
    readonly index: number,
    protected readonly ctx: StreamContext,
    private readonly methodPath: string,
    initial: (typeUrl: string) => S,
  ) {
    for (const t of STREAM_TYPES) this.types.set(t, initial(t));
  }

  abstract holdings(): Map<string, number>;
  /** Handles one response of the current call (raw DiscoveryResponse / DeltaDiscoveryResponse bytes). */
  protected abstract onResponse(bytes: Buffer): void;
  /** Sends the first subscription request for a type and marks it subscribed. */
  protected abstract subscribe(typeUrl: string): void;
  /** On a new call after an earlier one: re-sends every subscription with what is held. */
  protected abstract resubscribe(): void;

  open(): void {
    if (this.closed) return;
    const call: SimCall = this.ctx.channel(this.index).call(this.methodPath, {
      message: (bytes) => {
        if (this.call === call) this.onResponse(bytes);
      },
      end: (code, details) => this.onEnd(call, code, details),
    });
    this.call = call;
    this.nodeSent = false;
    this.ctx.observe.calling(this.index);
    const resuming = [...this.types.values()].some((s) => s.subscribed);
    if (resuming) this.resubscribe();
    else this.subscribe(CLUSTER_TYPE);
  }

  close(): void {
    this.closed = true;
    if (this.retry) clearTimeout(this.retry);
    const call = this.call;
    this.call = undefined;
    call?.cancel();
  }

  /**
   * Writes one request on the current call (dropped when there is none); `encode` receives the
   * node on the call's first message only.
   */
  protected send(encode: (node: SimNode | undefined) => Buffer): void {
    const call = this.call;
    if (!call) return;
    const node: SimNode | undefined = this.nodeSent
      ? undefined
      : {
          id: this.ctx.nodeId(this.index),
          cluster: 'fleet-bench',
          ...(this.ctx.vhds ? { metadata: { fields: { attache_vhds: { boolValue: true } } } } : {}),
        };
    this.nodeSent = true;
    call.write(encode(node));
  }

  /** A response was accepted: the stream is healthy again (backoff resets) and the response counts. */
  protected responded(typeUrl: string, bytes: number): void {
    this.attempt = 0;
    this.ctx.observe.response(shortName(typeUrl), bytes);
  }

  /**
   * After a response of `typeUrl` was handled: LDS is subscribed once clusters (and their
   * endpoints, when CDS names any) are in, and the stream reports itself configured once.
   */
  protected advance(typeUrl: string, clustersNameEndpoints: boolean, at: number): void {
    if (typeUrl === ENDPOINT_TYPE || (typeUrl === CLUSTER_TYPE && !clustersNameEndpoints)) {
      if (!this.state(LISTENER_TYPE).subscribed) this.subscribe(LISTENER_TYPE);
    }
    if (!this.isConfigured && this.complete()) {
      this.isConfigured = true;
      this.ctx.observe.configured(this.index, at);
    }
  }

  protected state(typeUrl: string): S {
    return this.types.get(typeUrl) as S;
  }

  private complete(): boolean {
    for (const typeUrl of [CLUSTER_TYPE, LISTENER_TYPE]) if (!this.state(typeUrl).acked) return false;
    for (const typeUrl of [ENDPOINT_TYPE, ROUTE_TYPE, VIRTUAL_HOST_TYPE]) {
      const s = this.state(typeUrl);
      if (s.subscribed && !s.acked) return false;
    }
    return true;
  }

  private onEnd(call: SimCall, code: number, details: string): void {
    if (this.call !== call) return;
    this.call = undefined;
    this.ctx.observe.ended(this.index, code, details);
    if (this.closed || this.ctx.closing()) return;
    this.retry = setTimeout(
      () => {
        this.retry = undefined;
        this.open();
      },
      this.ctx.backoffMs(this.attempt++),
    );
  }
}
