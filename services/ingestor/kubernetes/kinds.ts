/**
 * The Kubernetes kinds the ingestor watches, where the API serves them and under which kind their
 * events are published. getambassador.io kinds are watched in v3alpha1, or v2 when a cluster
 * does not serve v3alpha1 (both are stored alike by the API server). Every watched kind is
 * published under its own API kind, so objects of different API groups never share a log key: a
 * getambassador.io `Mapping` and an x.getambassador.io `AmbassadorMapping` with the same
 * namespace/name are two objects (the compiler reads both as Mappings).
 */

export interface WatchedKind {
  /** Kind in the event envelope (the world-state key the compiler folds on). */
  kind: string;
  /** Kind the API server reports for the objects. */
  apiKind: string;
  /** API group; '' for core. */
  group: string;
  /** Versions to try, most preferred first. */
  versions: readonly string[];
  /** URL plural. */
  plural: string;
  namespaced: boolean;
}

/** Stable identity of a watched kind, for logs and metric labels: `<plural>.<group>`. */
export function kindId(k: Pick<WatchedKind, 'plural' | 'group'>): string {
  return k.group === '' ? k.plural : `${k.plural}.${k.group}`;
}

export function apiVersionOf(group: string, version: string): string {
  return group === '' ? version : `${group}/${version}`;
}

/** The group of an apiVersion (`getambassador.io/v2` → `getambassador.io`, `v1` → ''). */
export function groupOf(apiVersion: unknown): string {
  if (typeof apiVersion !== 'string') return '';
  const slash = apiVersion.indexOf('/');
  return slash < 0 ? '' : apiVersion.slice(0, slash);
}

const AMBASSADOR_VERSIONS = ['v3alpha1', 'v2'] as const;

function ambassador(kind: string, plural: string): WatchedKind {
  return {
    kind,
    apiKind: kind,
    group: 'getambassador.io',
    versions: AMBASSADOR_VERSIONS,
    plural,
    namespaced: true,
  };
}

export const AMBASSADOR_KINDS: readonly WatchedKind[] = [
  ambassador('Mapping', 'mappings'),
  ambassador('Host', 'hosts'),
  ambassador('Listener', 'listeners'),
  ambassador('TLSContext', 'tlscontexts'),
  ambassador('Module', 'modules'),
  ambassador('AuthService', 'authservices'),
  ambassador('RateLimitService', 'ratelimitservices'),
  ambassador('TCPMapping', 'tcpmappings'),
  ambassador('KubernetesServiceResolver', 'kubernetesserviceresolvers'),
  ambassador('KubernetesEndpointResolver', 'kubernetesendpointresolvers'),
  ambassador('ConsulResolver', 'consulresolvers'),
  ambassador('LogService', 'logservices'),
  ambassador('TracingService', 'tracingservices'),
];

export const AMBASSADOR_MAPPING: WatchedKind = {
  kind: 'AmbassadorMapping',
  apiKind: 'AmbassadorMapping',
  group: 'x.getambassador.io',
  versions: ['v3alpha1'],
  plural: 'ambassadormappings',
  namespaced: true,
};

export const SERVICE: WatchedKind = {
  kind: 'Service',
  apiKind: 'Service',
  group: '',
  versions: ['v1'],
  plural: 'services',
  namespaced: true,
};
export const ENDPOINT_SLICE: WatchedKind = {
  kind: 'EndpointSlice',
  apiKind: 'EndpointSlice',
  group: 'discovery.k8s.io',
  versions: ['v1'],
  plural: 'endpointslices',
  namespaced: true,
};
export const ENDPOINTS: WatchedKind = {
  kind: 'Endpoints',
  apiKind: 'Endpoints',
  group: '',
  versions: ['v1'],
  plural: 'endpoints',
  namespaced: true,
};
export const SECRET: WatchedKind = {
  kind: 'Secret',
  apiKind: 'Secret',
  group: '',
  versions: ['v1'],
  plural: 'secrets',
  namespaced: true,
};
export const INGRESS: WatchedKind = {
  kind: 'Ingress',
  apiKind: 'Ingress',
  group: 'networking.k8s.io',
  versions: ['v1'],
  plural: 'ingresses',
  namespaced: true,
};
export const INGRESS_CLASS: WatchedKind = {
  kind: 'IngressClass',
  apiKind: 'IngressClass',
  group: 'networking.k8s.io',
  versions: ['v1'],
  plural: 'ingressclasses',
  namespaced: false,
};

/**
 * Kinds whose publication depends on no other kind; they start first so that the kinds that
 * depend on them (Secret on Host/TLSContext references, Endpoints on EndpointSlices) see their
 * state on their first list.
 */
export const PRIMARY_KINDS: readonly WatchedKind[] = [
  ...AMBASSADOR_KINDS,
  AMBASSADOR_MAPPING,
  SERVICE,
  ENDPOINT_SLICE,
  INGRESS,
  INGRESS_CLASS,
];

/** Kinds filtered by the state of primary kinds. */
export const DEPENDENT_KINDS: readonly WatchedKind[] = [SECRET, ENDPOINTS];
