/**
 * One simulated Envoy on an incremental (delta) ADS stream:
 * - CDS and LDS are wildcard subscriptions (legacy form: an empty first subscribe list, as Envoy
 *   sends when it has no explicit names); EDS and RDS subscribe to the names CDS / LDS require,
 *   and follow them with subscribe / unsubscribe diffs;
 * - every response is ACKed (never NACKed) with its nonce;
 * - on a new stream every subscription is re-sent with `initial_resource_versions` naming each
 *   resource held and its version, so the server sends only what differs.
 */
import protobuf from 'protobufjs';
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

const NODE = 'envoy.config.core.v3.Node';

interface DeltaRequestInit {
  node?: SimNode;
  type_url: string;
  resource_names_subscribe?: string[];
  resource_names_unsubscribe?: string[];
  /** name → version; a Map is written in its own order, as is (no copy into an object). */
  initial_resource_versions?: Record<string, string> | ReadonlyMap<string, string>;
  response_nonce?: string;
}

/**
 * Encodes a DeltaDiscoveryRequest field by field (node through protobufjs): the simulator writes
 * one per response it receives and re-sends every subscription with what it holds on each
 * reconnect, and protobufjs's fromObject + encode cost the one simulator process more CPU than the
 * fan-out spent serving it (the simulator shares the machine with the fan-out under test).
 */
export function encodeDeltaRequest(req: DeltaRequestInit): Buffer {
  const w = protobuf.Writer.create();
  if (req.node) {
    const type = messageType(NODE);
    w.uint32((1 << 3) | 2).bytes(type.encode(type.fromObject(req.node)).finish());
  }
  if (req.type_url) w.uint32((2 << 3) | 2).string(req.type_url);
  for (const n of req.resource_names_subscribe ?? []) w.uint32((3 << 3) | 2).string(n);
  for (const n of req.resource_names_unsubscribe ?? []) w.uint32((4 << 3) | 2).string(n);
  const versions = req.initial_resource_versions ?? {};
  for (const [k, v] of versions instanceof Map ? versions : Object.entries(versions)) {
    w.uint32((5 << 3) | 2)
      .fork()
      .uint32((1 << 3) | 2)
      .string(k)
      .uint32((2 << 3) | 2)
      .string(v)
      .ldelim();
  }
  if (req.response_nonce) w.uint32((6 << 3) | 2).string(req.response_nonce);
  return Buffer.from(w.finish());
}

/**
 * ACKs without a node, by type and nonce: every stream ACKing the same response sends the same
 * bytes, so they are encoded once (bounded; cleared when full).
 */
const acks = new Map<string, Buffer>();
const MAX_ACKS = 4096;

function ackBytes(typeUrl: string, nonce: string): Buffer {
  const key = `${typeUrl}\0${nonce}`;
  let bytes = acks.get(key);
  if (!bytes) {
    if (acks.size >= MAX_ACKS) acks.clear();
    bytes = encodeDeltaRequest({ type_url: typeUrl, response_nonce: nonce });
    acks.set(key, bytes);
  }
  return bytes;
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
        initial_resource_versions: s.held,
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
    this.send((node) =>
      node
        ? encodeDeltaRequest({ type_url: typeUrl, response_nonce: nonce, node })
        : ackBytes(typeUrl, nonce),
    );
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
