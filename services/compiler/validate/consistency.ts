/**
 * Cross-resource consistency of one snapshot, on resources decoded from the bytes that will be
 * sent (proto field names, Anys expanded with "@type"). Each rule is something an Envoy or a
 * grpc-js client would reject, or would silently misroute on:
 *
 * - every listener has a terminal filter in each filter chain (an HTTP connection manager or a
 *   TCP proxy); an API listener has an HCM; every HCM's router filter is last and its RDS name exists;
 * - route configurations used by API listeners only forward to clusters (grpc-js NACKs redirects
 *   and crashes on non_forwarding_action); socket route configurations may also redirect or
 *   answer directly, and no route anywhere uses non_forwarding_action (server-side only);
 * - every cluster named by a route, weighted cluster, mirror policy, TCP proxy or gRPC service exists;
 * - every SDS secret referenced by name exists; every EDS cluster has a ClusterLoadAssignment;
 * - in each ClusterLoadAssignment: every locality has a weight, every endpoint an IP literal and a
 *   unique address, (locality, priority) pairs are unique and priorities are contiguous from 0.
 */
import { isIP } from 'node:net';
import {
  CLUSTER_TYPE,
  ENDPOINT_TYPE,
  LISTENER_TYPE,
  ROUTE_TYPE,
  SECRET_TYPE,
  TYPE_PREFIX,
} from '../../../shared/xds/type-urls.ts';
import { API_ROUTE_CONFIG_PREFIX } from '../translate/common.ts';

type Json = Record<string, unknown>;

/** Decoded resources by type URL, then by name. */
export type DecodedSnapshot = ReadonlyMap<string, ReadonlyMap<string, Json>>;

const HCM = `${TYPE_PREFIX}envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager`;
const TCP_PROXY = `${TYPE_PREFIX}envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy`;
const ROUTER = `${TYPE_PREFIX}envoy.extensions.filters.http.router.v3.Router`;

