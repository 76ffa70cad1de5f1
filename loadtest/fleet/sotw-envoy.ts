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
import { SOTW_METHOD_PATH } from '../../services/fanout/server/ads-service.ts';
import { encodeDiscoveryRequest } from '../../services/fanout/server/discovery-codec.ts';
import { shortName } from '../../shared/xds/type-urls.ts';
import { DEPENDENT, EnvoyStream, type TypeProgress } from './envoy-stream.ts';
import { dependenciesOfAny } from './resource-deps.ts';
import { now, type StreamContext } from './stream-context.ts';
import { lenFields, utf8 } from './wire.ts';

interface TypeState extends TypeProgress {
  /** Requested names (named types only); wildcard types keep an empty list (legacy wildcard). */
  names: readonly string[];
  /** Last version ACKed ('' before the first response). */
  version: string;
  /** Nonce of the last response received for the type. */
  nonce: string;
}

export class SotwEnvoy extends EnvoyStream<TypeState> {
  constructor(index: number, ctx: StreamContext) {
    super(index, ctx, SOTW_METHOD_PATH, () => ({
      names: NO_NAMES,
      version: '',
      nonce: '',
      subscribed: false,
      acked: false,
    }));
  }

  /** A new stream: every subscription again, with the versions held and no nonce. */
  protected resubscribe(): void {
    for (const [typeUrl, s] of this.types) {
      if (!s.subscribed) continue;
      s.nonce = '';
      this.request(typeUrl, s);
    }
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

  protected onResponse(bytes: Buffer): void {
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
    this.responded(typeUrl, bytes.length);
    for (const id of facts.hits) this.ctx.observe.probeHit(this.index, id, at);

    const dependent = DEPENDENT[typeUrl];
    if (dependent) this.follow(dependent, facts.deps);
    this.advance(typeUrl, facts.deps.length > 0, at);
  }

  /** Brings the dependent type's names in line with what the primary type now requires. */
  private follow(typeUrl: string, names: readonly string[]): void {
    const s = this.state(typeUrl);
    if (names.length === 0 && !s.subscribed) return;
    if (s.subscribed && sameNames(s.names, names)) return;
    // The content's own (immutable) list: shared by every stream holding it, so ACKs are too.
    s.names = names;
    if (!s.subscribed) this.subscribe(typeUrl);
    else this.request(typeUrl, s);
  }

  protected subscribe(typeUrl: string): void {
    const s = this.state(typeUrl);
    s.subscribed = true;
    this.request(typeUrl, s);
  }

  private request(typeUrl: string, s: TypeState): void {
    this.send((node) =>
      node
        ? encodeDiscoveryRequest({
            node,
            type_url: typeUrl,
            version_info: s.version,
            resource_names: [...s.names],
            response_nonce: s.nonce,
          })
        : requestBytes(typeUrl, s.version, s.names, s.nonce),
    );
  }
}

/** The names of a wildcard type (legacy wildcard: an empty list), one array for every stream. */
const NO_NAMES: readonly string[] = Object.freeze([]);

/**
 * Requests without a node, per names list (by identity: streams share the dependency list of the
 * content they hold) and type, version and nonce: every stream ACKing the same response with the
 * same names sends the same bytes, so they are encoded once instead of once per stream (protobufjs
 * fromObject + encode, ~20 µs for an EDS ACK naming 50 clusters). Bounded per list; cleared when full.
 */
const requests = new WeakMap<readonly string[], Map<string, Buffer>>();
const MAX_REQUESTS_PER_NAMES = 64;

function requestBytes(typeUrl: string, version: string, names: readonly string[], nonce: string): Buffer {
  let byKey = requests.get(names);
  if (!byKey) {
    byKey = new Map();
    requests.set(names, byKey);
  }
  const key = `${typeUrl}\0${version}\0${nonce}`;
  let bytes = byKey.get(key);
  if (!bytes) {
    if (byKey.size >= MAX_REQUESTS_PER_NAMES) byKey.clear();
    bytes = encodeDiscoveryRequest({
      type_url: typeUrl,
      version_info: version,
      resource_names: [...names],
      response_nonce: nonce,
    });
    byKey.set(key, bytes);
  }
  return bytes;
}

function unique(names: string[]): string[] {
  return [...new Set(names)].sort();
}

function sameNames(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((n, i) => n === b[i]);
}
