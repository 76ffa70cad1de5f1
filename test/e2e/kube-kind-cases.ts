/**
 * The kinds table of the Kubernetes ingestion end-to-end test (kubernetes-ingest.test.ts): for
 * every kind the ingestor watches, the objects a create, an update and a delete apply in the
 * API server (fake or real), and a probe that reads the kind's effect — through a gRPC client's routing
 * (Mapping, Service, EndpointSlice) or from the snapshot committed in Redis (the others).
 * Also the object builders and snapshot readers the test's scenarios share.
 */
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { ambassador } from '../../services/ingestor/kubernetes/testing.ts';
import {
  CLUSTER_TYPE,
  ENDPOINT_TYPE,
  LISTENER_TYPE,
  ROUTE_TYPE,
  SECRET_TYPE,
} from '../../shared/xds/type-urls.ts';
import { FAILED } from '../harness/xds-client.ts';
import type { DecodedSnapshot } from './kube-pipeline.ts';

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; [k: string]: unknown };
  [k: string]: unknown;
}

// ---- object builders -------------------------------------------------------------------------

export function service(name: string, namespace: string, portName = 'grpc'): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace },
    spec: { ports: [{ name: portName, port: 50051, protocol: 'TCP' }] },
  };
}

/** An EndpointSlice of `serviceName` on 127.0.0.1 with the given named ports. */
export function slice(
  name: string,
  serviceName: string,
  namespace: string,
  ports: Record<string, number>,
  zone = 'zone-a',
): KubeObject {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name, namespace, labels: { 'kubernetes.io/service-name': serviceName } },
    addressType: 'IPv4',
    ports: Object.entries(ports).map(([portName, port]) => ({ name: portName, port, protocol: 'TCP' })),
    endpoints: [{ addresses: ['127.0.0.1'], zone, conditions: { ready: true } }],
  };
}

export function mapping(name: string, namespace: string, spec: Record<string, unknown>): KubeObject {
  return ambassador('Mapping', name, { prefix: '/', timeout_ms: 5000, ...spec }, namespace);
}

function amb(kind: string, name: string, spec: Record<string, unknown>): KubeObject {
  return ambassador(kind, name, spec);
}

/** Valid TLS pairs from the compiler's golden inputs: CN=example.test and CN=wild.test. */
const TLS_PAIRS = (() => {
  const file = fileURLToPath(
    new URL('../../testdata/compiler/edge-host-tls/in/secrets.yaml', import.meta.url),
  );
  const docs = parseAllDocuments(fs.readFileSync(file, 'utf8')).map((d) => d.toJS() as KubeObject);
  const data = (name: string) => docs.find((d) => d.metadata.name === name)?.data as Record<string, string>;
  return { example: data('example-cert'), wild: data('wild-cert') };
})();

/** A kubernetes.io/tls Secret with a valid pair (CN=example.test or CN=wild.test). */
export function tlsSecret(name: string, pair: keyof typeof TLS_PAIRS, namespace = 'default'): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace },
    type: 'kubernetes.io/tls',
    data: TLS_PAIRS[pair],
  };
}

function ingress(path: string): KubeObject {
  const backend = { service: { name: 'quote', port: { number: 80 } } };
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: { name: 'shop', namespace: 'default' },
    spec: {
      ingressClassName: 'ambassador',
      rules: [{ host: 'shop.kube.test', http: { paths: [{ path, pathType: 'Prefix', backend }] } }],
    },
  };
}

const INGRESS_CLASS: KubeObject = {
  apiVersion: 'networking.k8s.io/v1',
  kind: 'IngressClass',
  metadata: { name: 'ambassador' },
  spec: { controller: 'getambassador.io/ingress-controller' },
};

function endpoints(name: string, ip: string): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Endpoints',
    metadata: { name, namespace: 'default' },
    subsets: [{ addresses: [{ ip }], ports: [{ name: 'http', port: 8080, protocol: 'TCP' }] }],
  };
}

