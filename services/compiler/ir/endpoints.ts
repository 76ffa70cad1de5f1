/**
 * Endpoint resolution: from a cluster's upstream target to the ready backend addresses of every
 * source cluster that has them. A Mapping port resolves through the Service (service port → port
 * name → endpoint port). The default ports 80 and 443 fall back to a Service's only port, so a
 * Mapping that names no port still reaches a single-port Service. EndpointSlices are preferred;
 * a source cluster's Endpoints objects are used only when it has no slices for that Service.
 *
 * Each locality is one (source cluster, zone): Envoy's `region` carries the source cluster and
 * `zone` the Kubernetes zone. Every locality comes out at priority 0; ir/endpoint-policy.ts then
 * assigns local/remote priorities and removes addresses that appear in more than one cluster.
 */
import type { ServiceTarget } from '../sources/service-ref.ts';
import type {
  EndpointPort,
  EndpointSubset,
  KubeEndpoints,
  KubeService,
  ServicePort,
} from '../sources/types.ts';
import type { EndpointSet, LocalityEndpoints } from './types.ts';

/** Lookup tables over every Service and endpoint object, across source clusters. */
export interface KubeIndex {
  /** Services by `<cluster>/<namespace>/<name>`. */
  services: Map<string, KubeService>;
  /** Services by `<namespace>/<name>`, one per source cluster that has it. */
  servicesById: Map<string, KubeService[]>;
  /** Endpoint objects by `<namespace>/<service>`, then by source cluster. */
  endpoints: Map<string, Map<string, KubeEndpoints[]>>;
}

export function indexKube(services: readonly KubeService[], endpoints: readonly KubeEndpoints[]): KubeIndex {
  const index: KubeIndex = { services: new Map(), servicesById: new Map(), endpoints: new Map() };
  for (const s of services) index.services.set(`${s.cluster}/${s.namespace}/${s.name}`, s);
  for (const s of index.services.values()) {
    const id = `${s.namespace}/${s.name}`;
    index.servicesById.set(id, [...(index.servicesById.get(id) ?? []), s]);
  }
  for (const e of endpoints) {
    const key = `${e.namespace}/${e.service}`;
    let byCluster = index.endpoints.get(key);
    if (!byCluster) {
      byCluster = new Map();
      index.endpoints.set(key, byCluster);
    }
    byCluster.set(e.cluster, [...(byCluster.get(e.cluster) ?? []), e]);
  }
  return index;
}

/** The EDS resource name for a target. */
export function edsServiceName(target: ServiceTarget): string {
  if (target.kind === 'ip') {
    const host = target.address.includes(':') ? `[${target.address}]` : target.address;
    return `static/${host}:${target.port}`;
  }
  return `k8s/${target.namespace}/${target.name}/${target.port}`;
}

/** An endpoint set plus what an operator should know about how it was resolved. */
export interface ResolvedEndpoints {
  set: EndpointSet;
  /** Likely mistakes (Service missing everywhere, port not declared); the set is still published. */
  warnings: string[];
}

