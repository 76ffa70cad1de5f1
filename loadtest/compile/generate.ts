/**
 * The benchmark's input, as Kubernetes-style YAML that both `attache translate` and Emissary's
 * compiler read: the Helm chart's default Listeners (8080 HTTP, 8443 HTTPS), a few Hosts, S
 * Services each with one EndpointSlice (M endpoints spread evenly), and N Mappings over them (one
 * file of N documents, as a large installation keeps them). Every 10th Mapping splits traffic
 * with a weighted canary of the one before it, every 7th has a timeout and a rewrite.
 */
import fs from 'node:fs';
import path from 'node:path';

export interface BenchShape {
  mappings: number;
  services: number;
  endpoints: number;
  hosts: number;
}

export const NAMESPACE = 'bench';

export function hostname(h: number): string {
  return `host-${h}.example.com`;
}

/** IPv4 of endpoint `e` of service `s`, round `r` (the endpoint-change phase bumps r). */
export function endpointIp(s: number, e: number, r = 0): string {
  return `10.${(s >> 8) & 255}.${s & 255}.${(e + r * 7) % 250}`;
}

export function mappingYaml(i: number, shape: BenchShape, variant = 0): string {
  const svc = i % shape.services;
  const lines = [
    'apiVersion: getambassador.io/v3alpha1',
    'kind: Mapping',
    `metadata: { name: m-${i}, namespace: ${NAMESPACE} }`,
    'spec:',
    `  hostname: ${hostname(i % shape.hosts)}`,
    `  prefix: /svc-${Math.floor(i / 10)}/${i % 10 === 0 ? '' : `r${i % 10}/`}`,
    `  service: svc-${svc}.${NAMESPACE}:8080`,
  ];
  if (i % 10 === 1) lines[5] = `  prefix: /svc-${Math.floor(i / 10)}/`;
  if (i % 10 === 1) lines.push('  weight: 20');
  if (i % 7 === 0) lines.push(`  timeout_ms: ${3000 + variant}`, '  rewrite: /');
  else if (variant > 0) lines.push(`  timeout_ms: ${1000 + variant}`);
  return lines.join('\n');
}

export function endpointSliceYaml(s: number, count: number, round = 0): string {
  const addresses = Array.from(
    { length: count },
    (_, e) => `  - addresses: ["${endpointIp(s, e, round)}"]\n    conditions: { ready: true }`,
  );
  return [
    'apiVersion: discovery.k8s.io/v1',
    'kind: EndpointSlice',
    'metadata:',
    `  name: svc-${s}-x1`,
    `  namespace: ${NAMESPACE}`,
    `  labels: { kubernetes.io/service-name: svc-${s} }`,
    'addressType: IPv4',
    'ports:',
    '  - { name: http, port: 8080, protocol: TCP }',
    `endpoints:${count === 0 ? ' []' : ''}`,
    ...addresses,
  ].join('\n');
}

function serviceYaml(s: number): string {
  return [
    'apiVersion: v1',
    'kind: Service',
    `metadata: { name: svc-${s}, namespace: ${NAMESPACE} }`,
    'spec:',
    '  ports:',
    '    - { name: http, port: 8080, targetPort: 8080 }',
  ].join('\n');
}

/** Endpoints per service: M spread over S, the first M mod S services taking one more. */
export function endpointsOf(s: number, shape: BenchShape): number {
  const base = Math.floor(shape.endpoints / shape.services);
  return base + (s < shape.endpoints % shape.services ? 1 : 0);
}

/** Writes the input into `dir` (created); returns the file names. */
export function writeInput(dir: string, shape: BenchShape): string[] {
  fs.mkdirSync(dir, { recursive: true });
  const listeners = [8080, 8443].map((port) =>
    [
      'apiVersion: getambassador.io/v3alpha1',
      'kind: Listener',
      `metadata: { name: listener-${port}, namespace: ${NAMESPACE} }`,
      'spec:',
      `  port: ${port}`,
      `  protocol: ${port === 8080 ? 'HTTP' : 'HTTPS'}`,
      '  securityModel: XFP',
      '  hostBinding: { namespace: { from: ALL } }',
    ].join('\n'),
  );
  const hosts = Array.from({ length: shape.hosts }, (_, h) =>
    [
      'apiVersion: getambassador.io/v3alpha1',
      'kind: Host',
      `metadata: { name: host-${h}, namespace: ${NAMESPACE} }`,
      'spec:',
      `  hostname: ${hostname(h)}`,
      '  requestPolicy: { insecure: { action: Route } }',
    ].join('\n'),
  );
  const services: string[] = [];
  for (let s = 0; s < shape.services; s++) {
    services.push(serviceYaml(s), endpointSliceYaml(s, endpointsOf(s, shape)));
  }
  const mappings = Array.from({ length: shape.mappings }, (_, i) => mappingYaml(i, shape));
  const files: Record<string, string[]> = {
    'listeners.yaml': listeners,
    'hosts.yaml': hosts,
    'services.yaml': services,
    'mappings.yaml': mappings,
  };
  for (const [name, docs] of Object.entries(files)) {
    fs.writeFileSync(path.join(dir, name), `${docs.join('\n---\n')}\n`);
  }
  return Object.keys(files);
}
