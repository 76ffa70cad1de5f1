/**
 * One simulated Envoy on a state-of-the-world ADS stream, behaving as Envoy does:
 * - start-up order CDS (wildcard) → EDS (the service names of EDS clusters) → LDS (wildcard) →
 *   RDS (the route configuration names of its HttpConnectionManagers);
 * - every response is ACKed (never NACKed) with its version, its nonce and the current names;
 *   when CDS or LDS changes the names it needs, it asks for the new EDS / RDS set;
 * - the node goes in the first request of each stream only (`set_node_on_first_message_only`);
 * - on a new stream it re-sends every subscription with the versions it holds, so a server that
 *   has the same content answers nothing; a failed stream is retried with Envoy's backoff.
 */
import type * as grpc from '@grpc/grpc-js';
import { SOTW_METHOD_PATH } from '../../services/fanout/server/ads-service.ts';
import { encodeDiscoveryRequest } from '../../services/fanout/server/discovery-codec.ts';
import {
  CLUSTER_TYPE,
  ENDPOINT_TYPE,
  LISTENER_TYPE,
  ROUTE_TYPE,
  shortName,
} from '../../shared/xds/type-urls.ts';
import { dependenciesOfAny } from './resource-deps.ts';
import { now, type SimStream, type StreamContext } from './stream-context.ts';
import { lenFields, utf8 } from './wire.ts';

interface TypeState {
  /** Requested names (named types only); wildcard types keep an empty list (legacy wildcard). */
  names: string[];
  /** Last version ACKed ('' before the first response). */
  version: string;
  /** Nonce of the last response received for the type. */
  nonce: string;
  subscribed: boolean;
  acked: boolean;
}

const pass = (b: Buffer): Buffer => b;
/** The dependent type a type's resources name: EDS for clusters, RDS for listeners. */
const DEPENDENT: Readonly<Record<string, string>> = {
  [CLUSTER_TYPE]: ENDPOINT_TYPE,
  [LISTENER_TYPE]: ROUTE_TYPE,
};

export class SotwEnvoy implements SimStream {
  private call?: grpc.ClientDuplexStream<Buffer, Buffer>;
  private readonly types = new Map<string, TypeState>();
  private nodeSent = false;
  private isConfigured = false;
  private attempt = 0;
  private retry?: NodeJS.Timeout;
  private closed = false;

  constructor(
    readonly index: number,
    private readonly ctx: StreamContext,
  ) {
    for (const t of [CLUSTER_TYPE, ENDPOINT_TYPE, LISTENER_TYPE, ROUTE_TYPE])
      this.types.set(t, { names: [], version: '', nonce: '', subscribed: false, acked: false });
  }

  open(): void {
    if (this.closed) return;
    const call = this.ctx.channel(this.index).makeBidiStreamRequest(SOTW_METHOD_PATH, pass, pass);
    this.call = call;
    this.nodeSent = false;
    this.ctx.observe.calling(this.index);
    call.on('data', (bytes: Buffer) => {
      if (this.call === call) this.onResponse(bytes);
    });
    call.on('status', (s: grpc.StatusObject) => this.onEnd(call, s.code, s.details));
    call.on('error', () => {});
    const resuming = [...this.types.values()].some((s) => s.subscribed);
    if (!resuming) {
      this.subscribe(CLUSTER_TYPE);
      return;
    }
    // A new stream: every subscription again, with the versions held and no nonce.
    for (const [typeUrl, s] of this.types) {
      if (!s.subscribed) continue;
      s.nonce = '';
      this.request(typeUrl, s);
    }
  }

  close(): void {
    this.closed = true;
    if (this.retry) clearTimeout(this.retry);
    const call = this.call;
    this.call = undefined;
    call?.cancel();
  }

  holdings(): Map<string, number> {
    const out = new Map<string, number>();
    for (const [typeUrl, s] of this.types) {
      if (!s.acked) continue;
      const rank = this.ctx.book.rankOf(`${typeUrl}\0${s.version}`);
      if (rank !== undefined) out.set(shortName(typeUrl), rank);
    }
    return out;
  }

  private onEnd(call: grpc.ClientDuplexStream<Buffer, Buffer>, code: number, details: string): void {
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

  private onResponse(bytes: Buffer): void {
    let version = '';
    let typeUrl = '';
    let nonce = '';
    const resources: Array<[number, number]> = [];
    for (const f of lenFields(bytes)) {
      if (f.no === 1) version = utf8(bytes, f);
      else if (f.no === 2) resources.push([f.start, f.end]);
      else if (f.no === 4) typeUrl = utf8(bytes, f);
      else if (f.no === 5) nonce = utf8(bytes, f);
    }
    const state = this.types.get(typeUrl);
    if (!state?.subscribed) return;
    const facts = this.ctx.book.get(`${typeUrl}\0${version}`, typeUrl, bytes, 0, bytes.length, () =>
      DEPENDENT[typeUrl] ? unique(resources.flatMap(([s, e]) => dependenciesOfAny(bytes, s, e))) : [],
    );
    state.version = version;
    state.nonce = nonce;
    state.acked = true;
    this.request(typeUrl, state);
    const at = now();
    this.attempt = 0;
    this.ctx.observe.response(shortName(typeUrl), bytes.length);
    for (const id of facts.hits) this.ctx.observe.probeHit(this.index, id, at);

    const dependent = DEPENDENT[typeUrl];
    if (dependent) this.follow(dependent, facts.deps);
    // Envoy's start-up order: listeners only once clusters (and their endpoints) are in.
    if (typeUrl === ENDPOINT_TYPE || (typeUrl === CLUSTER_TYPE && facts.deps.length === 0)) {
      if (!this.state(LISTENER_TYPE).subscribed) this.subscribe(LISTENER_TYPE);
    }
    if (!this.isConfigured && this.complete()) {
      this.isConfigured = true;
      this.ctx.observe.configured(this.index, at);
    }
  }

  /** Brings the dependent type's names in line with what the primary type now requires. */
  private follow(typeUrl: string, names: readonly string[]): void {
    const s = this.state(typeUrl);
    if (names.length === 0 && !s.subscribed) return;
    if (s.subscribed && sameNames(s.names, names)) return;
    s.names = [...names];
    if (!s.subscribed) this.subscribe(typeUrl);
    else this.request(typeUrl, s);
  }

  private subscribe(typeUrl: string): void {
    const s = this.state(typeUrl);
    s.subscribed = true;
    this.request(typeUrl, s);
  }

  private complete(): boolean {
    for (const typeUrl of [CLUSTER_TYPE, LISTENER_TYPE]) if (!this.state(typeUrl).acked) return false;
    for (const typeUrl of [ENDPOINT_TYPE, ROUTE_TYPE]) {
      const s = this.state(typeUrl);
      if (s.subscribed && !s.acked) return false;
    }
    return true;
  }

  private request(typeUrl: string, s: TypeState): void {
    const call = this.call;
    if (!call) return;
    const first = !this.nodeSent;
    this.nodeSent = true;
    call.write(
      encodeDiscoveryRequest({
        ...(first ? { node: { id: this.ctx.nodeId(this.index), cluster: 'fleet-bench' } } : {}),
        type_url: typeUrl,
        version_info: s.version,
        resource_names: s.names,
        response_nonce: s.nonce,
      }),
    );
  }

  private state(typeUrl: string): TypeState {
    return this.types.get(typeUrl) as TypeState;
  }
}

function unique(names: string[]): string[] {
  return [...new Set(names)].sort();
}

function sameNames(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((n, i) => n === b[i]);
}
