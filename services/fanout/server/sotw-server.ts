/**
 * Connects gRPC bidi calls to {@link SotwStream}s and snapshot updates to the streams of the
 * updated group. One listener on the snapshot source serves every stream; a stream joins its
 * group's set once its first request named the node.
 */
import type * as grpc from '@grpc/grpc-js';
import { errorMessage } from '../../../shared/runtime/errors.ts';
import type { Logger } from '../../../shared/runtime/logger.ts';
import type { GroupSnapshot, SnapshotSource } from '../cache/group-snapshot.ts';
import type { AdsEvents } from './ads-events.ts';
import type { AdsMetrics } from './ads-metrics.ts';
import type { DiscoveryRequest } from './discovery-codec.ts';
import { type NodeInfo, SotwStream } from './sotw-stream.ts';

export interface SotwServerOptions {
  source: SnapshotSource;
  metrics: AdsMetrics;
  log: Logger;
  /** Group for nodes whose metadata names none. */
  defaultGroup: string;
  events?: AdsEvents;
}

export interface StreamStatus {
  node: string;
  group: string;
  types: ReturnType<SotwStream['status']>;
}

interface Open {
  stream: SotwStream;
  call: grpc.ServerDuplexStream<DiscoveryRequest, Buffer>;
  /** Forgets the stream (idempotent). */
  finish(why: string, err?: unknown): void;
}

export class SotwServer {
  private readonly byGroup = new Map<string, Set<Open>>();
  private readonly all = new Set<Open>();
  private readonly unsubscribe: () => void;

  constructor(private readonly opts: SotwServerOptions) {
    this.unsubscribe = opts.source.subscribe((next) => this.onSnapshot(next));
  }

  /** Number of open streams. */
  get streamCount(): number {
    return this.all.size;
  }

  /** Every open stream's node, group and per-type versions (for debug output). */
  status(): StreamStatus[] {
    return [...this.all].map(({ stream }) => ({
      node: stream.peer?.nodeId ?? '',
      group: stream.peer?.group ?? '',
      types: stream.status(),
    }));
  }

  /** The grpc-js handler for `StreamAggregatedResources`. */
  readonly handle = (call: grpc.ServerDuplexStream<DiscoveryRequest, Buffer>): void => {
    let closed = false;
    const stream = new SotwStream({
      source: this.opts.source,
      send: (bytes) => {
        if (!closed) call.write(bytes);
      },
      groupOf: (node) => groupOf(node, this.opts.defaultGroup),
      metrics: this.opts.metrics,
      log: this.opts.log,
      events: this.opts.events,
    });
    const finish = (why: string, err?: unknown) => {
      if (closed) return;
      closed = true;
      this.all.delete(open);
      const peer = stream.peer;
      if (peer) {
        this.byGroup.get(peer.group)?.delete(open);
        this.opts.metrics.streams.dec({ group: peer.group });
        this.opts.events?.onDisconnect?.(peer);
      }
      this.opts.log.debug(
        { node: peer?.nodeId, why, err: err ? errorMessage(err) : undefined },
        'stream closed',
      );
    };
    const open: Open = { stream, call, finish };
    this.all.add(open);
    call.on('data', (req: DiscoveryRequest) => {
      if (closed) return;
      const known = stream.peer !== undefined;
      try {
        stream.handleRequest(req);
      } catch (err) {
        this.opts.log.error({ err: errorMessage(err), node: stream.peer?.nodeId }, 'request handling failed');
      }
      const peer = stream.peer;
      if (!known && peer && !closed) {
        let set = this.byGroup.get(peer.group);
        if (!set) {
          set = new Set();
          this.byGroup.set(peer.group, set);
        }
        set.add(open);
        this.opts.metrics.streams.inc({ group: peer.group });
      }
    });
    // The client half-closed: it wants nothing more, so the call ends with OK.
    call.on('end', () => {
      const wasOpen = !closed;
      finish('client ended');
      if (wasOpen) call.end();
    });
    call.on('cancelled', () => finish('cancelled'));
    call.on('error', (err) => finish('error', err));
    call.on('close', () => finish('closed'));
  };

  /** Ends every open stream with status OK, so clients reconnect (to this node or another). */
  endAll(): void {
    for (const open of [...this.all]) {
      open.finish('server closing');
      try {
        open.call.end();
      } catch {
        // The call is already gone.
      }
    }
  }

  close(): void {
    this.unsubscribe();
    this.endAll();
  }

  private onSnapshot(next: GroupSnapshot): void {
    for (const open of this.byGroup.get(next.group) ?? []) {
      try {
        open.stream.onSnapshot(next);
      } catch (err) {
        this.opts.log.error({ err: errorMessage(err), node: open.stream.peer?.nodeId }, 'push failed');
      }
    }
  }
}

/** `node.metadata.ambassador_id` when it is a non-empty string, else the default group. */
export function groupOf(node: NodeInfo | null, defaultGroup: string): string {
  const v = node?.metadata?.fields?.ambassador_id;
  return v?.stringValue ? v.stringValue : defaultGroup;
}