/** Always present: a Service with a slice and a Mapping, so the socket listener and its routes exist. */
export const BASELINE: KubeObject[] = [
  {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'quote', namespace: 'default' },
    spec: { ports: [{ name: 'main', port: 80, targetPort: 8080, protocol: 'TCP' }] },
  },
  {
    ...slice('quote-1', 'quote', 'default', { main: 8080 }),
    endpoints: [{ addresses: ['10.0.0.11'], conditions: { ready: true } }],
  },
  mapping('quote', 'default', { hostname: '*', prefix: '/quote/', service: 'quote' }),
];

// ---- reading the snapshot ------------------------------------------------------------------

/** `value[path[0]][path[1]]…`, undefined as soon as a step is missing. */
function dig(value: unknown, ...path: (string | number)[]): unknown {
  let v = value;
  for (const p of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string | number, unknown>)[p];
  }
  return v;
}

const items = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);

/** Virtual hosts of the socket listeners' route configurations (API listeners' `api:` ones repeat routes). */
const virtualHosts = (s: DecodedSnapshot) =>
  [...s.of(ROUTE_TYPE)]
    .filter(([name]) => !name.startsWith('api:'))
    .flatMap(([, rc]) => items(rc.virtual_hosts));

const routes = (s: DecodedSnapshot) => virtualHosts(s).flatMap((vh) => items(dig(vh, 'routes')));

const HCM =
  'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const HTTP_LISTENER = 'ambassador-listener-8080';

function hcm(s: DecodedSnapshot, listener: string): unknown {
  return items(dig(s.of(LISTENER_TYPE).get(listener), 'filter_chains'))
    .flatMap((fc) => items(dig(fc, 'filters')))
    .map((f) => dig(f, 'typed_config'))
    .find((tc) => dig(tc, '@type') === HCM);
}

function httpFilter(s: DecodedSnapshot, name: string): unknown {
  const f = items(dig(hcm(s, HTTP_LISTENER), 'http_filters')).find((x) => dig(x, 'name') === name);
  return dig(f, 'typed_config');
}

const text = (v: unknown): string | undefined => (v === undefined ? undefined : String(v));
const joined = (parts: string[]): string | undefined => (parts.length === 0 ? undefined : parts.join(' '));

function subject(secret: unknown): string {
  const pem = dig(secret, 'tls_certificate', 'certificate_chain', 'inline_bytes');
  return new X509Certificate(Buffer.from(String(pem), 'base64')).subject;
}

// ---- the kinds table -------------------------------------------------------------------------

export interface Step {
  /** What the step does, for messages and timings. */
  change: string;
  apply?: KubeObject[];
  /** Applied first, like `apply`, but the ingestor must not publish them: nothing wants them. */
  applyUnpublished?: KubeObject[];
  remove?: KubeObject[];
  /** What the probe reads once the change is committed; undefined: the kind's output is gone. */
  expect: string | undefined;
}

export interface Probes {
  snapshot(): Promise<DecodedSnapshot>;
  /** `backend×count` of 10 RPCs to `xds:///<host>` (failures as `<failed>×n`). */
  traffic(host: string): Promise<string>;
}

export interface KindCase {
  kind: string;
  /** Where the effect is observed. */
  via: 'gRPC client' | 'snapshot';
  /** Objects the case needs beside the kind under test: applied first, removed last. */
  with?: KubeObject[];
  steps: Step[];
  probe(p: Probes): Promise<string | undefined>;
}

/** The usual three steps; the delete removes what the update left (and by default leaves nothing). */
function lifecycle(
  created: KubeObject[],
  updated: KubeObject[],
  expect: { create: string; update: string; delete?: string },
): Step[] {
  return [
    { change: 'create', apply: created, expect: expect.create },
    { change: 'update', apply: updated, expect: expect.update },
    { change: 'delete', remove: updated, expect: expect.delete },
  ];
}

const fromSnapshot =
  (read: (s: DecodedSnapshot) => string | undefined) =>
  async (p: Probes): Promise<string | undefined> =>
    read(await p.snapshot());

