/**
 * The configuration the benchmark drives through the real ingest path: a directory of
 * Kubernetes-style YAML watched by `attache ingest fs`. Three files, so each change touches
 * exactly one of them:
 *   services.yaml   — `services` Services, each with an EndpointSlice of three endpoints (CDS/EDS),
 *                     and the Mapping that routes to the endpoint-change target;
 *   eds-target.yaml — the Service whose EndpointSlice the endpoint change rewrites (EDS only);
 *   routes.yaml     — `routes` Mappings spread over the services (one RDS route each). The route
 *                     change rewrites all of them with a new tag in every prefix.
 * Every change carries a marker the simulated Envoys look for on the wire.
 */
import fs from 'node:fs';
import path from 'node:path';

export const EDS_TARGET_SERVICE = 'fleet-eds-target';
export const FLEET_HOST = 'fleet.example.com';

export interface FleetConfigShape {
  services: number;
  routes: number;
}

/** Address of the endpoint-change target in generation `gen`: unique per generation. */
export function edsTargetAddress(gen: number): string {
  return `10.${200 + Math.floor(gen / 65536)}.${Math.floor(gen / 256) % 256}.${gen % 256}`;
}

/** The tag carried by every route prefix of generation `gen`, delimited so no tag contains another. */
export function routeTag(gen: number): string {
  return `/fleet-g${gen}-`;
}

function serviceName(i: number): string {
  return `fleet-svc-${String(i).padStart(4, '0')}`;
}

function serviceYaml(name: string, addresses: readonly string[]): string {
  return `apiVersion: v1
kind: Service
metadata: { name: ${name}, namespace: default }
spec:
  ports:
    - { name: http, port: 8080, targetPort: http }
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: ${name}-x1
  namespace: default
  labels: { kubernetes.io/service-name: ${name} }
addressType: IPv4
ports:
  - { name: http, port: 8080, protocol: TCP }
endpoints:
${addresses.map((a) => `  - addresses: ["${a}"]\n    conditions: { ready: true }`).join('\n')}
`;
}

/** The services, plus the one Mapping that makes the endpoint-change target a cluster Envoys use. */
export function servicesYaml(n: number): string {
  const docs: string[] = [
    `apiVersion: getambassador.io/v3alpha1
kind: Mapping
metadata: { name: ${EDS_TARGET_SERVICE}, namespace: default }
spec:
  hostname: ${FLEET_HOST}
  prefix: /fleet-eds-target/
  service: ${EDS_TARGET_SERVICE}:8080
`,
  ];
  for (let i = 0; i < n; i++) {
    const addrs = [1, 2, 3].map((k) => `10.1.${Math.floor(i / 250)}.${(i % 250) + k}`);
    docs.push(serviceYaml(serviceName(i), addrs));
  }
  return docs.join('---\n');
}

export function edsTargetYaml(gen: number): string {
  return serviceYaml(EDS_TARGET_SERVICE, [edsTargetAddress(gen)]);
}

/**
 * `routes` Mappings; route `r` of generation `gen` matches `<tag>r<r>/api/v1/…`. The long prefix
 * stands for the path lists real edges carry, and makes each route a few hundred bytes on the wire.
 */
export function routesYaml(routes: number, services: number, gen: number): string {
  const docs: string[] = [];
  for (let r = 0; r < routes; r++) {
    const id = String(r).padStart(5, '0');
    docs.push(`apiVersion: getambassador.io/v3alpha1
kind: Mapping
metadata: { name: fleet-route-${id}, namespace: default }
spec:
  hostname: ${FLEET_HOST}
  prefix: ${routeTag(gen)}r${id}/api/v1/namespaces/tenant-${r % 97}/resources/items/
  rewrite: /api/v1/items/
  service: ${serviceName(r % Math.max(1, services))}:8080
  timeout_ms: ${1000 + (r % 50) * 100}
`);
  }
  return docs.join('---\n');
}

/** Writes via a temporary file and a rename, so the watcher never reads a half-written file. */
export function writeAtomic(file: string, body: string): void {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.tmp`);
  fs.writeFileSync(tmp, body);
  fs.renameSync(tmp, file);
}

/** Writes the initial configuration (generation 0 everywhere). */
export function writeInitialConfig(dir: string, shape: FleetConfigShape): void {
  writeAtomic(path.join(dir, 'services.yaml'), servicesYaml(shape.services));
  writeAtomic(path.join(dir, 'eds-target.yaml'), edsTargetYaml(0));
  writeAtomic(path.join(dir, 'routes.yaml'), routesYaml(shape.routes, shape.services, 0));
}
