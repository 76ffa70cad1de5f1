/**
 * Consistency checks on the generated Envoy output, read back from the encoded bytes. A failure
 * means the compiler produced something clients would reject or misroute: a system error, so the
 * caller publishes nothing and the last good snapshot keeps serving.
 *
 * Checked: names are unique per type; every HCM's RDS name exists and its router filter is last;
 * every route forwards to an existing cluster (no redirects or other actions); every EDS cluster
 * has a ClusterLoadAssignment; every locality has a weight and every endpoint an IP literal.
 */
import { isIP } from 'node:net';
import { decodeResource } from '../../shared/xds/encoding.ts';
import {
  CLUSTER_TYPE,
  ENDPOINT_TYPE,
  LISTENER_TYPE,
  ROUTE_TYPE,
  TYPE_PREFIX,
} from '../../shared/xds/type-urls.ts';
import type { CompiledResource } from './compile.ts';
import { HCM_TYPE, ROUTER_TYPE } from './translate/common.ts';

type Json = Record<string, unknown>;

/** Returns every problem found; an empty list means the output is consistent. */
export function validateOutput(resources: readonly CompiledResource[]): string[] {
  const problems: string[] = [];
  const byType = new Map<string, Map<string, Json>>();
  for (const r of resources) {
    let names = byType.get(r.typeUrl);
    if (!names) {
      names = new Map();
      byType.set(r.typeUrl, names);
    }
    if (names.has(r.name)) problems.push(`duplicate ${r.typeUrl} name ${r.name}`);
    let decoded: Json;
    try {
      decoded = decodeResource(r.typeUrl, r.bytes);
    } catch (err) {
      problems.push(
        `${r.typeUrl} ${r.name} does not decode: ${err instanceof Error ? err.message : String(err)}`,
      );
      continue;
    }
    const inner = r.typeUrl === ENDPOINT_TYPE ? decoded.cluster_name : decoded.name;
    if (inner !== r.name) problems.push(`${r.typeUrl} ${r.name} carries the name ${String(inner)}`);
    names.set(r.name, decoded);
  }
  const listeners = byType.get(LISTENER_TYPE) ?? new Map<string, Json>();
  const routes = byType.get(ROUTE_TYPE) ?? new Map<string, Json>();
  const clusters = byType.get(CLUSTER_TYPE) ?? new Map<string, Json>();
  const endpoints = byType.get(ENDPOINT_TYPE) ?? new Map<string, Json>();

  for (const [name, listener] of listeners) {
    const hcms = listenerHcms(listener);
    if (hcms.length === 0) problems.push(`listener ${name} has no HTTP connection manager`);
    for (const hcm of hcms) {
      const rds = str(obj(hcm.rds).route_config_name);
      if (!rds || !routes.has(rds))
        problems.push(`listener ${name} references missing route configuration ${rds}`);
      const filters = arr(hcm.http_filters).map(obj);
      const last = filters[filters.length - 1];
      if (!last || str(obj(last.typed_config)['@type']) !== TYPE_PREFIX + ROUTER_TYPE) {
        problems.push(`listener ${name}: the router must be the last HTTP filter`);
      }
    }
  }

  for (const [name, rc] of routes) {
    for (const vh of arr(rc.virtual_hosts).map(obj)) {
      for (const route of arr(vh.routes).map(obj)) {
        const action = obj(route.route);
        const cluster = str(action.cluster);
        if (
          route.route === undefined ||
          route.redirect !== undefined ||
          route.non_forwarding_action !== undefined
        ) {
          problems.push(`route configuration ${name} has a route that does not forward to a cluster`);
        } else if (!cluster || !clusters.has(cluster)) {
          problems.push(`route configuration ${name} references missing cluster ${cluster}`);
        }
      }
    }
  }

  for (const [name, cluster] of clusters) {
    if (cluster.type !== 'EDS') continue;
    const eds = obj(cluster.eds_cluster_config);
    const serviceName = str(eds.service_name) || name;
    if (!endpoints.has(serviceName))
      problems.push(`cluster ${name} has no ClusterLoadAssignment ${serviceName}`);
  }

  for (const [name, cla] of endpoints) {
    for (const loc of arr(cla.endpoints).map(obj)) {
      if (!(Number(obj(loc.load_balancing_weight).value) > 0)) {
        problems.push(`ClusterLoadAssignment ${name} has a locality without a weight`);
      }
      for (const lb of arr(loc.lb_endpoints).map(obj)) {
        const address = str(obj(obj(obj(lb.endpoint).address).socket_address).address);
        if (isIP(address) === 0)
          problems.push(`ClusterLoadAssignment ${name} has a non-IP address ${address}`);
      }
    }
  }
  return problems;
}

/** The HTTP connection managers of a listener: its API listener and filter-chain filters. */
function listenerHcms(listener: Json): Json[] {
  const out: Json[] = [];
  const api = obj(obj(listener.api_listener).api_listener);
  if (str(api['@type']) === TYPE_PREFIX + HCM_TYPE) out.push(api);
  for (const chain of arr(listener.filter_chains).map(obj)) {
    for (const filter of arr(chain.filters).map(obj)) {
      const config = obj(filter.typed_config);
      if (str(config['@type']) === TYPE_PREFIX + HCM_TYPE) out.push(config);
    }
  }
  return out;
}

function obj(v: unknown): Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : {};
}

function arr(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}
