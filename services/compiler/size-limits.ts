/**
 * Size limits on the compiled output. A proxyless gRPC client (grpc-js-xds) refuses any xDS
 * response over gRPC's default maximum message size of 4 MiB (4,194,304 bytes), and loses every
 * route of the affected resource when it does; Envoy NACKs a whole RouteConfiguration or Listener
 * over one bad part. So output that would exceed what clients accept is never published: the
 * objects contributing most to an oversize resource are rejected (error diagnostics naming them
 * and their share) and everything else is compiled again without them.
 *
 * Limits (bytes of canonical protobuf encoding, stated in the README):
 * - one route: {@link ROUTE_LIMIT};
 * - one resource (RouteConfiguration, Listener, Cluster, …): {@link RESOURCE_LIMIT};
 * - one state-of-the-world response: all resources of one type that Envoy receives together
 *   (everything but the on-demand API listeners and their route configurations):
 *   {@link RESPONSE_LIMIT}.
 * The last two leave room under 4 MiB for the DiscoveryResponse envelope, `Any` wrappers and
 * the other resources a proxyless client asks for.
 *
 * Pure: a function of the compiled output and its provenance; ties break by object id.
 */

import { messageType } from '../../proto/root.ts';
import { objectId, type Provenance } from '../../shared/snapshot/provenance.ts';
import { ENDPOINT_TYPE, ROUTE_TYPE } from '../../shared/xds/type-urls.ts';
import type { CompiledResource, Diagnostic, SourceRecord } from './contracts.ts';

export const ROUTE_LIMIT = 256 * 1024;
export const RESOURCE_LIMIT = 3 * 1024 * 1024;
export const RESPONSE_LIMIT = 3.5 * 1024 * 1024;

/** An object to reject, with the error that says why. */
export interface SizeRejection {
  id: string;
  diagnostic: Diagnostic;
}

interface Contributor {
  id: string;
  bytes: number;
}

const KIB = (n: number) => `${(n / 1024).toFixed(1)} KiB`;

/**
 * The objects to reject so the output fits the limits; empty when it already does. Contributions
 * are measured per route for route configurations and by the size of the source object for every
 * other resource, so the largest contributors go first, until their share covers the excess.
 */