/** Resolves the endpoint set for `target`; an unknown or empty service yields no localities. */
export function resolveEndpoints(target: ServiceTarget, index: KubeIndex): ResolvedEndpoints {
  const serviceName = edsServiceName(target);
  if (target.kind === 'ip') {
    const localities = [
      { region: '', zone: '', priority: 0, addresses: [{ ip: target.address, port: target.port }] },
    ];
    return { set: { serviceName, localities }, warnings: [] };
  }
  const id = `${target.namespace}/${target.name}`;
  const warnings: string[] = [];
  const services = index.servicesById.get(id) ?? [];
  for (const s of [...services].sort((a, b) => cmp(a.cluster, b.cluster))) {
    if (!pickServicePort(s.ports, target.port)) {
      warnings.push(`Service ${id} in source cluster ${s.cluster} has no TCP port ${target.port}`);
    }
  }
  const byCluster = index.endpoints.get(id) ?? new Map<string, KubeEndpoints[]>();
  if (services.length === 0 && byCluster.size === 0) {
    warnings.push(`Service ${id} was not found in any source cluster; it has no endpoints`);
  }
  const byLocality = new Map<string, LocalityEndpoints>();
  for (const [cluster, objects] of byCluster) {
    const slices = objects.filter((o) => o.via === 'EndpointSlice');
    const chosen = slices.length > 0 ? slices : objects;
    const service = index.services.get(`${cluster}/${id}`);
    const servicePort = service ? pickServicePort(service.ports, target.port) : undefined;
    if (service && !servicePort) continue;
    for (const subset of chosen.flatMap((o) => o.subsets)) {
      const port = pickEndpointPort(subset, servicePort, target.port);
      if (!port) continue;
      // A subset's addresses mostly share a zone: the locality is looked up again only when it changes.
      let loc: LocalityEndpoints | undefined;
      for (const a of subset.addresses) {
        if (loc === undefined || loc.zone !== a.zone) {
          const key = `${cluster}\0${a.zone}`;
          loc = byLocality.get(key);
          if (!loc) {
            loc = { region: cluster, zone: a.zone, priority: 0, addresses: [] };
            byLocality.set(key, loc);
          }
        }
        loc.addresses.push({ ip: a.ip, port: port.port });
      }
    }
  }
  return { set: { serviceName, localities: finishLocalities([...byLocality.values()]) }, warnings };
}

function isTcp(p: { protocol: string }): boolean {
  return p.protocol === 'TCP';
}

function pickServicePort(ports: readonly ServicePort[], wanted: number): ServicePort | undefined {
  const tcp = ports.filter(isTcp);
  const exact = tcp.find((p) => p.port === wanted);
  if (exact) return exact;
  return (wanted === 80 || wanted === 443) && tcp.length === 1 ? tcp[0] : undefined;
}

/**
 * The endpoint port serving `servicePort` (matched by name, as Kubernetes does). Without a Service
 * object, a subset's only port is used, else the port numbered like the Mapping's.
 */
function pickEndpointPort(
  subset: EndpointSubset,
  servicePort: ServicePort | undefined,
  wanted: number,
): EndpointPort | undefined {
  const tcp = subset.ports.filter(isTcp);
  if (servicePort)
    return tcp.find((p) => p.name === servicePort.name) ?? (tcp.length === 1 ? tcp[0] : undefined);
  return tcp.length === 1 ? tcp[0] : tcp.find((p) => p.port === wanted);
}

/**
 * Sorts localities and addresses, drops empty localities and addresses repeated within one source
 * cluster (first zone wins). Repeats across clusters are left for the endpoint policy, which knows
 * which copy is local.
 */
function finishLocalities(localities: LocalityEndpoints[]): LocalityEndpoints[] {
  localities.sort((a, b) => cmp(a.region, b.region) || cmp(a.zone, b.zone));
  // An address is kept once per region (source cluster). Sorted, a locality's repeats are
  // adjacent; across zones of one region (adjacent after the sort) they are found by key, which
  // is spelled only when a region has more than one zone.
  const seen = new Set<string>();
  const out: LocalityEndpoints[] = [];
  for (let i = 0; i < localities.length; i++) {
    const loc = localities[i] as LocalityEndpoints;
    const sharesRegion = localities[i - 1]?.region === loc.region || localities[i + 1]?.region === loc.region;
    const addresses = [...loc.addresses].sort((a, b) => cmp(a.ip, b.ip) || a.port - b.port);
    const kept: typeof addresses = [];
    let last: (typeof addresses)[number] | undefined;
    for (const a of addresses) {
      if (last !== undefined && last.ip === a.ip && last.port === a.port) continue;
      last = a;
      if (sharesRegion) {
        const key = `${loc.region}|${a.ip}|${a.port}`;
        if (seen.has(key)) continue;
        seen.add(key);
      }
      kept.push(a);
    }
    if (kept.length > 0) out.push({ ...loc, addresses: kept });
  }
  return out;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
