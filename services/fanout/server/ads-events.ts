/**
 * Stream lifecycle hooks, for whoever reports fleet status (connect, ACK, NACK, disconnect).
 * Called synchronously from the stream's request handling: implementations must not block or throw.
 */
import type { TypeUrl } from '../../../shared/xds/type-urls.ts';

/** Who is at the other end of a stream, from the node of its first request. */
export interface StreamPeer {
  nodeId: string;
  cluster: string;
  group: string;
}

export interface NackInfo {
  typeUrl: TypeUrl;
  /** The version the client rejected (the version of the last response sent for the type). */
  rejectedVersion: string;
  /** The version the client reports holding (SotW `version_info`; empty for delta). */
  clientVersion: string;
  /** The client's `error_detail.message`. */
  message: string;
  /** The client's `error_detail.code` (a google.rpc.Code). */
  code: number;
  /** Names of the resources in the rejected response. */
  resourceNames: string[];
  /** Which protocol the stream speaks. */
  protocol: 'sotw' | 'delta';
}

export interface AdsEvents {
  onConnect?(peer: StreamPeer): void;
  onAck?(peer: StreamPeer, ack: { typeUrl: TypeUrl; version: string }): void;
  onNack?(peer: StreamPeer, nack: NackInfo): void;
  onDisconnect?(peer: StreamPeer): void;
}

/** One {@link AdsEvents} that calls each of `all` in order; a hook that throws does not stop the rest. */
export function combineEvents(...all: Array<AdsEvents | undefined>): AdsEvents {
  const hooks = all.filter((e): e is AdsEvents => e !== undefined);
  const each = (f: (e: AdsEvents) => void) => {
    for (const e of hooks) {
      try {
        f(e);
      } catch {
        // Hooks must not throw; one that does must not break the stream or the other hooks.
      }
    }
  };
  return {
    onConnect: (p) => each((e) => e.onConnect?.(p)),
    onAck: (p, a) => each((e) => e.onAck?.(p, a)),
    onNack: (p, n) => each((e) => e.onNack?.(p, n)),
    onDisconnect: (p) => each((e) => e.onDisconnect?.(p)),
  };
}
