/**
 * Checks on the generated Envoy output, read back from the encoded bytes exactly as they will be
 * sent. A failure means the compiler produced something clients would reject or misroute: a
 * system error, so the caller publishes nothing and the last good snapshot keeps serving.
 *
 * Per resource: it decodes, its inner name matches, names are unique per type, and it satisfies
 * the protoc-gen-validate rules of Envoy's protos (validate/pgv-validate.ts). Across resources:
 * the references and client constraints of validate/consistency.ts (listeners → route
 * configurations → clusters → ClusterLoadAssignments and secrets; redirects and direct responses
 * only on socket listeners; TCP proxy listeners; contiguous EDS priorities).
 */
import type protobuf from 'protobufjs';
import { messageType } from '../../proto/root.ts';
import { RESOURCE_JSON_OPTIONS } from '../../shared/xds/encoding.ts';
import { ENDPOINT_TYPE, messageNameOf, ROUTE_TYPE } from '../../shared/xds/type-urls.ts';
import type { CompiledResource } from './contracts.ts';
import { checkFacts, type ResourceFacts, resourceFacts } from './validate/consistency.ts';
import { formatPgvProblem, type PgvStats, validateDecoded } from './validate/pgv-validate.ts';

type Json = Record<string, unknown>;

/** What one resource's bytes (under its name) tell validation, computed once per content. */
interface Checked {
  /** Its own problems: does not decode, wrong inner name, protoc-gen-validate rules. */
  problems: string[];
  /** Its part in the cross-resource checks (undefined when it does not decode). */
  facts?: ResourceFacts;
}

/**
 * Results by (content hash, name), across calls. They are a function of the type URL and bytes
 * (which the hash covers) and the name (which the messages quote); decoding and walking are all
 * of validation's cost, and a compiler recompiles mostly unchanged output, so an unchanged
 * resource is neither decoded nor walked again, and no decoded snapshot is held. Bounded: past
 * the limits (entries, and route facts, the bulk of a large snapshot's), entries the latest call
 * did not see go. Not used when `pgvStats` is asked for (the stats count a walk).
 */
const checked = new Map<string, Checked>();
const CACHE_ENTRY_LIMIT = 200_000;
const CACHE_ROUTE_LIMIT = 500_000;
let cachedRoutes = 0;

/**
 * Returns every problem found; an empty list means the output is consistent. `pgvStats`, when
 * given, accumulates what the structural validator visited and could not check.
 */
export function validateOutput(resources: readonly CompiledResource[], pgvStats?: PgvStats): string[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  const byType = new Map<string, Map<string, ResourceFacts>>();
  for (const r of resources) {
    let names = byType.get(r.typeUrl);
    if (!names) {
      names = new Map();
      byType.set(r.typeUrl, names);
    }
    if (names.has(r.name)) problems.push(`duplicate ${r.typeUrl} name ${r.name}`);
    const key = `${r.hash}\0${r.name}`;
    let found = pgvStats ? undefined : checked.get(key);
    if (!found) {
      found = check(r, pgvStats);
      if (!pgvStats) {
        checked.set(key, found);
        cachedRoutes += routeCount(found);
      }
    }
    seen.add(key);
    problems.push(...found.problems);
    if (found.facts) names.set(r.name, found.facts);
  }
  if (checked.size > CACHE_ENTRY_LIMIT || cachedRoutes > CACHE_ROUTE_LIMIT) {
    for (const [key, c] of checked) {
      if (seen.has(key)) continue;
      checked.delete(key);
      cachedRoutes -= routeCount(c);
    }
  }
  problems.push(...checkFacts(byType));
  return problems;
}

/**
 * The plain forms (protobuf-JSON objects, as `decodeResource` gives them) that validation decodes,
 * by the bytes they were decoded from, while {@link keepingDecoded} runs. Undefined otherwise:
 * the compiler service drops each decoded form after its check.
 */
let decodedSink: Map<Uint8Array, Json> | undefined;

/**
 * Runs `run` (a compile) and also returns the plain form of every resource validation decoded in
 * it, by its bytes: `attache translate` renders its files from them instead of decoding every
 * resource a second time. A resource whose result was already known is not decoded, and is absent.
 */
export function keepingDecoded<T>(run: () => T): { result: T; decoded: ReadonlyMap<Uint8Array, Json> } {
  const outer = decodedSink;
  const decoded = new Map<Uint8Array, Json>();
  decodedSink = decoded;
  try {
    return { result: run(), decoded };
  } finally {
    decodedSink = outer;
  }
}

/** Routes replaced in one virtual host of a route configuration: `routes` from index `start`. */
export interface RouteSplice {
  /** Index of the virtual host in the route configuration. */
  virtualHost: number;
  start: number;
  /** The new routes' encodings, as many as they replace. */
  routes: readonly Uint8Array[];
}