export function sizeRejections(
  resources: readonly CompiledResource[],
  provenanceOf: () => Provenance,
  records: readonly SourceRecord[],
): SizeRejection[] {
  if (withinLimits(resources)) return [];
  // Only a rejection needs it: a large route configuration whose routes all fit does not.
  let known: Provenance | undefined;
  const provenance = (): Provenance => {
    known ??= provenanceOf();
    return known;
  };
  const out = new Map<string, SizeRejection>();
  // Built only when something is over a limit: one pass over every record.
  let index: { refs: Map<string, Diagnostic['source']>; bytes: Map<string, number> } | undefined;
  const records_ = () => {
    if (index) return index;
    index = { refs: new Map(), bytes: new Map() };
    for (const r of records) {
      const id = safeId(r);
      if (!id) continue;
      const o = r.object as { kind: string; metadata: { namespace?: string; name: string } };
      index.refs.set(id, {
        cluster: r.cluster,
        kind: o.kind,
        namespace: o.metadata.namespace ?? '',
        name: o.metadata.name,
        ...(r.origin ? { file: r.origin.file, document: r.origin.document } : {}),
      });
      index.bytes.set(id, Buffer.byteLength(JSON.stringify(r.object) ?? '', 'utf8'));
    }
    return index;
  };
  const reject = (id: string, message: string, field?: string) => {
    const source = records_().refs.get(id);
    if (!source || out.has(id)) return;
    out.set(id, { id, diagnostic: { severity: 'error', source, ...(field ? { field } : {}), message } });
  };
  const contributorsOf = (r: CompiledResource): Contributor[] => {
    const byId = new Map<string, number>();
    if (r.typeUrl === ROUTE_TYPE) {
      const routes = routeSizes(r);
      const prov = provenance().routes[r.name] ?? {};
      for (const [vh, sizes] of routes) {
        sizes.forEach((bytes, i) => {
          for (const id of prov[vh]?.[i] ?? []) byId.set(id, (byId.get(id) ?? 0) + bytes);
        });
      }
    }
    if (byId.size === 0) {
      for (const id of provenance().resources[r.typeUrl]?.[r.name] ?? [])
        byId.set(id, records_().bytes.get(id) ?? 0);
    }
    return [...byId]
      .map(([id, bytes]) => ({ id, bytes }))
      .sort((a, b) => b.bytes - a.bytes || (a.id < b.id ? -1 : 1));
  };
  const shed = (contributors: Contributor[], excess: number, why: (c: Contributor) => string) => {
    let covered = 0;
    for (const c of contributors) {
      if (covered > excess) break;
      reject(c.id, why(c));
      covered += c.bytes;
    }
  };

  // Per route: one object's route over the limit is that object's own problem.
  for (const r of resources) {
    if (r.typeUrl !== ROUTE_TYPE || r.bytes.length <= ROUTE_LIMIT) continue;
    const large = largeRoutes(r);
    if (large.size === 0) continue;
    const prov = provenance().routes[r.name] ?? {};
    for (const [vh, routes] of large) {
      for (const [i, bytes] of routes) {
        for (const id of prov[vh]?.[i] ?? [])
          reject(
            id,
            `its route in ${r.name} encodes to ${KIB(bytes)}, over the ${KIB(ROUTE_LIMIT)} limit per route; rejected`,
          );
      }
    }
  }
  if (out.size > 0) return [...out.values()];

  for (const r of resources) {
    if (r.bytes.length <= RESOURCE_LIMIT) continue;
    shed(
      contributorsOf(r),
      r.bytes.length - RESOURCE_LIMIT,
      (c) =>
        `${shortType(r.typeUrl)} ${r.name} would encode to ${KIB(r.bytes.length)}, over the ${KIB(RESOURCE_LIMIT)} ` +
        `that xDS clients accept in one resource (gRPC's 4 MiB message limit); this object contributes ` +
        `${KIB(c.bytes)}, among the largest, and is rejected`,
    );
  }
  if (out.size > 0) return [...out.values()];

  const byType = new Map<string, CompiledResource[]>();
  for (const r of resources) {
    if (r.onDemand || r.name.startsWith('api:')) continue;
    const list = byType.get(r.typeUrl);
    if (list) list.push(r);
    else byType.set(r.typeUrl, [r]);
  }
  for (const [typeUrl, list] of byType) {
    const total = list.reduce((s, r) => s + r.bytes.length, 0);
    if (total <= RESPONSE_LIMIT) continue;
    const merged = new Map<string, number>();
    for (const r of list)
      for (const c of contributorsOf(r)) merged.set(c.id, (merged.get(c.id) ?? 0) + c.bytes);
    const contributors = [...merged]
      .map(([id, bytes]) => ({ id, bytes }))
      .sort((a, b) => b.bytes - a.bytes || (a.id < b.id ? -1 : 1));
    shed(
      contributors,
      total - RESPONSE_LIMIT,
      (c) =>
        `the ${shortType(typeUrl)} resources sent together would total ${KIB(total)}, over the ` +
        `${KIB(RESPONSE_LIMIT)} that fits one xDS response (gRPC's 4 MiB message limit); this object ` +
        `contributes ${KIB(c.bytes)}, among the largest, and is rejected`,
    );
  }
  return [...out.values()];
}

/** The cheap check that settles almost every compile: nothing is near a limit. */
export function withinLimits(resources: readonly CompiledResource[]): boolean {
  const totals = new Map<string, number>();
  for (const r of resources) {
    // A route can only exceed ROUTE_LIMIT inside a route configuration at least that large.
    if (r.bytes.length > Math.min(ROUTE_LIMIT, RESOURCE_LIMIT)) return false;
    if (r.onDemand || r.name.startsWith('api:')) continue;
    totals.set(r.typeUrl, (totals.get(r.typeUrl) ?? 0) + r.bytes.length);
  }
  for (const total of totals.values()) if (total > RESPONSE_LIMIT) return false;
  return true;
}

