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
  /** The version the client rejected (the last one sent for the type). */
  rejectedVersion: string;
  /** The version the client reports holding. */
  clientVersion: string;
  /** The client's `error_detail.message`. */
  message: string;
}

export interface AdsEvents {
  onConnect?(peer: StreamPeer): void;
  onAck?(peer: StreamPeer, ack: { typeUrl: TypeUrl; version: string }): void;
  onNack?(peer: StreamPeer, nack: NackInfo): void;
  onDisconnect?(peer: StreamPeer): void;
}
