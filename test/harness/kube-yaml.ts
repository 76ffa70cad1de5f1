/**
 * Kubernetes Service and EndpointSlice manifests as YAML text, for tests and benchmarks that drive
 * the ingestor through a watched directory. Everything lives in namespace `default`; a slice names
 * its Service through the `kubernetes.io/service-name` label, and the Service's `targetPort` is
 * the port's name, so the compiler resolves the backend port from the slices.
 * Each function returns one YAML document ending in a newline; join documents with `---\n`.
 */

/** A named TCP port. */
export interface NamedPort {
  name: string;
  port: number;
}

/** A Service with one port whose `targetPort` is the port's name. */
export function serviceYaml(name: string, port: NamedPort): string {
  return `apiVersion: v1
kind: Service
metadata: { name: ${name}, namespace: default }
spec:
  ports:
    - { name: ${port.name}, port: ${port.port}, targetPort: ${port.name} }
`;
}

export interface EndpointSliceInit {
  /** The Service the slice belongs to. */
  service: string;
  /** The slice's own name. */
  name: string;
  /** The port every endpoint serves on. */
  port: NamedPort;
  /** IPv4 addresses, one ready endpoint each. */
  addresses: readonly string[];
  /** Topology zone given to every endpoint (omitted when absent). */
  zone?: string;
}

/** An IPv4 EndpointSlice with one ready endpoint per address. */
export function endpointSliceYaml(s: EndpointSliceInit): string {
  const zone = s.zone === undefined ? '' : `    zone: ${s.zone}\n`;
  const endpoints = s.addresses.map(
    (a) => `  - addresses: ["${a}"]\n    conditions: { ready: true }\n${zone}`,
  );
  return `apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: ${s.name}
  namespace: default
  labels: { kubernetes.io/service-name: ${s.service} }
addressType: IPv4
ports:
  - { name: ${s.port.name}, port: ${s.port.port}, protocol: TCP }
endpoints:
${endpoints.join('')}`;
}