export function checkConsistency(snapshot: DecodedSnapshot): string[] {
  const problems: string[] = [];
  const of = (typeUrl: string) => snapshot.get(typeUrl) ?? new Map<string, Json>();
  const listeners = of(LISTENER_TYPE);
  const routeConfigs = of(ROUTE_TYPE);
  const clusters = of(CLUSTER_TYPE);
  const endpoints = of(ENDPOINT_TYPE);
  const secrets = of(SECRET_TYPE);

  const clusterRef = (where: string, name: string) => {
    if (!clusters.has(name)) problems.push(`${where} references missing cluster ${name}`);
  };
  /** Route configurations an API listener uses: proxyless gRPC clients read them. */
  const clientRouteConfigs = new Set<string>();
  const inlineRouteConfigs: [string, Json, boolean][] = [];

  const checkHcm = (where: string, hcm: Json, client: boolean) => {
    const rds = str(obj(hcm.rds).route_config_name);
    if (hcm.route_config !== undefined) {
      inlineRouteConfigs.push([`${where} inline route configuration`, obj(hcm.route_config), client]);
    } else if (!rds || !routeConfigs.has(rds)) {
      problems.push(`${where} references missing route configuration ${rds}`);
    } else if (client) {
      clientRouteConfigs.add(rds);
    }
    const filters = arr(hcm.http_filters).map(obj);
    const last = filters[filters.length - 1];
    if (!last || str(obj(last.typed_config)['@type']) !== ROUTER) {
      problems.push(`${where}: the router must be the last HTTP filter`);
    }
  };

  for (const [name, listener] of listeners) {
    const where = `listener ${name}`;
    if (listener.api_listener !== undefined) {
      const api = obj(obj(listener.api_listener).api_listener);
      if (str(api['@type']) !== HCM)
        problems.push(`${where}: an API listener needs an HTTP connection manager`);
      else checkHcm(where, api, true);
      continue;
    }
    const chains = arr(listener.filter_chains).map(obj);
    if (listener.default_filter_chain !== undefined) chains.push(obj(listener.default_filter_chain));
    if (chains.length === 0) problems.push(`${where} has no filter chain`);
    chains.forEach((chain, i) => {
      const filters = arr(chain.filters).map(obj);
      const terminal = obj(filters[filters.length - 1]?.typed_config);
      const type = str(terminal['@type']);
      if (type === HCM) checkHcm(`${where} filter chain ${i}`, terminal, false);
      else if (type === TCP_PROXY) {
        const weighted = arr(obj(terminal.weighted_clusters).clusters).map((c) => str(obj(c).name));
        for (const c of terminal.cluster !== undefined ? [str(terminal.cluster)] : weighted)
          clusterRef(`${where} filter chain ${i} TCP proxy`, c);
      } else {
        problems.push(
          `${where} filter chain ${i} does not end with an HTTP connection manager or a TCP proxy`,
        );
      }
    });
  }

  const checkRoutes = (where: string, rc: Json, client: boolean) => {
    for (const vh of arr(rc.virtual_hosts).map(obj)) {
      for (const route of arr(vh.routes).map(obj)) {
        const at = `${where} virtual host ${str(vh.name)} route ${str(route.name) || str(obj(route.match).prefix)}`;
        if (route.non_forwarding_action !== undefined) {
          problems.push(`${at} uses non_forwarding_action (server listeners only)`);
        } else if (route.route !== undefined) {
          const action = obj(route.route);
          if (action.cluster !== undefined) clusterRef(at, str(action.cluster));
          for (const c of arr(obj(action.weighted_clusters).clusters)) clusterRef(at, str(obj(c).name));
          for (const m of arr(action.request_mirror_policies))
            clusterRef(`${at} mirror`, str(obj(m).cluster));
        } else if (client) {
          problems.push(`${at} does not forward to a cluster, which gRPC clients reject`);
        } else if (route.redirect === undefined && route.direct_response === undefined) {
          problems.push(`${at} has no action`);
        }
      }
    }
  };
  for (const [name, rc] of routeConfigs)
    checkRoutes(
      `route configuration ${name}`,
      rc,
      clientRouteConfigs.has(name) || name.startsWith(API_ROUTE_CONFIG_PREFIX),
    );
  for (const [where, rc, client] of inlineRouteConfigs) checkRoutes(where, rc, client);

  for (const [typeUrl, resources] of [
    [LISTENER_TYPE, listeners],
    [CLUSTER_TYPE, clusters],
  ] as const) {
    for (const [name, resource] of resources) {
      const where = `${typeUrl === LISTENER_TYPE ? 'listener' : 'cluster'} ${name}`;
      walk(resource, (node) => {
        const grpc = obj(node.envoy_grpc);
        if (node.envoy_grpc !== undefined) clusterRef(`${where} gRPC service`, str(grpc.cluster_name));
        if (node.sds_config !== undefined && typeof node.name === 'string' && !secrets.has(node.name))
          problems.push(`${where} references missing secret ${node.name}`);
      });
    }
  }

  for (const [name, cluster] of clusters) {
    if (cluster.type !== 'EDS') continue;
    const serviceName = str(obj(cluster.eds_cluster_config).service_name) || name;
    if (!endpoints.has(serviceName))
      problems.push(`cluster ${name} has no ClusterLoadAssignment ${serviceName}`);
  }

  for (const [name, cla] of endpoints) problems.push(...checkAssignment(name, cla));
  return problems;
}

function checkAssignment(name: string, cla: Json): string[] {
  const problems: string[] = [];
  const where = `ClusterLoadAssignment ${name}`;
  const localities = new Set<string>();
  const addresses = new Set<string>();
  const priorities = new Set<number>();
  for (const loc of arr(cla.endpoints).map(obj)) {
    const priority = Number(loc.priority ?? 0);
    priorities.add(priority);
    const key = JSON.stringify([obj(loc.locality), priority]);
    if (localities.has(key))
      problems.push(
        `${where} repeats locality ${JSON.stringify(loc.locality ?? {})} at priority ${priority}`,
      );
    localities.add(key);
    if (!(Number(obj(loc.load_balancing_weight).value) > 0))
      problems.push(`${where} has a locality without a weight`);
    for (const lb of arr(loc.lb_endpoints).map(obj)) {
      const socket = obj(obj(obj(lb.endpoint).address).socket_address);
      const address = str(socket.address);
      if (isIP(address) === 0) problems.push(`${where} has a non-IP address ${address}`);
      const hostPort = `${address}:${String(socket.port_value ?? '')}`;
      if (addresses.has(hostPort)) problems.push(`${where} lists ${hostPort} twice`);
      addresses.add(hostPort);
    }
  }
  for (let p = 0; p < priorities.size; p++) {
    if (!priorities.has(p)) {
      problems.push(`${where} has priorities ${[...priorities].sort().join(', ')}, not contiguous from 0`);
      break;
    }
  }
  return problems;
}

/** Calls `visit` on every plain object in the tree. */
function walk(value: unknown, visit: (node: Json) => void): void {
  if (Array.isArray(value)) for (const v of value) walk(v, visit);
  else if (value !== null && typeof value === 'object') {
    visit(value as Json);
    for (const v of Object.values(value)) walk(v, visit);
  }
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
