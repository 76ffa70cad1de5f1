/**
 * A group's route configurations as VHDS (virtual host discovery) clients receive them, derived
 * from the committed RouteConfigurations without decoding them: each RouteConfiguration is sent
 * without its virtual hosts and with `vhds` over ADS, and each of its virtual hosts becomes a
 * VirtualHost resource of its own. A change to one Host's routes then changes one VirtualHost
 * resource, and a delta client is sent that Host's bytes only, not every Host's.
 *
 * Envoy facts this follows (configuration/http/http_conn_man/vhds, source/common/router/vhds.cc,
 * route_config_update_receiver_impl.cc, config_subscription/grpc/watch_map.cc):
 * - VHDS is delta-only: with an `ads` config source the ADS stream must be DELTA_GRPC.
 * - A virtual host's resource name is `<route configuration name>/<host entry>`. Envoy subscribes
 *   with the route configuration's name and namespace matching: it takes every resource whose name
 *   up to its last `/` is that name (see served-set.ts, `namespaced`).
 * - Envoy keys the virtual hosts it got over VHDS by the VirtualHost's `name` and removes them by
 *   the names in `removed_resources`, so the `name` inside each resource is its resource name.
 * - RDS and VHDS virtual hosts are merged into one table whose domains must be unique, so the
 *   RouteConfiguration sent to a VHDS client carries none itself.
 * - An RDS update keeps the virtual hosts received over VHDS (RouteConfigUpdateReceiverImpl
 *   rebuilds the table from both; the VHDS page's "clears the virtual host table" is not what the
 *   code does), so a changed RouteConfiguration does not make the fan-out resend its hosts. The
 *   `vhds` field never changes, which would make Envoy open a new VHDS subscription.
 *
 * Identity: every derived resource's version is the content hash of its bytes, so every fan-out
 * node derives the same names and versions, and a client moves between nodes without a re-push.
 * Derivations are cached by the identity of the immutable inputs (a RouteConfiguration resource,
 * a type snapshot), so an unchanged RouteConfiguration is split once, not once per snapshot.
 */
import protobuf from 'protobufjs';
import { typeVersion } from '../../../shared/snapshot/manifest.ts';
import { resourceHash } from '../../../shared/xds/encoding.ts';
import { ROUTE_TYPE, VIRTUAL_HOST_TYPE } from '../../../shared/xds/type-urls.ts';
import type { CachedResource, TypeSnapshot } from './group-snapshot.ts';
import { packAnyBytes } from './pack-any.ts';

export interface VhdsView {
  /** The RouteConfigurations with no virtual hosts and `vhds` over ADS; same names. */
  readonly routes: TypeSnapshot;
  /** Every RouteConfiguration's virtual hosts, named `<route configuration>/<host entry>`. */
  readonly virtualHosts: TypeSnapshot;
}

/** One RouteConfiguration split: its VHDS form and its virtual hosts. */
interface Split {
  readonly route: CachedResource;
  readonly hosts: readonly CachedResource[];
}

const RC_NAME = 1;
const RC_VIRTUAL_HOSTS = 2;
const RC_VHDS = 9;
const VH_NAME = 1;
const VH_DOMAINS = 2;
const ANY_VALUE = 2;

/**
 * `vhds { config_source { ads {} resource_api_version: V3 } }` as RouteConfiguration field 9,
 * written by hand (ConfigSource: 3 `ads`, an empty message; 6 `resource_api_version`, V3 = 2) so
 * that loading this module does not load the proto root (the VHDS case of delta-protocol.test.ts decodes it).
 */
const VHDS_FIELD = Uint8Array.from([(RC_VHDS << 3) | 2, 6, (1 << 3) | 2, 4, (3 << 3) | 2, 0, 6 << 3, 2]);

const views = new WeakMap<TypeSnapshot, VhdsView>();
const splits = new WeakMap<CachedResource, Split>();

/** The VHDS view of a group's RouteConfiguration type snapshot (computed once per snapshot object). */
export function vhdsView(routes: TypeSnapshot): VhdsView {
  let view = views.get(routes);
  if (view) return view;
  const rcs: CachedResource[] = [];
  const hosts: CachedResource[] = [];
  for (const r of routes.resources.values()) {
    const s = split(r);
    rcs.push(s.route);
    hosts.push(...s.hosts);
  }
  hosts.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  view = { routes: typeSnapshot(ROUTE_TYPE, rcs), virtualHosts: typeSnapshot(VIRTUAL_HOST_TYPE, hosts) };
  views.set(routes, view);
  return view;
}