export const ALL_STABLE = 'stable×10';
export const ALL_CANARY = 'canary×10';
export const ALL_FAILED = `${FAILED}×10`;

/** The table, for echo backends `stable` and `canary` listening on these ports of 127.0.0.1. */
export function kindCases(ports: { stable: number; canary: number }): KindCase[] {
  return [
    {
      kind: 'Mapping',
      via: 'gRPC client',
      with: [
        service('route-stable', 'default'),
        slice('route-stable-1', 'route-stable', 'default', { grpc: ports.stable }),
        service('route-canary', 'default'),
        slice('route-canary-1', 'route-canary', 'default', { grpc: ports.canary }),
      ],
      steps: lifecycle(
        [mapping('route', 'default', { hostname: 'mapping.kube.test', service: 'route-stable:50051' })],
        [mapping('route', 'default', { hostname: 'mapping.kube.test', service: 'route-canary:50051' })],
        { create: ALL_STABLE, update: ALL_CANARY, delete: ALL_FAILED },
      ),
      probe: (p) => p.traffic('mapping.kube.test'),
    },
    {
      // The slice serves both backends under two port names; the Service's port name picks one.
      kind: 'Service',
      via: 'gRPC client',
      with: [
        mapping('by-port', 'default', { hostname: 'service.kube.test', service: 'by-port:50051' }),
        slice('by-port-1', 'by-port', 'default', { stable: ports.stable, canary: ports.canary }),
      ],
      steps: lifecycle([service('by-port', 'default', 'stable')], [service('by-port', 'default', 'canary')], {
        create: ALL_STABLE,
        update: ALL_CANARY,
        delete: ALL_FAILED,
      }),
      probe: (p) => p.traffic('service.kube.test'),
    },
    {
      kind: 'EndpointSlice',
      via: 'gRPC client',
      with: [
        service('by-slice', 'default'),
        mapping('by-slice', 'default', { hostname: 'slice.kube.test', service: 'by-slice:50051' }),
      ],
      steps: lifecycle(
        [slice('by-slice-1', 'by-slice', 'default', { grpc: ports.stable })],
        [slice('by-slice-1', 'by-slice', 'default', { grpc: ports.canary })],
        { create: ALL_STABLE, update: ALL_CANARY, delete: ALL_FAILED },
      ),
      probe: (p) => p.traffic('slice.kube.test'),
    },
    {
      // Endpoints count only for a Service without slices: `quote` has one, so its Endpoints
      // object is never published; `legacy` has none.
      kind: 'Endpoints',
      via: 'snapshot',
      with: [
        {
          apiVersion: 'v1',
          kind: 'Service',
          metadata: { name: 'legacy', namespace: 'default' },
          spec: { ports: [{ name: 'http', port: 80, protocol: 'TCP' }] },
        },
        mapping('legacy', 'default', { hostname: '*', prefix: '/legacy/', service: 'legacy' }),
      ],
      steps: [
        {
          change: 'create',
          applyUnpublished: [endpoints('quote', '10.7.7.7')],
          apply: [endpoints('legacy', '10.9.0.1')],
          expect: '10.9.0.1:8080',
        },
        { change: 'update', apply: [endpoints('legacy', '10.9.0.2')], expect: '10.9.0.2:8080' },
        {
          change: 'delete',
          remove: [endpoints('legacy', ''), endpoints('quote', '')],
          expect: undefined,
        },
      ],
      probe: fromSnapshot((s) =>
        joined(
          items(dig(s.of(ENDPOINT_TYPE).get('k8s/default/legacy/80'), 'endpoints'))
            .flatMap((l) => items(dig(l, 'lb_endpoints')))
            .map((e) => dig(e, 'endpoint', 'address', 'socket_address'))
            .map((a) => `${dig(a, 'address')}:${dig(a, 'port_value')}`),
        ),
      ),
    },
    {
      kind: 'Host',
      via: 'snapshot',
      steps: lifecycle(
        [
          amb('Host', 'kube-host', {
            hostname: 'host-a.kube.test',
            requestPolicy: { insecure: { action: 'Route' } },
          }),
        ],
        [
          amb('Host', 'kube-host', {
            hostname: 'host-b.kube.test',
            requestPolicy: { insecure: { action: 'Route' } },
          }),
        ],
        { create: 'host-a.kube.test', update: 'host-b.kube.test' },
      ),
      probe: fromSnapshot((s) =>
        joined(
          virtualHosts(s)
            .flatMap((vh) => items(dig(vh, 'domains')).map(String))
            .filter((d) => d.endsWith('.kube.test')),
        ),
      ),
    },
    {
      // The Secret is published only while the TLSContext refers to it: an unreferenced Secret
      // stays out of the log until the TLSContext is switched to it, and the old one is withdrawn.
      kind: 'TLSContext + Secret',
      via: 'snapshot',
      with: [
        mapping('origination', 'default', {
          hostname: '*',
          prefix: '/origination/',
          service: 'https://quote:80',
          tls: 'kube-ctx',
        }),
      ],
      steps: [
        {
          change: 'create',
          apply: [amb('TLSContext', 'kube-ctx', { secret: 'kube-cert' }), tlsSecret('kube-cert', 'example')],
          expect: 'tls/default/kube-cert CN=example.test',
        },
        {
          change: 'update Secret',
          applyUnpublished: [tlsSecret('kube-cert-b', 'example')],
          apply: [tlsSecret('kube-cert', 'wild')],
          expect: 'tls/default/kube-cert CN=wild.test',
        },
        {
          change: 'update TLSContext',
          apply: [amb('TLSContext', 'kube-ctx', { secret: 'kube-cert-b' })],
          expect: 'tls/default/kube-cert-b CN=example.test',
        },
        {
          change: 'delete',
          remove: [
            amb('TLSContext', 'kube-ctx', {}),
            tlsSecret('kube-cert', 'wild'),
            tlsSecret('kube-cert-b', 'wild'),
          ],
          expect: undefined,
        },
      ],
      probe: fromSnapshot((s) =>
        joined([...s.of(SECRET_TYPE)].map(([name, sec]) => `${name} ${subject(sec)}`)),
      ),
    },
    {
      kind: 'Module',
      via: 'snapshot',
      steps: lifecycle(
        [amb('Module', 'ambassador', { config: { server_name: 'kube-a' } })],
        [amb('Module', 'ambassador', { config: { server_name: 'kube-b' } })],
        { create: 'kube-a', update: 'kube-b' },
      ),
      probe: fromSnapshot((s) => text(dig(hcm(s, HTTP_LISTENER), 'server_name'))),
    },
    {
      kind: 'TCPMapping',
      via: 'snapshot',
      steps: lifecycle(
        [amb('TCPMapping', 'kube-tcp', { port: 6379, service: 'quote:80' })],
        [amb('TCPMapping', 'kube-tcp', { port: 6380, service: 'quote:80' })],
        { create: 'listener-0.0.0.0-6379', update: 'listener-0.0.0.0-6380' },
      ),
      probe: fromSnapshot((s) =>
        joined([...s.of(LISTENER_TYPE).keys()].filter((n) => n.startsWith('listener-'))),
      ),
    },
    {
      kind: 'AuthService',
      via: 'snapshot',
      steps: lifecycle(
        [amb('AuthService', 'kube-auth', { auth_service: 'quote:80', timeout_ms: 1000 })],
        [amb('AuthService', 'kube-auth', { auth_service: 'quote:80', timeout_ms: 2000 })],
        { create: 'ext_authz timeout 1s', update: 'ext_authz timeout 2s' },
      ),
      probe: fromSnapshot((s) => {
        const t = dig(httpFilter(s, 'envoy.filters.http.ext_authz'), 'http_service', 'server_uri', 'timeout');
        return t === undefined ? undefined : `ext_authz timeout ${dig(t, 'seconds')}s`;
      }),
    },
    {
      kind: 'RateLimitService',
      via: 'snapshot',
      steps: lifecycle(
        [
          amb('RateLimitService', 'kube-rl', {
            service: 'quote:80',
            domain: 'kube-a',
            protocol_version: 'v3',
          }),
        ],
        [
          amb('RateLimitService', 'kube-rl', {
            service: 'quote:80',
            domain: 'kube-b',
            protocol_version: 'v3',
          }),
        ],
        { create: 'ratelimit domain kube-a', update: 'ratelimit domain kube-b' },
      ),
      probe: fromSnapshot((s) => {
        const domain = dig(httpFilter(s, 'envoy.filters.http.ratelimit'), 'domain');
        return domain === undefined ? undefined : `ratelimit domain ${domain}`;
      }),
    },
    {
      // A resolver has no settings that change output; moving it to another ambassador_id is the
      // update that does (the TCPMapping then names an unknown resolver and is dropped).
      kind: 'KubernetesServiceResolver',
      via: 'snapshot',
      with: [amb('TCPMapping', 'dns-tcp', { port: 7000, service: 'quote:80', resolver: 'by-dns' })],
      steps: [
        {
          change: 'create',
          apply: [amb('KubernetesServiceResolver', 'by-dns', {})],
          expect: 'LOGICAL_DNS quote.default:80',
        },
        {
          change: 'update (other ambassador_id)',
          apply: [amb('KubernetesServiceResolver', 'by-dns', { ambassador_id: ['elsewhere'] })],
          expect: undefined,
        },
        {
          change: 'update (back)',
          apply: [amb('KubernetesServiceResolver', 'by-dns', {})],
          expect: 'LOGICAL_DNS quote.default:80',
        },
        { change: 'delete', remove: [amb('KubernetesServiceResolver', 'by-dns', {})], expect: undefined },
      ],
      probe: fromSnapshot((s) => {
        const c = s.of(CLUSTER_TYPE).get('cluster_tcp_quote_80_default');
        const a = dig(
          c,
          'load_assignment',
          'endpoints',
          0,
          'lb_endpoints',
          0,
          'endpoint',
          'address',
          'socket_address',
        );
        return c === undefined ? undefined : `${dig(c, 'type')} ${dig(a, 'address')}:${dig(a, 'port_value')}`;
      }),
    },
    {
      // The Ingress is Attaché's only through the IngressClass: without it, no route.
      kind: 'Ingress + IngressClass',
      via: 'snapshot',
      steps: [
        { change: 'create Ingress', apply: [ingress('/cart')], expect: undefined },
        { change: 'create IngressClass', apply: [INGRESS_CLASS], expect: '/cart' },
        { change: 'update Ingress', apply: [ingress('/basket')], expect: '/basket' },
        { change: 'delete IngressClass', remove: [INGRESS_CLASS], expect: undefined },
        { change: 'delete Ingress', remove: [ingress('/basket')], expect: undefined },
      ],
      probe: fromSnapshot((s) =>
        joined(
          routes(s)
            .filter((r) => String(dig(r, 'name')).startsWith('default/shop-'))
            .map((r) => String(dig(r, 'match', 'prefix'))),
        ),
      ),
    },
    {
      kind: 'AmbassadorMapping (x.getambassador.io)',
      via: 'snapshot',
      steps: lifecycle([xMapping('/xmap-a/')], [xMapping('/xmap-b/')], {
        create: '/xmap-a/',
        update: '/xmap-b/',
      }),
      probe: fromSnapshot((s) =>
        joined(
          routes(s)
            .filter((r) => dig(r, 'name') === 'default/xmap')
            .map((r) => String(dig(r, 'match', 'prefix'))),
        ),
      ),
    },
  ];
}

function xMapping(prefix: string): KubeObject {
  return {
    apiVersion: 'x.getambassador.io/v3alpha1',
    kind: 'AmbassadorMapping',
    metadata: { name: 'xmap', namespace: 'default' },
    spec: { hostname: '*', prefix, service: 'quote' },
  };
}
