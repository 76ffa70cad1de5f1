/**
 * One simulated Envoy on an incremental (delta) ADS stream:
 * - CDS and LDS are wildcard subscriptions (legacy form: an empty first subscribe list, as Envoy
 *   sends when it has no explicit names); EDS and RDS subscribe to the names CDS / LDS require,
 *   and follow them with subscribe / unsubscribe diffs;
 * - every response is ACKed (never NACKed) with its nonce;
 * - on a new stream every subscription is re-sent with `initial_resource_versions` naming each
 *   resource held and its version, so the server sends only what differs.
 */
import { messageType } from '../../proto/root.ts';
import { DELTA_METHOD_PATH } from '../../services/fanout/server/ads-service.ts';
import { CLUSTER_TYPE, ENDPOINT_TYPE, LISTENER_TYPE, shortName } from '../../shared/xds/type-urls.ts';
import { DEPENDENT, EnvoyStream, type SimNode, type TypeProgress } from './envoy-stream.ts';
import { dependenciesOfAny } from './resource-deps.ts';
import { now, type StreamContext } from './stream-context.ts';
import { lenFields, utf8 } from './wire.ts';

interface TypeState extends TypeProgress {
  wildcard: boolean;
  /** Explicitly subscribed names (named types). */
  names: Set<string>;
  /** Resources held: name → version. */
  held: Map<string, string>;
}

const REQUEST = 'envoy.service.discovery.v3.DeltaDiscoveryRequest';

interface DeltaRequestInit {
  node?: SimNode;
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

export class DeltaEnvoy extends EnvoyStream<TypeState> {
  constructor(index: number, ctx: StreamContext) {
    super(index, ctx, DELTA_METHOD_PATH, (t) => {
      const wildcard = t === CLUSTER_TYPE || t === LISTENER_TYPE;
      return { wildcard, names: new Set(), held: new Map(), subscribed: false, acked: false };
    });
  }

  protected resubscribe(): void {
    for (const [typeUrl, s] of this.types) {
      if (!s.subscribed) continue;
      this.write({
        type_url: typeUrl,
        resource_names_subscribe: s.wildcard ? [] : [...s.names].sort(),
        initial_resource_versions: Object.fromEntries(s.held),
      });
    }
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

  protected onResponse(bytes: Buffer): void {
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
    this.responded(typeUrl, bytes.length);
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
    this.advance(typeUrl, this.state(ENDPOINT_TYPE).names.size > 0, at);
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

  protected subscribe(typeUrl: string): void {
    const s = this.state(typeUrl);
    s.subscribed = true;
    this.write({ type_url: typeUrl, resource_names_subscribe: s.wildcard ? [] : [...s.names].sort() });
  }

  private write(req: DeltaRequestInit): void {
    this.send((node) => encodeDeltaRequest(node ? { ...req, node } : req));
  }
}

function resourceKey(typeUrl: string, name: string, version: string): string {
  return `${typeUrl}\0${name}\0${version}`;
}