/**
 * The exact check for an output that differs from one within every limit (no rejections) only in
 * its ClusterLoadAssignments, as the endpoint fast path's does: every other resource, and so every
 * other rule of {@link sizeRejections}, is unchanged, and what remains is that each
 * ClusterLoadAssignment stays under {@link RESOURCE_LIMIT} and those sent together under
 * {@link RESPONSE_LIMIT}. ({@link withinLimits} is only a cheap sufficient check: any resource
 * past {@link ROUTE_LIMIT} fails it, which a large route configuration always is.)
 */
export function endpointsWithinLimits(resources: readonly CompiledResource[]): boolean {
  let total = 0;
  for (const r of resources) {
    if (r.typeUrl !== ENDPOINT_TYPE) continue;
    if (r.bytes.length > RESOURCE_LIMIT) return false;
    if (!r.onDemand && !r.name.startsWith('api:')) total += r.bytes.length;
  }
  return total <= RESPONSE_LIMIT;
}

/** Encoded size of every route, per virtual host name, in order. */
function routeSizes(r: CompiledResource): Map<string, number[]> {
  const rc = r.message as { virtual_hosts?: { name: string }[] };
  const sizes = encodedRouteSizes(r.bytes);
  const out = new Map<string, number[]>();
  (rc.virtual_hosts ?? []).forEach((vh, i) => {
    out.set(vh.name, sizes[i] ?? []);
  });
  return out;
}

/** Routes over ROUTE_LIMIT, per virtual host name: their index and encoded size. */
function largeRoutes(r: CompiledResource): Map<string, Map<number, number>> {
  const out = new Map<string, Map<number, number>>();
  for (const [vh, sizes] of routeSizes(r)) {
    sizes.forEach((bytes, i) => {
      if (bytes <= ROUTE_LIMIT) return;
      const m = out.get(vh) ?? new Map<number, number>();
      m.set(i, bytes);
      out.set(vh, m);
    });
  }
  return out;
}

/**
 * The encoded size of every route of a RouteConfiguration, per virtual host in order, read from
 * its bytes: each repeated message element is written as tag, length and its own encoding, so the
 * lengths are the routes' sizes, found without decoding or re-encoding anything.
 */
function encodedRouteSizes(bytes: Uint8Array): number[][] {
  const virtualHosts = messageType('envoy.config.route.v3.RouteConfiguration').fields.virtual_hosts?.id;
  const routesField = messageType('envoy.config.route.v3.VirtualHost').fields.routes?.id;
  const out: number[][] = [];
  forEachField(bytes, 0, bytes.length, (id, start, end) => {
    if (id !== virtualHosts) return;
    const routes: number[] = [];
    forEachField(bytes, start, end, (rid, rs, re) => {
      if (rid === routesField) routes.push(re - rs);
    });
    out.push(routes);
  });
  return out;
}

/** Calls `each` with the number and payload bounds of every length-delimited field in [from, to). */
function forEachField(
  bytes: Uint8Array,
  from: number,
  to: number,
  each: (id: number, start: number, end: number) => void,
): void {
  let o = from;
  const varint = (): number => {
    let value = 0;
    let shift = 0;
    for (;;) {
      const b = bytes[o++];
      if (b === undefined || o > to) throw new Error('truncated varint in an encoded message');
      value += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return value;
      shift += 7;
    }
  };
  while (o < to) {
    const tag = varint();
    const wire = tag % 8;
    if (wire === 0) varint();
    else if (wire === 1) o += 8;
    else if (wire === 5) o += 4;
    else if (wire === 2) {
      const len = varint();
      each(Math.floor(tag / 8), o, o + len);
      o += len;
    } else throw new Error(`unexpected wire type ${wire} in an encoded message`);
  }
}

function shortType(typeUrl: string): string {
  return typeUrl.slice(typeUrl.lastIndexOf('.') + 1);
}

/** The provenance id of a record, or undefined for a record that is not an object. */
export function safeId(r: SourceRecord): string | undefined {
  const o = r.object as { kind?: unknown; metadata?: { namespace?: unknown; name?: unknown } } | null;
  if (typeof o?.kind !== 'string' || typeof o.metadata !== 'object' || o.metadata === null) return undefined;
  const { namespace, name } = o.metadata;
  return objectId({
    cluster: r.cluster,
    kind: o.kind,
    namespace: typeof namespace === 'string' ? namespace : '',
    name: typeof name === 'string' ? name : '',
  });
}
