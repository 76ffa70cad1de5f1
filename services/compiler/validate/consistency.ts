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

/**
 * What one resource contributes to the checks, taken from its decoded form once: the problems it
 * has on its own and the references the snapshot must satisfy, in the order the checks report
 * them. A function of the resource's bytes and name, so a caller may keep it by content hash
 * (validate-output.ts does) and neither decode nor hold an unchanged resource again.
 */
export interface ResourceFacts {
  /** Listener: structure problems and references, in order. */
  listener?: ListenerStep[];
  /** Route configuration: its routes. */
  routes?: RouteFact[];
  /**
   * Listener or cluster: gRPC service clusters and SDS secrets referenced anywhere inside, in tree
   * order (`cluster` / `secret`, then the name).
   */
  refs?: [kind: 'cluster' | 'secret', name: string][];
  /** EDS cluster: the ClusterLoadAssignment it needs. */
  eds?: string;
  /** ClusterLoadAssignment: its own problems. */
  problems?: string[];
}

type ListenerStep =
  | { problem: string }
  | { where: string; cluster: string }
  | { where: string; rds: string; client: boolean }
  | { where: string; inline: RouteFact[]; client: boolean };

/** One route: uses non_forwarding_action, forwards (to these clusters), or neither. */
type RouteFact =
  | { at: string; nonForwarding: true }
  | { at: string; clusters: [string, string][] }
  | { at: string; redirectOrDirect: boolean };

export function checkConsistency(snapshot: DecodedSnapshot): string[] {
  const facts = new Map<string, Map<string, ResourceFacts>>();
  for (const [typeUrl, resources] of snapshot) {
    const byName = new Map<string, ResourceFacts>();
    for (const [name, resource] of resources) byName.set(name, resourceFacts(typeUrl, name, resource));
    facts.set(typeUrl, byName);
  }
  return checkFacts(facts);
}

/** The facts of one decoded resource (see {@link ResourceFacts}). */
export function resourceFacts(typeUrl: string, name: string, resource: Json): ResourceFacts {
  if (typeUrl === LISTENER_TYPE) return { listener: listenerSteps(name, resource), refs: refsIn(resource) };
  if (typeUrl === ROUTE_TYPE) return { routes: routeFacts(`route configuration ${name}`, resource) };
  if (typeUrl === CLUSTER_TYPE) {
    const facts: ResourceFacts = { refs: refsIn(resource) };
    if (resource.type === 'EDS') facts.eds = str(obj(resource.eds_cluster_config).service_name) || name;
    return facts;
  }
  if (typeUrl === ENDPOINT_TYPE) return { problems: checkAssignment(name, resource) };
  return {};
}

function listenerSteps(name: string, listener: Json): ListenerStep[] {
  const steps: ListenerStep[] = [];
  const where = `listener ${name}`;
  const hcmSteps = (at: string, hcm: Json, client: boolean) => {
    if (hcm.route_config !== undefined) {
      steps.push({
        where: `${at} inline route configuration`,
        inline: routeFacts(`${at} inline route configuration`, obj(hcm.route_config)),
        client,
      });
    } else {
      steps.push({ where: at, rds: str(obj(hcm.rds).route_config_name), client });
    }
    const filters = arr(hcm.http_filters).map(obj);
    const last = filters[filters.length - 1];
    if (!last || str(obj(last.typed_config)['@type']) !== ROUTER) {
      steps.push({ problem: `${at}: the router must be the last HTTP filter` });
    }
  };
  if (listener.api_listener !== undefined) {
    const api = obj(obj(listener.api_listener).api_listener);
    if (str(api['@type']) !== HCM)
      steps.push({ problem: `${where}: an API listener needs an HTTP connection manager` });
    else hcmSteps(where, api, true);
    return steps;
  }
  const chains = arr(listener.filter_chains).map(obj);
  if (listener.default_filter_chain !== undefined) chains.push(obj(listener.default_filter_chain));
  if (chains.length === 0) steps.push({ problem: `${where} has no filter chain` });
  chains.forEach((chain, i) => {
    const filters = arr(chain.filters).map(obj);
    const terminal = obj(filters[filters.length - 1]?.typed_config);
    const type = str(terminal['@type']);
    if (type === HCM) hcmSteps(`${where} filter chain ${i}`, terminal, false);
    else if (type === TCP_PROXY) {
      const weighted = arr(obj(terminal.weighted_clusters).clusters).map((c) => str(obj(c).name));
      for (const c of terminal.cluster !== undefined ? [str(terminal.cluster)] : weighted)
        steps.push({ where: `${where} filter chain ${i} TCP proxy`, cluster: c });
    } else {
      steps.push({
        problem: `${where} filter chain ${i} does not end with an HTTP connection manager or a TCP proxy`,
      });
    }
  });
  return steps;
}

/**
 * The facts of a route configuration's routes. `rc` is its decoded plain form or the protobufjs
 * message it was decoded into (validate-output.ts passes the message and skips building the plain
 * form of megabytes of routes): every field is read through {@link field}, which sees the same
 * fields in both (the plain form holds exactly the message's own fields that are set).
 */
