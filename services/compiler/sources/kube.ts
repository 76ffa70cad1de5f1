/**
 * Parses the core Kubernetes objects the compiler needs for endpoint resolution: Service ports,
 * EndpointSlices (discovery.k8s.io/v1) and Endpoints (v1). Malformed entries are dropped with a
 * warning; the rest of the object is still used. Only ready IP-literal addresses are kept.
 */
import { isIP } from 'node:net';
import type { Diagnostic } from '../contracts.ts';
import { isPlainObject, isSafeInteger, own } from './fields.ts';
import type {
  EndpointPort,
  EndpointSubset,
  KubeEndpoints,
  KubeService,
  ServicePort,
  SourceRef,
} from './types.ts';

/** Label that ties an EndpointSlice to its Service. */
export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

type Warn = (field: string, message: string) => void;

function warner(source: SourceRef, diagnostics: Diagnostic[]): Warn {
  return (field, message) => diagnostics.push({ severity: 'warning', source, field, message });
}

export function parseService(
  obj: Record<string, unknown>,
  source: SourceRef,
  diagnostics: Diagnostic[],
): KubeService {
  const warn = warner(source, diagnostics);
  const ports: ServicePort[] = [];
  const list = own(own(obj, 'spec'), 'ports');
  if (Array.isArray(list)) {
    list.forEach((p, i) => {
      const port = parsePort(p);
      if (port) ports.push(port);
      else warn(`spec.ports[${i}]`, 'port entry needs an integer port from 1 to 65535; entry ignored');
    });
  } else if (list !== undefined && list !== null) {
    warn('spec.ports', 'spec.ports must be a list; Service has no usable ports');
  }
  return { cluster: source.cluster, namespace: source.namespace, name: source.name, ports };
}

export function parseEndpointSlice(
  obj: Record<string, unknown>,
  source: SourceRef,
  diagnostics: Diagnostic[],
): KubeEndpoints | undefined {
  const warn = warner(source, diagnostics);
  const service = own(own(own(obj, 'metadata'), 'labels'), SERVICE_NAME_LABEL);
  // Slices not owned by a Service (custom controllers) are not ours to interpret.
  if (typeof service !== 'string' || service === '') return undefined;
  const addressType = own(obj, 'addressType');
  if (addressType !== undefined && addressType !== 'IPv4' && addressType !== 'IPv6') return undefined;

  const ports = parsePortList(own(obj, 'ports'), 'ports', warn);
  const addresses: EndpointSubset['addresses'] = [];
  const endpoints = own(obj, 'endpoints');
  if (Array.isArray(endpoints)) {
    endpoints.forEach((ep, i) => {
      // A nil `ready` means "unknown", which Kubernetes asks consumers to treat as ready.
      if (own(own(ep, 'conditions'), 'ready') === false) return;
      const list = own(ep, 'addresses');
      // All addresses of one endpoint are fungible; consumers may use the first only.
      const ip = Array.isArray(list) ? list[0] : undefined;
      if (typeof ip !== 'string' || isIP(ip) === 0) {
        warn(`endpoints[${i}].addresses`, 'endpoint has no IP address; ignored');
        return;
      }
      addresses.push({ ip, zone: endpointZone(ep) });
    });
  } else if (endpoints !== undefined && endpoints !== null) {
    warn('endpoints', 'endpoints must be a list');
  }
  return {
    cluster: source.cluster,
    namespace: source.namespace,
    service,
    via: 'EndpointSlice',
    objectName: source.name,
    subsets: [{ ports, addresses }],
  };
}

export function parseEndpoints(
  obj: Record<string, unknown>,
  source: SourceRef,
  diagnostics: Diagnostic[],
): KubeEndpoints {
  const warn = warner(source, diagnostics);
  const subsets: EndpointSubset[] = [];
  const list = own(obj, 'subsets');
  if (Array.isArray(list)) {
    list.forEach((s, i) => {
      const ports = parsePortList(own(s, 'ports'), `subsets[${i}].ports`, warn);
      const addresses: EndpointSubset['addresses'] = [];
      const raw = own(s, 'addresses');
      if (Array.isArray(raw)) {
        raw.forEach((a, j) => {
          const ip = own(a, 'ip');
          if (typeof ip === 'string' && isIP(ip) !== 0) addresses.push({ ip, zone: '' });
          else warn(`subsets[${i}].addresses[${j}]`, 'address has no valid ip; ignored');
        });
      }
      subsets.push({ ports, addresses });
    });
  } else if (list !== undefined && list !== null) {
    warn('subsets', 'subsets must be a list');
  }
  return {
    cluster: source.cluster,
    namespace: source.namespace,
    service: source.name,
    via: 'Endpoints',
    objectName: source.name,
    subsets,
  };
}

/**
 * The zone of an EndpointSlice endpoint: `zone`, else the first zone of its topology-aware routing
 * hints (`hints.forZones[0].name`), else empty (unknown).
 */
function endpointZone(ep: unknown): string {
  const zone = own(ep, 'zone');
  if (typeof zone === 'string' && zone !== '') return zone;
  const forZones = own(own(ep, 'hints'), 'forZones');
  const hinted = Array.isArray(forZones) ? own(forZones[0], 'name') : undefined;
  return typeof hinted === 'string' ? hinted : '';
}

function parsePortList(list: unknown, field: string, warn: Warn): EndpointPort[] {
  const out: EndpointPort[] = [];
  if (list === undefined || list === null) return out;
  if (!Array.isArray(list)) {
    warn(field, `${field} must be a list`);
    return out;
  }
  list.forEach((p, i) => {
    const port = parsePort(p);
    if (port) out.push(port);
    else warn(`${field}[${i}]`, 'port entry needs an integer port from 1 to 65535; entry ignored');
  });
  return out;
}

function parsePort(p: unknown): ServicePort | undefined {
  if (!isPlainObject(p)) return undefined;
  const port = own(p, 'port');
  if (!isSafeInteger(port) || port < 1 || port > 65535) return undefined;
  const name = own(p, 'name');
  const protocol = own(p, 'protocol');
  return {
    name: typeof name === 'string' ? name : '',
    port,
    protocol: typeof protocol === 'string' ? protocol : 'TCP',
  };
}
