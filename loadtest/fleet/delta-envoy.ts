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
import type { Facts, VersionBook } from './version-book.ts';
import { lenFields, utf8 } from './wire.ts';

interface TypeState extends TypeProgress {
  wildcard: boolean;
  /** Explicitly subscribed names (named types). */
  names: Set<string>;
  /** Resources held: name → what was received (shared by every stream that received it). */
  held: Map<string, Received>;
}

/** One resource of a response: its version and the facts the book keeps about that content. */
interface Received {
  readonly version: string;
  readonly facts: Facts;
  /**
   * Its `initial_resource_versions` entry (field 5 with tag and length), encoded once for every
   * stream that holds it and re-declares it on reconnect.
   */
  readonly declared: Buffer;
}

/** A DeltaDiscoveryResponse as read once for every stream that receives exactly these bytes. */
interface ReadResponse {
  readonly bytes: Buffer;
  readonly typeUrl: string;
  readonly nonce: string;
  readonly resources: ReadonlyArray<readonly [name: string, received: Received]>;
  readonly removed: readonly string[];
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

/**
 * Responses already read, by type and nonce, per book (bounded; cleared when full). The fan-out
 * sends one shared message to every stream making the same move (its nonce is the version), so
 * 10,000 streams receive the same bytes: reading each resource's name and version, building its
 * key and looking it up once instead of per stream was most of the simulator's CPU per push. A
 * hit must have byte-identical content (a per-stream response may reuse a nonce), so what a
 * stream records is exactly what reading its own bytes would give.
 */
const readResponses = new WeakMap<VersionBook, Map<string, ReadResponse>>();
const MAX_READ_RESPONSES = 256;

/**
 * The response each book read last: during a push consecutive streams receive the same shared
 * message, and comparing the bytes with it costs less than reading its type and nonce again.
 */
const lastRead = new WeakMap<VersionBook, ReadResponse>();

export function readResponse(book: VersionBook, bytes: Buffer): ReadResponse {
  const last = lastRead.get(book);
  if (last && last.bytes.length === bytes.length && last.bytes.equals(bytes)) return last;
  const read = readAgain(book, bytes);
  lastRead.set(book, read);
  return read;
}

function readAgain(book: VersionBook, bytes: Buffer): ReadResponse {
  let typeUrl = '';
  let nonce = '';
  const fields = lenFields(bytes);
  for (const f of fields) {
    if (f.no === 4) typeUrl = utf8(bytes, f);
    else if (f.no === 5) nonce = utf8(bytes, f);
  }
  let memo = readResponses.get(book);
  if (!memo) {
    memo = new Map();
    readResponses.set(book, memo);
  }
  const key = `${typeUrl}\0${nonce}`;
  const known = memo.get(key);
  if (known?.bytes.equals(bytes)) return known;
  const dependent = DEPENDENT[typeUrl];
  const resources: Array<[string, Received]> = [];
  const removed: string[] = [];
  for (const f of fields) {
    if (f.no === 2) {
      let name = '';
      let version = '';
      let any: [number, number] | undefined;
      for (const g of lenFields(bytes, f.start, f.end)) {
        if (g.no === 3) name = utf8(bytes, g);
        else if (g.no === 1) version = utf8(bytes, g);
        else if (g.no === 2) any = [g.start, g.end];
      }
      const facts = book.get(resourceKey(typeUrl, name, version), typeUrl, bytes, f.start, f.end, () =>
        dependent && any ? [...new Set(dependenciesOfAny(bytes, any[0], any[1]))].sort() : [],
      );
      resources.push([name, { version, facts, declared: declaredEntry(name, version) }]);
    } else if (f.no === 6) removed.push(utf8(bytes, f));
    else if (f.no === 8) {
      for (const g of lenFields(bytes, f.start, f.end)) if (g.no === 1) removed.push(utf8(bytes, g));
    }
  }
  const read: ReadResponse = { bytes, typeUrl, nonce, resources, removed };
  if (memo.size >= MAX_READ_RESPONSES) memo.clear();
  memo.set(key, read);
  return read;
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
      const subscribe = s.wildcard ? [] : [...s.names].sort();
      // Assembled from the pre-encoded declarations of what is held (the same bytes
      // encodeDeltaRequest writes); the call's first message also carries the node.
      this.send((node) => resubscription(typeUrl, subscribe, s.held, node));
    }
  }

  holdings(): Map<string, number> {
    const out = new Map<string, number>();
    for (const [typeUrl, s] of this.types) {
      const type = shortName(typeUrl);
      for (const [name, held] of s.held) out.set(`${type}/${name}`, held.facts.rank);
    }
    return out;
  }

  protected onResponse(bytes: Buffer): void {
    const r = readResponse(this.ctx.book, bytes);
    const { typeUrl, nonce } = r;
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
    let depsChanged = r.removed.length > 0;
    for (const [name, received] of r.resources) {
      if (state.held.get(name)?.version !== received.version) depsChanged = true;
      state.held.set(name, received);
      for (const id of received.facts.hits) this.ctx.observe.probeHit(this.index, id, at);
    }
    for (const name of r.removed) state.held.delete(name);
    state.acked = true;
    if (dependent && depsChanged) this.follow(dependent, requiredBy(state));
    this.advance(typeUrl, this.state(ENDPOINT_TYPE).names.size > 0, at);
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

/** Union of the dependencies of every held resource of a primary type. */
function requiredBy(s: TypeState): Set<string> {
  const out = new Set<string>();
  for (const held of s.held.values()) for (const d of held.facts.deps) out.add(d);
  return out;
}

/** The `initial_resource_versions` entry (field 5) for `name` at `version`. */
function declaredEntry(name: string, version: string): Buffer {
  const w = protobuf.Writer.create();
  w.uint32((5 << 3) | 2)
    .fork()
    .uint32((1 << 3) | 2)
    .string(name)
    .uint32((2 << 3) | 2)
    .string(version)
    .ldelim();
  return Buffer.from(w.finish());
}

/**
 * A reconnect's subscription: the node (first message of a call only), `type_url`, the names,
 * then each held resource's pre-encoded declaration. Byte for byte what {@link encodeDeltaRequest}
 * writes, without encoding every name and version again for every stream (that was the
 * simulator's largest cost in the reconnect storm).
 */
export function resubscription(
  typeUrl: string,
  subscribe: readonly string[],
  held: ReadonlyMap<string, { readonly declared: Buffer }>,
  node?: SimNode,
): Buffer {
  const head = protobuf.Writer.create();
  if (node) {
    const type = messageType(NODE);
    head.uint32((1 << 3) | 2).bytes(type.encode(type.fromObject(node)).finish());
  }
  head.uint32((2 << 3) | 2).string(typeUrl);
  for (const n of subscribe) head.uint32((3 << 3) | 2).string(n);
  const parts: Uint8Array[] = [head.finish()];
  let total = (parts[0] as Uint8Array).length;
  for (const r of held.values()) {
    parts.push(r.declared);
    total += r.declared.length;
  }
  return Buffer.concat(parts, total);
}

function resourceKey(typeUrl: string, name: string, version: string): string {
  return `${typeUrl}\0${name}\0${version}`;
}
