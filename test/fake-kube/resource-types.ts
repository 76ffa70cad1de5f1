/**
 * The resource types the fake API server serves: what discovery lists and which URL paths exist.
 * Versions of one group share storage (as the real API server does), but no schema conversion
 * happens between them: an object read through another version only gets its apiVersion rewritten.
 */

export interface ResourceType {
  /** API group; '' for the core group (`/api/v1`). */
  group: string;
  version: string;
  /** Lower-case plural used in URLs, e.g. `endpointslices`. */
  plural: string;
  kind: string;
  namespaced: boolean;
  /** Built-in kinds omit apiVersion/kind on list items, as the real API server does; custom resources keep them. */
  builtin: boolean;
  /** Whether `<plural>/status` is served. */
  statusSubresource: boolean;
}

export function apiVersionOf(t: Pick<ResourceType, 'group' | 'version'>): string {
  return t.group === '' ? t.version : `${t.group}/${t.version}`;
}

/** Storage identity of a type: one per (group, plural), shared by its versions. */
export function storageOf(t: Pick<ResourceType, 'group' | 'plural'>): string {
  return `${t.plural}.${t.group}`;
}

/** Built-in kinds that have a `status` subresource. */
const WITH_STATUS = new Set(['services', 'ingresses', 'namespaces']);

function builtin(
  group: string,
  version: string,
  plural: string,
  kind: string,
  namespaced = true,
): ResourceType {
  return {
    group,
    version,
    plural,
    kind,
    namespaced,
    builtin: true,
    statusSubresource: WITH_STATUS.has(plural),
  };
}

function crd(group: string, version: string, plural: string, kind: string): ResourceType {
  return { group, version, plural, kind, namespaced: true, builtin: false, statusSubresource: true };
}

/** getambassador.io kinds and the versions Emissary 3.x serves them in (Listener is v3alpha1 only). */
const AMBASSADOR_KINDS: readonly [plural: string, kind: string, versions: readonly string[]][] = [
  ['mappings', 'Mapping', ['v2', 'v3alpha1']],
  ['hosts', 'Host', ['v2', 'v3alpha1']],
  ['listeners', 'Listener', ['v3alpha1']],
  ['tlscontexts', 'TLSContext', ['v2', 'v3alpha1']],
  ['modules', 'Module', ['v2', 'v3alpha1']],
  ['authservices', 'AuthService', ['v2', 'v3alpha1']],
  ['ratelimitservices', 'RateLimitService', ['v2', 'v3alpha1']],
  ['tcpmappings', 'TCPMapping', ['v2', 'v3alpha1']],
  ['kubernetesserviceresolvers', 'KubernetesServiceResolver', ['v2', 'v3alpha1']],
  ['kubernetesendpointresolvers', 'KubernetesEndpointResolver', ['v2', 'v3alpha1']],
  ['consulresolvers', 'ConsulResolver', ['v2', 'v3alpha1']],
  ['logservices', 'LogService', ['v2', 'v3alpha1']],
  ['tracingservices', 'TracingService', ['v2', 'v3alpha1']],
];

/** Everything the Attaché ingestor watches, in every version it may be served in. */
export const DEFAULT_RESOURCE_TYPES: readonly ResourceType[] = [
  builtin('', 'v1', 'services', 'Service'),
  builtin('', 'v1', 'endpoints', 'Endpoints'),
  builtin('', 'v1', 'secrets', 'Secret'),
  builtin('', 'v1', 'namespaces', 'Namespace', false),
  builtin('discovery.k8s.io', 'v1', 'endpointslices', 'EndpointSlice'),
  builtin('networking.k8s.io', 'v1', 'ingresses', 'Ingress'),
  builtin('networking.k8s.io', 'v1', 'ingressclasses', 'IngressClass', false),
  ...AMBASSADOR_KINDS.flatMap(([plural, kind, versions]) =>
    versions.map((v) => crd('getambassador.io', v, plural, kind)),
  ),
  crd('x.getambassador.io', 'v3alpha1', 'ambassadormappings', 'AmbassadorMapping'),
];
