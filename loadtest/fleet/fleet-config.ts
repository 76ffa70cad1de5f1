/**
 * The configuration the benchmark drives through the real ingest path: a directory of
 * Kubernetes-style YAML watched by `attache ingest fs`. Three files, so each change touches
 * exactly one of them:
 *   services.yaml   — `services` Services, each with an EndpointSlice of three endpoints (CDS/EDS),
 *                     and the Mapping that routes to the endpoint-change target;
 *   eds-target.yaml — the Service whose EndpointSlice the endpoint change rewrites (EDS only);
 *   routes.yaml     — `routes` Mappings spread over the services (one RDS route each). The route
 *                     change rewrites all of them with a new tag in every prefix;
 *   echo.yaml       — with proxyless gRPC clients only: the Service in front of the two local echo
 *                     backends, one EndpointSlice per backend. Its Mapping (hostname
 *                     {@link ECHO_HOST}) lives in routes.yaml, so the route change also reaches the
 *                     gRPC clients, as a harmless timeout tweak.
 * Every change carries a marker the simulated Envoys look for on the wire.
 */
import path from 'node:path';
import { encodeMessage } from '../../shared/xds/encoding.ts';
import { ENDPOINT_TYPE } from '../../shared/xds/type-urls.ts';
import { endpointSliceYaml, serviceYaml as kubeServiceYaml } from '../../test/harness/kube-yaml.ts';
import { writeAtomic } from '../../test/harness/write-atomic.ts';
import type { Probe } from './version-book.ts';

export { writeAtomic };

export const EDS_TARGET_SERVICE = 'fleet-eds-target';
export const FLEET_HOST = 'fleet.example.com';

export const ECHO_SERVICE = 'fleet-echo';
/** The authority the proxyless gRPC clients dial: `xds:///echo.fleet.test`. */
export const ECHO_HOST = 'echo.fleet.test';

/** Ports of the two echo backends on 127.0.0.1; `b` joins the Service only during the storm. */
export interface EchoPorts {
  a: number;
  b: number;
}

export interface FleetConfigShape {
  services: number;
  routes: number;
  /** Hosts the routes are spread over (each its own virtual host). */
  hosts: number;
  /** Present when proxyless gRPC clients take part. */
  echo?: EchoPorts;
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

/** A Service on port 8080 (`http`) with one EndpointSlice of ready endpoints at `addresses`. */
function serviceYaml(name: string, addresses: readonly string[]): string {
  const port = { name: 'http', port: 8080 };
  return `${kubeServiceYaml(name, port)}---\n${endpointSliceYaml({ service: name, name: `${name}-x1`, port, addresses })}`;
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

/** Hostname of route Host `h`: {@link FLEET_HOST} for the first, `fleet-<h>.example.com` for others. */
export function fleetHost(h: number): string {
  return h === 0 ? FLEET_HOST : `fleet-${h}.example.com`;
}

/**
 * The tag in the prefixes of Host `h`'s routes: {@link routeTag} of `gen` for the first Host (the
 * only one a route change rewrites), a fixed tag of its own for every other Host.
 */
function hostTag(h: number, gen: number): string {
  return h === 0 ? routeTag(gen) : `/fleet-h${h}-`;
}

/**
 * `routes` Mappings spread round-robin over `hosts` Hosts; route `r` of generation `gen` matches
 * `<tag>r<r>/api/v1/…`, where only the first Host's tag carries `gen`: a route change rewrites
 * that Host's routes only (all of them when `hosts` is 1). The long prefix stands for the path
 * lists real edges carry, and makes each route a few hundred bytes on the wire.
 */
export function routesYaml(routes: number, services: number, gen: number, echo = false, hosts = 1): string {
  const docs: string[] = echo ? [echoMappingYaml(gen)] : [];
  if (hosts > 1) {
    // Several Hosts, each its own virtual host (with one, every route sits in the `*` one).
    const names = Array.from({ length: hosts }, (_, h) => fleetHost(h));
    for (const hostname of echo ? [...names, ECHO_HOST] : names) docs.push(hostYaml(hostname));
  }
  for (let r = 0; r < routes; r++) {
    const id = String(r).padStart(5, '0');
    const h = r % Math.max(1, hosts);
    docs.push(`apiVersion: getambassador.io/v3alpha1
kind: Mapping
metadata: { name: fleet-route-${id}, namespace: default }
spec:
  hostname: ${fleetHost(h)}
  prefix: ${hostTag(h, gen)}r${id}/api/v1/namespaces/tenant-${r % 97}/resources/items/
  rewrite: /api/v1/items/
  service: ${serviceName(r % Math.max(1, services))}:8080
  timeout_ms: ${1000 + (r % 50) * 100}
`);
  }
  return docs.join('---\n');
}

/** A cleartext Host that routes its insecure requests. */
function hostYaml(hostname: string): string {
  return `apiVersion: getambassador.io/v3alpha1
kind: Host
metadata: { name: ${hostname.replaceAll('.', '-')}, namespace: default }
spec:
  hostname: ${hostname}
  requestPolicy: { insecure: { action: Route } }
`;
}

/**
 * The gRPC clients' route: everything on {@link ECHO_HOST} to the echo Service. Each route
 * generation changes only its timeout (5 s, 6 s, …), far above the clients' deadlines.
 */
function echoMappingYaml(gen: number): string {
  return `apiVersion: getambassador.io/v3alpha1
kind: Mapping
metadata: { name: ${ECHO_SERVICE}, namespace: default }
spec:
  hostname: ${ECHO_HOST}
  prefix: /
  service: ${ECHO_SERVICE}:50051
  timeout_ms: ${5000 + 1000 * gen}
`;
}

/**
 * The echo Service with backend `a` only, or (`withB`) with both backends — the storm's outage
 * adds `b`, so a client answered by `b` has provably been configured by the replacement fan-out.
 */
export function echoYaml(ports: EchoPorts, withB: boolean): string {
  const slice = (suffix: string, port: number) =>
    `---\n${endpointSliceYaml({
      service: ECHO_SERVICE,
      name: `${ECHO_SERVICE}-${suffix}`,
      port: { name: 'grpc', port },
      addresses: ['127.0.0.1'],
    })}`;
  return `${kubeServiceYaml(ECHO_SERVICE, { name: 'grpc', port: 50051 })}${slice('a', ports.a)}${withB ? slice('b', ports.b) : ''}`;
}

/** Matches an EDS commit or response that carries 127.0.0.1:`port` (the encoded SocketAddress). */
export function echoEndpointProbe(id: string, port: number): Probe {
  const bytes = encodeMessage('envoy.config.core.v3.SocketAddress', {
    address: '127.0.0.1',
    port_value: port,
  });
  return { id, typeUrl: ENDPOINT_TYPE, present: Buffer.from(bytes).toString('base64') };
}

/** Writes the initial configuration (generation 0 everywhere). */
export function writeInitialConfig(dir: string, shape: FleetConfigShape): void {
  writeAtomic(path.join(dir, 'services.yaml'), servicesYaml(shape.services));
  writeAtomic(path.join(dir, 'eds-target.yaml'), edsTargetYaml(0));
  if (shape.echo) writeAtomic(path.join(dir, 'echo.yaml'), echoYaml(shape.echo, false));
  writeAtomic(
    path.join(dir, 'routes.yaml'),
    routesYaml(shape.routes, shape.services, 0, !!shape.echo, shape.hosts),
  );
}
