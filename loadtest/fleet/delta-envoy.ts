/**
 * One simulated Envoy on an incremental (delta) ADS stream:
 * - CDS and LDS are wildcard subscriptions (legacy form: an empty first subscribe list, as Envoy
 *   sends when it has no explicit names); EDS and RDS subscribe to the names CDS / LDS require,
 *   and follow them with subscribe / unsubscribe diffs;
 * - every response is ACKed (never NACKed) with its nonce;
 * - on a new stream every subscription is re-sent with `initial_resource_versions` naming each
 *   resource held and its version, so the server sends only what differs.
 */
import type * as grpc from '@grpc/grpc-js';
import { messageType } from '../../proto/root.ts';
import { DELTA_METHOD_PATH } from '../../services/fanout/server/ads-service.ts';
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
  wildcard: boolean;
  /** Explicitly subscribed names (named types). */
  names: Set<string>;
  /** Resources held: name → version. */
  held: Map<string, string>;
  subscribed: boolean;
  acked: boolean;
}

const pass = (b: Buffer): Buffer => b;
const DEPENDENT: Readonly<Record<string, string>> = {
  [CLUSTER_TYPE]: ENDPOINT_TYPE,
  [LISTENER_TYPE]: ROUTE_TYPE,
};
const REQUEST = 'envoy.service.discovery.v3.DeltaDiscoveryRequest';

interface DeltaRequestInit {
  node?: { id: string; cluster: string };
  type_url: string;
  resource_names_subscribe?: string[];
  resource_names_unsubscribe?: string[];
  initial_resource_versions?: Record<string, string>;
  response_nonce?: string;
}

export function encodeDeltaRequest(req: DeltaRequestInit): Buffer {
  const type = messageType(REQUEST);
  return Buffer.from(type.encode(type.fromObject({ ...req })).finish());
}

export class DeltaEnvoy implements SimStream {
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
    for (const t of [CLUSTER_TYPE, ENDPOINT_TYPE, LISTENER_TYPE, ROUTE_TYPE]) {
      const wildcard = t === CLUSTER_TYPE || t === LISTENER_TYPE;
      this.types.set(t, { wildcard, names: new Set(), held: new Map(), subscribed: false, acked: false });
    }
  }

  open(): void {
    if (this.closed) return;
    const call = this.ctx.channel(this.index).makeBidiStreamRequest(DELTA_METHOD_PATH, pass, pass);
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
    for (const [typeUrl, s] of this.types) {
      if (!s.subscribed) continue;
      this.write({
        type_url: typeUrl,
        resource_names_subscribe: s.wildcard ? [] : [...s.names].sort(),
        initial_resource_versions: Object.fromEntries(s.held),
      });
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
      for (const [name, version] of s.held) {
        const rank = this.ctx.book.rankOf(resourceKey(typeUrl, name, version));
        if (rank !== undefined) out.set(`${shortName(typeUrl)}/${name}`, rank);
      }
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
    let typeUrl = '';
    let nonce = '';
    const resources: Array<[number, number]> = [];
    const removed: string[] = [];
    for (const f of lenFields(bytes)) {
      if (f.no === 2) resources.push([f.start, f.end]);
      else if (f.no === 4) typeUrl = utf8(bytes, f);
      else if (f.no === 5) nonce = utf8(bytes, f);
      else if (f.no === 6) removed.push(utf8(bytes, f));
      else if (f.no === 8) {
        for (const g of lenFields(bytes, f.start, f.end)) if (g.no === 1) removed.push(utf8(bytes, g));
      }
    }
    const state = this.types.get(typeUrl);
    if (!state?.subscribed) return;
    const at = now();
    this.write({ type_url: typeUrl, response_nonce: nonce });
    this.attempt = 0;
    this.ctx.observe.response(shortName(typeUrl), bytes.length);
    const dependent = DEPENDENT[typeUrl];
    let depsChanged = removed.length > 0;
    for (const [start, end] of resources) {
      let name = '';
      let version = '';
      let any: [number, number] | undefined;
      for (const g of lenFields(bytes, start, end)) {
        if (g.no === 3) name = utf8(bytes, g);
        else if (g.no === 1) version = utf8(bytes, g);
        else if (g.no === 2) any = [g.start, g.end];
      }
      const facts = this.ctx.book.get(resourceKey(typeUrl, name, version), typeUrl, bytes, start, end, () =>
        dependent && any ? [...new Set(dependenciesOfAny(bytes, any[0], any[1]))].sort() : [],
      );
      if (state.held.get(name) !== version) depsChanged = true;
      state.held.set(name, version);
      for (const id of facts.hits) this.ctx.observe.probeHit(this.index, id, at);
    }
    for (const name of removed) state.held.delete(name);
    state.acked = true;
    if (dependent && depsChanged) this.follow(dependent, this.requiredBy(typeUrl, state));
    if (
      typeUrl === ENDPOINT_TYPE ||
      (typeUrl === CLUSTER_TYPE && this.state(ENDPOINT_TYPE).names.size === 0)
    ) {
      if (!this.state(LISTENER_TYPE).subscribed) this.subscribe(LISTENER_TYPE);
    }
    if (!this.isConfigured && this.complete()) {
      this.isConfigured = true;
      this.ctx.observe.configured(this.index, at);
    }
  }

  /** Union of the dependencies of every held resource of a primary type. */
  private requiredBy(typeUrl: string, s: TypeState): Set<string> {
    const out = new Set<string>();
    for (const [name, version] of s.held) {
      const deps = this.ctx.book.depsOf(resourceKey(typeUrl, name, version));
      for (const d of deps) out.add(d);
    }
    return out;
  }

  private follow(typeUrl: string, names: ReadonlySet<string>): void {
    const s = this.state(typeUrl);
    if (names.size === 0 && !s.subscribed) return;
    const added = [...names].filter((n) => !s.names.has(n)).sort();
    const gone = [...s.names].filter((n) => !names.has(n)).sort();
    if (s.subscribed && added.length === 0 && gone.length === 0) return;
    s.names = new Set(names);
    for (const n of gone) s.held.delete(n);
    if (!s.subscribed) {
      this.subscribe(typeUrl);
      return;
    }
    this.write({ type_url: typeUrl, resource_names_subscribe: added, resource_names_unsubscribe: gone });
  }

  private subscribe(typeUrl: string): void {
    const s = this.state(typeUrl);
    s.subscribed = true;
    this.write({ type_url: typeUrl, resource_names_subscribe: s.wildcard ? [] : [...s.names].sort() });
  }

  private complete(): boolean {
    for (const typeUrl of [CLUSTER_TYPE, LISTENER_TYPE]) if (!this.state(typeUrl).acked) return false;
    for (const typeUrl of [ENDPOINT_TYPE, ROUTE_TYPE]) {
      const s = this.state(typeUrl);
      if (s.subscribed && !s.acked) return false;
    }
    return true;
  }

  private write(req: DeltaRequestInit): void {
    const call = this.call;
    if (!call) return;
    if (!this.nodeSent) {
      req.node = { id: this.ctx.nodeId(this.index), cluster: 'fleet-bench' };
      this.nodeSent = true;
    }
    call.write(encodeDeltaRequest(req));
  }

  private state(typeUrl: string): TypeState {
    return this.types.get(typeUrl) as TypeState;
  }
}

function resourceKey(typeUrl: string, name: string, version: string): string {
  return `${typeUrl}\0${name}\0${version}`;
}
