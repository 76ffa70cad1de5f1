/**
 * The state-of-the-world xDS state machine for one stream (ADS, or one type for a per-type
 * service). Transport details — write path, push order, gate, identity — live in {@link XdsStream}.
 *
 * Protocol rules it implements (per type URL, per stream):
 * - The node in the first request picks the group; it never changes for the stream.
 * - Wildcard (LDS and CDS only): a first request with no names, or any request naming `*`.
 *   A legacy wildcard (first request empty) stays wildcard while later requests are empty;
 *   otherwise an empty name list after a named subscription unsubscribes from the type.
 * - A request whose nonce is not the last one sent for its type answers an older response:
 *   it is ignored entirely (the next request repeats the full subscription anyway). Before
 *   anything was sent for a type every nonce is accepted.
 * - A request answering the last response is an ACK, or a NACK if `error_detail` is set. A NACK
 *   leaves the client on its last good version and triggers nothing: the next response for the
 *   type is sent only when the served content or the subscription changes.
 * - The first request for a type that presents the version we would send (a client resuming on
 *   a new stream, possibly on another fan-out node) gets no response.
 * - A response is owed when the served version or the subscription differs from what was last
 *   sent; owed responses are written in push order (CDS, EDS, LDS, RDS, SDS).
 */
import {
  CLUSTER_TYPE,
  LISTENER_TYPE,
  PUSH_ORDER,
  shortName,
  type TypeUrl,
} from '../../../shared/xds/type-urls.ts';
import type { StreamPeer } from './ads-events.ts';
import type { DiscoveryRequest } from './discovery-codec.ts';
import {
  emptyTypeSnapshot,
  type ServedSet,
  type Subscription,
  servedSet,
  setChange,
  subscription,
} from './served-set.ts';
import { type Outgoing, type TypeStatus, typeIndex, XdsStream } from './xds-stream.ts';

export type { NodeInfo } from './peer-identity.ts';

/** Per-type state: a handful of references, most of them to shared objects. */
class SotwTypeState {
  /** Null when not subscribed (never, or unsubscribed with an empty name list). */
  sub: Subscription | null = null;
  /** The first request had no names: empty lists keep meaning "wildcard". */
  legacyWildcard = false;
  /** Nonce of the last response sent for this type on this stream ('' : none yet). */
  lastNonce = '';
  /** Version the client holds or is being sent: the last one sent, or the one it resumed with. */
  sentVersion?: string;
  /** Subscription key the last response (or resume) was for. */
  sentKey?: string;
  /** The last response sent (shared), for the names in a NACK event. */
  lastSent?: ServedSet;
  /** Last version the client acknowledged. */
  ackedVersion?: string;
  /** The client's last answer was a NACK. */
  nacked = false;
}

export class SotwStream extends XdsStream {
  readonly protocol = 'sotw' as const;
  private readonly types: Array<SotwTypeState | undefined> = [];

  handleRequest(req: DiscoveryRequest): void {
    const peer = this.peer ?? this.identify(req.node);
    if (!peer) return;
    const typeUrl = this.requestType(req.type_url);
    if (!typeUrl) return;
    const index = typeIndex(typeUrl);
    let state = this.types[index];
    const first = state === undefined;
    if (!state) {
      state = new SotwTypeState();
      this.types[index] = state;
      this.requested(index, state);
    }
    if (state.lastNonce !== '') {
      if (req.response_nonce !== state.lastNonce) {
        this.ctx.metrics.staleNonces.inc({ type: shortName(typeUrl), group: peer.group });
        this.ctx.log.debug({ node: peer.nodeId, typeUrl, nonce: req.response_nonce }, 'stale nonce ignored');
        return;
      }
      this.recordAnswer(peer, typeUrl, state, req);
    }
    if (!this.withinNameLimit(index, req.resource_names.length)) return;
    state.sub = nextSubscription(typeUrl, state, req.resource_names, first);
    if (!state.sub) {
      // Unsubscribed: a later subscription must be answered even if its version is unchanged.
      state.sentVersion = undefined;
      state.sentKey = undefined;
      this.forget(index);
      return;
    }
    if (first && req.version_info !== '' && this.resumes(peer, typeUrl, state, req.version_info)) return;
    this.want(index);
  }

  /**
   * A first request presenting a version: versions are content-derived, so it names exactly
   * what the client holds. True when nothing needs sending (now, or before a snapshot exists).
   */
  private resumes(peer: StreamPeer, typeUrl: TypeUrl, state: SotwTypeState, version: string): boolean {
    const sub = state.sub as Subscription;
    const snapshot = this.ctx.source.current(peer.group);
    if (snapshot) {
      const set = servedSet(snapshot.types.get(typeUrl) ?? emptyTypeSnapshot(typeUrl), sub);
      if (set.version !== version) return false;
      this.answer(typeIndex(typeUrl), state, version, state.nacked);
      this.ctx.log.debug({ node: peer.nodeId, typeUrl, version }, 'resumed at current version');
    }
    state.sentVersion = version;
    state.sentKey = sub.key;
    return true;
  }

