/**
 * The state-of-the-world ADS state machine for one stream. Transport-agnostic: it receives
 * decoded DiscoveryRequests and new group snapshots, and hands complete response bytes to `send`.
 *
 * Protocol rules it implements (per type URL, per stream):
 * - The node in the first request picks the group; it never changes for the stream.
 * - Wildcard (LDS and CDS only): a first request with no names, or any request naming `*`.
 *   A legacy wildcard (first request empty) stays wildcard while later requests are empty;
 *   otherwise an empty name list after a named subscription unsubscribes from the type.
 * - A request whose nonce is not the last one sent for its type answers an older response:
 *   it is ignored entirely. Before anything was sent for a type every nonce is accepted.
 * - A request answering the last response is an ACK, or a NACK if `error_detail` is set. A NACK
 *   leaves the client on its last good version and triggers nothing: the next response for the
 *   type is sent only when the served content or the subscription changes.
 * - The first request for a type that presents the version we would send (a client resuming on
 *   a new stream, possibly on another fan-out node) gets no response.
 * - On a new snapshot, types are pushed in {@link PUSH_ORDER} (CDS, EDS, LDS, RDS) and only
 *   where this stream's served version changed.
 */
import type { Logger } from '../../../shared/runtime/logger.ts';
import {
  CLUSTER_TYPE,
  isTypeUrl,
  LISTENER_TYPE,
  PUSH_ORDER,
  shortName,
  type TypeUrl,
} from '../../../shared/xds/type-urls.ts';
import type { GroupSnapshot, SnapshotSource } from '../cache/group-snapshot.ts';
import type { AdsEvents, StreamPeer } from './ads-events.ts';
import type { AdsMetrics } from './ads-metrics.ts';
import { type DiscoveryRequest, withNonce } from './discovery-codec.ts';
import {
  type EncodedResponse,
  emptyTypeSnapshot,
  encodedResponse,
  type Subscription,
  subscription,
} from './served-set.ts';

export type NodeInfo = NonNullable<DiscoveryRequest['node']>;

export interface SotwStreamOptions {
  source: Pick<SnapshotSource, 'current'>;
  /** Writes one complete DiscoveryResponse to the client. */
  send: (response: Buffer) => void;
  /** Maps the node of the first request (null when absent) to its group. */
  groupOf: (node: NodeInfo | null) => string;
  metrics: AdsMetrics;
  log: Logger;
  events?: AdsEvents;
}

interface TypeState {
  /** Null when not subscribed (never, or unsubscribed with an empty name list). */
  sub: Subscription | null;
  /** The first request had no names: empty lists keep meaning "wildcard". */
  legacyWildcard: boolean;
  /** Nonce of the last response sent for this type on this stream. */
  lastNonce?: string;
  /** Version the client holds or is being sent: the last one sent, or the one it resumed with. */
  sentVersion?: string;
  /** Last version the client acknowledged. */
  ackedVersion?: string;
}

export class SotwStream {
  private readonly types = new Map<TypeUrl, TypeState>();
  private readonly log: Logger;
  private nonceSeq = 0;
  private identity?: StreamPeer;
  private readonly warnedTypes = new Set<string>();

  constructor(private readonly opts: SotwStreamOptions) {
    this.log = opts.log;
  }

  /** The node and group, known once the first request arrived. */
  get peer(): StreamPeer | undefined {
    return this.identity;
  }

  handleRequest(req: DiscoveryRequest): void {
    const peer = this.identity ?? this.identify(req.node);
    const typeUrl = req.type_url;
    if (!isTypeUrl(typeUrl)) {
      if (!this.warnedTypes.has(typeUrl)) {
        this.warnedTypes.add(typeUrl);
        this.log.warn(
          { node: peer.nodeId, typeUrl },
          'request for a type this server does not serve; ignored',
        );
      }
      return;
    }
    const type = shortName(typeUrl);
    let state = this.types.get(typeUrl);
    const first = state === undefined;
    if (!state) {
      state = { sub: null, legacyWildcard: false };
      this.types.set(typeUrl, state);
    }
    if (state.lastNonce !== undefined) {
      if (req.response_nonce !== state.lastNonce) {
        this.opts.metrics.staleNonces.inc({ type, group: peer.group });
        this.log.debug({ node: peer.nodeId, type, nonce: req.response_nonce }, 'stale nonce ignored');
        return;
      }
      this.recordAnswer(peer, typeUrl, state, req);
    }
    const previousKey = state.sub?.key;
    state.sub = nextSubscription(typeUrl, state, req.resource_names, first);
    if (!state.sub) {
      // Unsubscribed: a later subscription must be answered even if its version is unchanged.
      state.sentVersion = undefined;
      return;
    }
    const snapshot = this.opts.source.current(peer.group);
    if (!snapshot) {
      // Versions are content-derived, so a presented version names exactly what the client holds:
      // the first snapshot is pushed only if it differs.
      if (first && req.version_info !== '') state.sentVersion = req.version_info;
      return;
    }
    const response = encodedResponse(snapshot.types.get(typeUrl) ?? emptyTypeSnapshot(typeUrl), state.sub);
    if (first && req.version_info !== '' && req.version_info === response.version) {
      state.sentVersion = response.version;
      state.ackedVersion = response.version;
      this.log.debug({ node: peer.nodeId, type, version: response.version }, 'resumed at current version');
      return;
    }
    if (response.version !== state.sentVersion || state.sub.key !== previousKey) this.send(state, response);
  }