function typeSnapshot(typeUrl: TypeSnapshot['typeUrl'], resources: CachedResource[]): TypeSnapshot {
  const entries = resources.map((r) => ({
    name: r.name,
    hash: r.hash,
    ...(r.onDemand ? { onDemand: true as const } : {}),
  }));
  return { typeUrl, version: typeVersion(entries), resources: new Map(resources.map((r) => [r.name, r])) };
}

interface Field {
  readonly no: number;
  /** The whole field, tag included. */
  readonly from: number;
  readonly to: number;
  /** The payload of a length-delimited field. */
  readonly start: number;
  readonly end: number;
}

/** The top-level fields of an encoded message, in order. */
function fields(buf: Uint8Array): Field[] {
  const r = protobuf.Reader.create(buf);
  const out: Field[] = [];
  while (r.pos < r.len) {
    const from = r.pos;
    const tag = r.uint32();
    const wire = tag & 7;
    if (wire === 2) {
      const len = r.uint32();
      const start = r.pos;
      r.skip(len);
      out.push({ no: tag >>> 3, from, to: r.pos, start, end: start + len });
    } else {
      r.skipType(wire);
      out.push({ no: tag >>> 3, from, to: r.pos, start: r.pos, end: r.pos });
    }
  }
  return out;
}

const utf8 = new TextDecoder();

function split(rc: CachedResource): Split {
  let s = splits.get(rc);
  if (s) return s;
  const anyFields = fields(rc.any);
  const value = anyFields.find((f) => f.no === ANY_VALUE);
  const bytes = value ? rc.any.subarray(value.start, value.end) : new Uint8Array(0);
  const top = fields(bytes);
  const kept: Uint8Array[] = [];
  const hosts: CachedResource[] = [];
  const taken = new Set<string>();
  let vhdsWritten = false;
  for (const f of top) {
    if (f.no === RC_VIRTUAL_HOSTS) {
      hosts.push(virtualHost(rc.name, bytes.subarray(f.start, f.end), taken));
      continue;
    }
    if (f.no === RC_VHDS) continue;
    if (!vhdsWritten && f.no > RC_VHDS) {
      kept.push(VHDS_FIELD);
      vhdsWritten = true;
    }
    kept.push(bytes.subarray(f.from, f.to));
  }
  if (!vhdsWritten) kept.push(VHDS_FIELD);
  if (!top.some((f) => f.no === RC_NAME)) kept.unshift(nameField(RC_NAME, rc.name));
  const routeBytes = Buffer.concat(kept);
  const route: CachedResource = {
    name: rc.name,
    hash: resourceHash(ROUTE_TYPE, routeBytes),
    any: packAnyBytes(ROUTE_TYPE, routeBytes),
    onDemand: rc.onDemand,
  };
  s = { route, hosts };
  splits.set(rc, s);
  return s;
}

/**
 * One virtual host as a VHDS resource: named `<route configuration>/<its one domain>` (the host
 * entry Envoy's convention names), or after its own name when it has several domains; the same
 * name is written into the message.
 */
function virtualHost(rcName: string, vh: Uint8Array, taken: Set<string>): CachedResource {
  const fs = fields(vh);
  let vhName = '';
  const domains: string[] = [];
  for (const f of fs) {
    if (f.no === VH_NAME) vhName = utf8.decode(vh.subarray(f.start, f.end));
    else if (f.no === VH_DOMAINS) domains.push(utf8.decode(vh.subarray(f.start, f.end)));
  }
  // A host entry holds no `/`; a name might, and Envoy takes everything before the last `/` as
  // the namespace, so one in a name would move the resource out of its route configuration's.
  const entry = domains.length === 1 ? (domains[0] as string) : vhName;
  const base = `${rcName}/${entry.replaceAll('/', '_')}`;
  let name = base;
  for (let i = 2; taken.has(name); i++) name = `${base}_${i}`;
  taken.add(name);
  const parts: Uint8Array[] = [nameField(VH_NAME, name)];
  for (const f of fs) if (f.no !== VH_NAME) parts.push(vh.subarray(f.from, f.to));
  const bytes = Buffer.concat(parts);
  return {
    name,
    hash: resourceHash(VIRTUAL_HOST_TYPE, bytes),
    any: packAnyBytes(VIRTUAL_HOST_TYPE, bytes),
    onDemand: false,
  };
}

function nameField(no: number, name: string): Uint8Array {
  return protobuf.Writer.create()
    .uint32((no << 3) | 2)
    .string(name)
    .finish();
}