  protected build(index: number): Outgoing | null {
    const state = this.types[index];
    const peer = this.peer;
    if (!state?.sub || !peer) return null;
    const snapshot = this.ctx.source.current(peer.group);
    if (!snapshot) return null;
    const typeUrl = PUSH_ORDER[index] as TypeUrl;
    const set = this.makeBeforeBreak(
      index,
      state.sub.key === state.sentKey ? state.lastSent : undefined,
      servedSet(snapshot.types.get(typeUrl) ?? emptyTypeSnapshot(typeUrl), state.sub),
    );
    if (set.version === state.sentVersion && state.sub.key === state.sentKey) return null;
    // The nonce is the served version, so every stream sends the same message. Only a stream that
    // is sent the same version twice in a row (a re-subscription) needs a distinct nonce.
    const seq = ++this.nonceSeq;
    const shared = state.lastNonce !== set.version;
    const nonce = shared ? set.version : `${set.version}-${seq}`;
    state.lastNonce = nonce;
    state.sentVersion = set.version;
    state.sentKey = state.sub.key;
    state.lastSent = set;
    this.countResponse(typeUrl);
    this.ctx.log.debug(
      { node: peer.nodeId, typeUrl, version: set.version, nonce, resources: set.resourceCount },
      'response sent',
    );
    return { body: set.body, nonce, shared };
  }

  protected removesHeld(index: number): boolean {
    const state = this.types[index];
    const peer = this.peer;
    if (!state?.sub || !state.lastSent || !peer) return false;
    const snapshot = this.ctx.source.current(peer.group);
    if (!snapshot) return false;
    const typeUrl = PUSH_ORDER[index] as TypeUrl;
    const set = servedSet(snapshot.types.get(typeUrl) ?? emptyTypeSnapshot(typeUrl), state.sub);
    if (set === state.lastSent) return false;
    const change = setChange(state.lastSent, set);
    return change.removes && (!state.sub.wildcard || !change.adds);
  }

  protected subscribedMask(): number {
    let mask = 0;
    for (let i = 0; i < this.types.length; i++) if (this.types[i]?.sub) mask |= 1 << i;
    return mask;
  }

  answerOf(index: number): SotwTypeState | undefined {
    return this.types[index];
  }

  /** Versions per type for debug output: what was sent and what was acknowledged. */
  status(): Record<string, TypeStatus> {
    const out: Record<string, TypeStatus> = {};
    this.types.forEach((s, i) => {
      if (!s) return;
      out[shortName(PUSH_ORDER[i] as TypeUrl)] = {
        sent: s.sentVersion,
        acked: s.ackedVersion,
        nacked: s.nacked,
        wildcard: s.sub?.wildcard ?? false,
        names: s.sub?.names.length ?? 0,
      };
    });
    return out;
  }

  private recordAnswer(
    peer: StreamPeer,
    typeUrl: TypeUrl,
    state: SotwTypeState,
    req: DiscoveryRequest,
  ): void {
    const type = shortName(typeUrl);
    if (req.error_detail) {
      this.answer(typeIndex(typeUrl), state, state.ackedVersion, true);
      this.ctx.metrics.nacks.inc({ type, group: peer.group });
      const resourceNames = state.lastSent?.names ?? [];
      this.ctx.log.warn(
        {
          node: peer.nodeId,
          group: peer.group,
          type,
          rejectedVersion: state.sentVersion,
          clientVersion: req.version_info,
          code: req.error_detail.code,
          errorDetail: req.error_detail.message,
          resources: resourceNames,
        },
        'client rejected configuration (NACK)',
      );
      this.ctx.events?.onNack?.(peer, {
        typeUrl,
        rejectedVersion: state.sentVersion ?? '',
        clientVersion: req.version_info,
        message: req.error_detail.message,
        code: req.error_detail.code,
        resourceNames,
        protocol: 'sotw',
      });
      return;
    }
    this.answer(typeIndex(typeUrl), state, req.version_info, false);
    this.ctx.events?.onAck?.(peer, { typeUrl, version: req.version_info });
  }
}

/** The subscription after a request, following the wildcard and unsubscribe rules above. */
function nextSubscription(
  typeUrl: TypeUrl,
  state: SotwTypeState,
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
  // An ACK repeats the subscription in full; when it lists exactly the subscribed names in their
  // (sorted) order, it is the same subscription and nothing is rebuilt or re-interned.
  if (state.sub && !state.sub.wildcard && sameNames(names, state.sub.names)) return state.sub;
  const wildcard = wildcardCapable && names.includes('*');
  const next = subscription(wildcard, names);
  return state.sub?.key === next.key ? state.sub : next;
}

/** True when `names` is element for element `sorted` (a subscription's sorted, unique names). */
function sameNames(names: readonly string[], sorted: readonly string[]): boolean {
  if (names.length !== sorted.length) return false;
  for (let i = 0; i < names.length; i++) if (names[i] !== sorted[i]) return false;
  return true;
}
