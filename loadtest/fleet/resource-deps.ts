/**
 * What an Envoy subscribes to next because of a resource it received: an EDS cluster asks for its
 * ClusterLoadAssignment, a listener whose HttpConnectionManager uses RDS asks for its route
 * configuration, a route configuration with `vhds` asks for its virtual hosts. Decoding is done once per distinct resource version, never per stream.
 */
import { decodeResource } from '../../shared/xds/encoding.ts';
import { CLUSTER_TYPE, LISTENER_TYPE, ROUTE_TYPE } from '../../shared/xds/type-urls.ts';
import { lenFields, utf8 } from './wire.ts';

/** Names of the dependent type a resource requires: EDS names for a Cluster, RDS names for a Listener. */
export function dependenciesOf(typeUrl: string, resource: Record<string, unknown>): string[] {
  if (typeUrl === CLUSTER_TYPE) {
    if (resource.type !== 'EDS') return [];
    const eds = resource.eds_cluster_config as { service_name?: string } | undefined;
    return [eds?.service_name || String(resource.name ?? '')];
  }
  if (typeUrl === LISTENER_TYPE) {
    const out: string[] = [];
    collectRouteConfigNames(resource, out);
    return out;
  }
  return [];
}

/** Decodes a packed `Any` (the bytes of one `resources` entry) and returns its dependencies. */
export function dependenciesOfAny(bytes: Uint8Array, start: number, end: number): string[] {
  let typeUrl = '';
  let value: Uint8Array | undefined;
  for (const f of lenFields(bytes, start, end)) {
    if (f.no === 1) typeUrl = utf8(bytes, f);
    else if (f.no === 2) value = bytes.subarray(f.start, f.end);
  }
  if (value && typeUrl === ROUTE_TYPE) return vhdsNamespaces(value);
  if (!value || (typeUrl !== CLUSTER_TYPE && typeUrl !== LISTENER_TYPE)) return [];
  return dependenciesOf(typeUrl, decodeResource(typeUrl, value));
}

/**
 * A RouteConfiguration with `vhds` (field 9) needs its virtual hosts over VHDS: Envoy subscribes
 * with the route configuration's own name (field 1), as a namespace. Read from the top-level
 * fields only, without decoding the (large) route table.
 */
function vhdsNamespaces(rc: Uint8Array): string[] {
  let name = '';
  let vhds = false;
  for (const f of lenFields(rc)) {
    if (f.no === 1) name = utf8(rc, f);
    else if (f.no === 9) vhds = true;
  }
  return vhds ? [name] : [];
}

/** Every `rds.route_config_name` of an HttpConnectionManager anywhere in a decoded listener. */
function collectRouteConfigNames(node: unknown, out: string[]): void {
  if (Array.isArray(node)) {
    for (const v of node) collectRouteConfigNames(v, out);
    return;
  }
  if (node === null || typeof node !== 'object') return;
  const obj = node as Record<string, unknown>;
  const type = obj['@type'];
  if (typeof type === 'string' && type.endsWith('.HttpConnectionManager')) {
    const name = (obj.rds as { route_config_name?: string } | undefined)?.route_config_name;
    if (name) out.push(name);
    return;
  }
  for (const v of Object.values(obj)) collectRouteConfigNames(v, out);
}