function routeFacts(where: string, rc: Json): RouteFact[] {
  const out: RouteFact[] = [];
  for (const vh of arr(field(rc, 'virtual_hosts')).map(obj)) {
    for (const route of arr(field(vh, 'routes')).map(obj)) {
      const at = `${where} virtual host ${str(field(vh, 'name'))} route ${str(field(route, 'name')) || str(field(obj(field(route, 'match')), 'prefix'))}`;
      if (field(route, 'non_forwarding_action') !== undefined) out.push({ at, nonForwarding: true });
      else if (field(route, 'route') !== undefined) {
        const action = obj(field(route, 'route'));
        const clusters: [string, string][] = [];
        const cluster = field(action, 'cluster');
        if (cluster !== undefined) clusters.push([at, str(cluster)]);
        for (const c of arr(field(obj(field(action, 'weighted_clusters')), 'clusters')))
          clusters.push([at, str(field(obj(c), 'name'))]);
        for (const m of arr(field(action, 'request_mirror_policies')))
          clusters.push([`${at} mirror`, str(field(obj(m), 'cluster'))]);
        out.push({ at, clusters });
      } else {
        out.push({
          at,
          redirectOrDirect:
            field(route, 'redirect') !== undefined || field(route, 'direct_response') !== undefined,
        });
      }
    }
  }
  return out;
}

/**
 * A field that is set: an own property that is not null. In a plain object decoded with
 * `defaults: false` that is any property present; in a protobufjs message unset fields are
 * defaults on its prototype (null, '' or an empty list), never own properties.
 */
function field(o: Json, key: string): unknown {
  return Object.hasOwn(o, key) && o[key] !== null ? o[key] : undefined;
}

function refsIn(resource: Json): [kind: 'cluster' | 'secret', name: string][] {
  const refs: [kind: 'cluster' | 'secret', name: string][] = [];
  walk(resource, (node) => {
    if (node.envoy_grpc !== undefined) refs.push(['cluster', str(obj(node.envoy_grpc).cluster_name)]);
    if (node.sds_config !== undefined && typeof node.name === 'string') refs.push(['secret', node.name]);
  });
  return refs;
}

/** The cross-resource checks over every resource's facts, by type URL and then name. */
export function checkFacts(snapshot: ReadonlyMap<string, ReadonlyMap<string, ResourceFacts>>): string[] {
  const problems: string[] = [];
  const of = (typeUrl: string) => snapshot.get(typeUrl) ?? new Map<string, ResourceFacts>();
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
  const inlineRouteConfigs: [RouteFact[], boolean][] = [];

  for (const [, facts] of listeners) {
    for (const step of facts.listener ?? []) {
      if ('problem' in step) problems.push(step.problem);
      else if ('cluster' in step) clusterRef(step.where, step.cluster);
      else if ('inline' in step) inlineRouteConfigs.push([step.inline, step.client]);
      else if (!step.rds || !routeConfigs.has(step.rds)) {
        problems.push(`${step.where} references missing route configuration ${step.rds}`);
      } else if (step.client) clientRouteConfigs.add(step.rds);
    }
  }

  const checkRoutes = (routes: readonly RouteFact[], client: boolean) => {
    for (const route of routes) {
      if ('nonForwarding' in route) {
        problems.push(`${route.at} uses non_forwarding_action (server listeners only)`);
      } else if ('clusters' in route) {
        for (const [at, name] of route.clusters) clusterRef(at, name);
      } else if (client) {
        problems.push(`${route.at} does not forward to a cluster, which gRPC clients reject`);
      } else if (!route.redirectOrDirect) {
        problems.push(`${route.at} has no action`);
      }
    }
  };
  for (const [name, facts] of routeConfigs)
    checkRoutes(facts.routes ?? [], clientRouteConfigs.has(name) || name.startsWith(API_ROUTE_CONFIG_PREFIX));
  for (const [routes, client] of inlineRouteConfigs) checkRoutes(routes, client);

  for (const [typeUrl, resources] of [
    [LISTENER_TYPE, listeners],
    [CLUSTER_TYPE, clusters],
  ] as const) {
    for (const [name, facts] of resources) {
      const where = `${typeUrl === LISTENER_TYPE ? 'listener' : 'cluster'} ${name}`;
      for (const [kind, ref] of facts.refs ?? []) {
        if (kind === 'cluster') clusterRef(`${where} gRPC service`, ref);
        else if (!secrets.has(ref)) problems.push(`${where} references missing secret ${ref}`);
      }
    }
  }

  for (const [name, facts] of clusters) {
    if (facts.eds !== undefined && !endpoints.has(facts.eds))
      problems.push(`cluster ${name} has no ClusterLoadAssignment ${facts.eds}`);
  }

  for (const [, facts] of endpoints) problems.push(...(facts.problems ?? []));
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