/**
 * Validates a route configuration that differs from an already validated one (`before`, found
 * valid by {@link validateOutput}) only in the routes `splices` replaced, and records the result
 * under the new bytes, so {@link validateOutput} does not decode megabytes for a few routes. The
 * new routes are decoded and checked one by one; the rest of the configuration's checks (its
 * virtual hosts, their route counts) are unchanged. Returns false when it cannot tell (the
 * previous result is not held, or a new route has a problem): {@link validateOutput} then decodes
 * the whole configuration and reports exactly as it would have. `same` means the new routes'
 * parts in the cross-resource checks are those of the routes they replaced (same clusters, same
 * kind of action), so a whole output that was valid stays valid without checking it again.
 */
export function validateRouteSplice(
  before: CompiledResource,
  after: CompiledResource,
  splices: readonly RouteSplice[],
): 'same' | 'changed' | false {
  if (before.typeUrl !== ROUTE_TYPE || after.typeUrl !== ROUTE_TYPE || before.name !== after.name)
    return false;
  const known = checked.get(`${before.hash}\0${before.name}`);
  const routes = known?.facts?.routes;
  if (!known || known.problems.length > 0 || !routes) return false;
  const vhosts = ((after.message as { virtual_hosts?: { name?: string; routes?: unknown[] }[] })
    .virtual_hosts ?? []) as { name?: string; routes?: unknown[] }[];
  const offsets: number[] = [];
  let total = 0;
  for (const vh of vhosts) {
    offsets.push(total);
    total += vh.routes?.length ?? 0;
  }
  if (total !== routes.length) return false;
  const type = messageType('envoy.config.route.v3.Route');
  const facts = [...routes];
  let same = true;
  for (const s of splices) {
    const vh = vhosts[s.virtualHost];
    const offset = offsets[s.virtualHost];
    if (!vh || offset === undefined || s.start + s.routes.length > (vh.routes?.length ?? 0)) return false;
    for (let i = 0; i < s.routes.length; i++) {
      let message: protobuf.Message;
      try {
        message = type.decode(s.routes[i] as Uint8Array);
      } catch {
        return false;
      }
      if (validateDecoded(type, message as unknown as Json, type.name).length > 0) return false;
      const decoded = type.toObject(message, RESOURCE_JSON_OPTIONS) as Json;
      const one = resourceFacts(ROUTE_TYPE, after.name, {
        virtual_hosts: [{ name: vh.name, routes: [decoded] }],
      });
      const fact = one.routes?.[0];
      if (!fact) return false;
      if (same && JSON.stringify(fact) !== JSON.stringify(facts[offset + s.start + i])) same = false;
      facts[offset + s.start + i] = fact;
    }
  }
  const key = `${after.hash}\0${after.name}`;
  if (!checked.has(key)) {
    checked.set(key, { problems: [], facts: { routes: facts } });
    cachedRoutes += facts.length;
    // The configuration it replaces is superseded: dropped here, since a run of splices may never
    // reach validateOutput's own eviction (it would be decoded again if it came back).
    if (checked.delete(`${before.hash}\0${before.name}`)) cachedRoutes -= routes.length;
  }
  return same ? 'same' : 'changed';
}

/** Decodes one resource once: its own problems, its facts; the decoded form is dropped after. */
function check(r: CompiledResource, pgvStats: PgvStats | undefined): Checked {
  let type: protobuf.Type;
  let message: protobuf.Message;
  try {
    type = messageType(messageNameOf(r.typeUrl));
    message = type.decode(r.bytes);
  } catch (err) {
    return {
      problems: [
        `${r.typeUrl} ${r.name} does not decode: ${err instanceof Error ? err.message : String(err)}`,
      ],
    };
  }
  // A route configuration's facts are read from the message itself (consistency.ts reads its
  // fields as they are set in either form): its plain form would be a second tree of every route.
  const decoded =
    r.typeUrl === ROUTE_TYPE
      ? (message as unknown as Json)
      : (type.toObject(message, RESOURCE_JSON_OPTIONS) as Json);
  decodedSink?.set(
    r.bytes,
    decoded === (message as unknown) ? (type.toObject(message, RESOURCE_JSON_OPTIONS) as Json) : decoded,
  );
  const problems: string[] = [];
  const inner = r.typeUrl === ENDPOINT_TYPE ? decoded.cluster_name : setName(decoded);
  if (inner !== r.name) problems.push(`${r.typeUrl} ${r.name} carries the name ${String(inner)}`);
  const pgv = validateDecoded(type, message as unknown as Json, `${type.name}[name=${r.name}]`, pgvStats);
  problems.push(...pgv.map(formatPgvProblem));
  return { problems, facts: resourceFacts(r.typeUrl, r.name, decoded) };
}

/** `name` as the plain form has it: absent (undefined) unless set; a message's default '' is not set. */
function setName(decoded: Json): unknown {
  return Object.hasOwn(decoded, 'name') && decoded.name !== null ? decoded.name : undefined;
}

function routeCount(c: Checked): number {
  return c.facts?.routes?.length ?? 0;
}