  /** Pushes every subscribed type whose served version changed, in push order. */
  onSnapshot(snapshot: GroupSnapshot): void {
    for (const typeUrl of PUSH_ORDER) {
      const state = this.types.get(typeUrl);
      if (!state?.sub) continue;
      const response = encodedResponse(snapshot.types.get(typeUrl) ?? emptyTypeSnapshot(typeUrl), state.sub);
      if (response.version !== state.sentVersion) this.send(state, response);
    }
  }

  /** Versions per type for debug output: what was sent and what was acknowledged. */
  status(): Record<string, { sent?: string; acked?: string; wildcard: boolean; names: number }> {
    const out: Record<string, { sent?: string; acked?: string; wildcard: boolean; names: number }> = {};
    for (const [typeUrl, s] of this.types) {
      out[shortName(typeUrl)] = {
        sent: s.sentVersion,
        acked: s.ackedVersion,
        wildcard: s.sub?.wildcard ?? false,
        names: s.sub?.names.length ?? 0,
      };
    }
    return out;
  }

  private identify(node: NodeInfo | null): StreamPeer {
    const peer: StreamPeer = {
      nodeId: node?.id ?? '',
      cluster: node?.cluster ?? '',
      group: this.opts.groupOf(node),
    };
    this.identity = peer;
    this.opts.events?.onConnect?.(peer);
    return peer;
  }

  private recordAnswer(peer: StreamPeer, typeUrl: TypeUrl, state: TypeState, req: DiscoveryRequest): void {
    const type = shortName(typeUrl);
    if (req.error_detail) {
      this.opts.metrics.nacks.inc({ type, group: peer.group });
      this.log.warn(
        {
          node: peer.nodeId,
          group: peer.group,
          type,
          rejectedVersion: state.sentVersion,
          clientVersion: req.version_info,
          code: req.error_detail.code,
          errorDetail: req.error_detail.message,
        },
        'client rejected configuration (NACK)',
      );
      this.opts.events?.onNack?.(peer, {
        typeUrl,
        rejectedVersion: state.sentVersion ?? '',
        clientVersion: req.version_info,
        message: req.error_detail.message,
      });
      return;
    }
    state.ackedVersion = req.version_info;
    this.opts.events?.onAck?.(peer, { typeUrl, version: req.version_info });
  }

  private send(state: TypeState, response: EncodedResponse): void {
    const nonce = String(++this.nonceSeq);
    state.lastNonce = nonce;
    state.sentVersion = response.version;
    this.opts.send(withNonce(response.body, nonce));
    const group = this.identity?.group ?? '';
    this.opts.metrics.responses.inc({ type: shortName(response.typeUrl), group });
    this.log.debug(
      {
        node: this.identity?.nodeId,
        type: shortName(response.typeUrl),
        version: response.version,
        nonce,
        resources: response.resourceCount,
      },
      'response sent',
    );
  }
}

/** The subscription after a request, following the wildcard and unsubscribe rules above. */
function nextSubscription(
  typeUrl: TypeUrl,
  state: TypeState,
  names: readonly string[],
  first: boolean,
): Subscription | null {
  const wildcardCapable = typeUrl === LISTENER_TYPE || typeUrl === CLUSTER_TYPE;
  if (names.length === 0) {
    if (first && wildcardCapable) {
      state.legacyWildcard = true;
      return subscription(true, []);
    }
    return state.legacyWildcard ? state.sub : null;
  }
  state.legacyWildcard = false;
  const wildcard = wildcardCapable && names.includes('*');
  const next = subscription(wildcard, names);
  return state.sub?.key === next.key ? state.sub : next;
}
