/**
 * Property tests: random and garbage source objects (and mutations of the golden inputs) never make
 * compile() throw, its output always passes the consistency and protoc-gen-validate checks, and
 * invalid objects become diagnostics naming the object and field without changing the resources
 * of good ones.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { SourceObject } from '../../shared/events/envelope.ts';
import { compile } from './compile.ts';
import type { SourceRecord } from './contracts.ts';
import { listCases, loadCase, loadCaseOptions } from './golden-cases.ts';
import { prng } from './test-prng.ts';
import { newPgvStats, type PgvStats } from './validate/pgv-validate.ts';
import { validateOutput } from './validate-output.ts';

type Random = () => number;
const pick = <T>(r: Random, items: readonly T[]): T => items[Math.floor(r() * items.length)]!;

const STRINGS = [
  '',
  '*',
  '/',
  '/a/',
  'a*b',
  '*.example.com',
  'foo.*',
  'svc',
  'svc.ns',
  'svc:80',
  'svc.ns:8080',
  'svc:0',
  'svc:99999',
  '127.0.0.1:9001',
  '[::1]:9',
  '::1',
  'https://svc',
  'http://10.0.0.1',
  'ftp://x',
  'a.b.c.d',
  'x\ny',
  'ünïcödé',
  'http',
  'TCP',
  'UDP',
  'default',
  '_automatic_',
  'ambassador-listener-8080',
  '10.0.0.1',
  'not-an-ip',
  'echo.local',
  'a'.repeat(200),
  '__proto__',
  'constructor',
];
const NUMBERS = [
  0,
  1,
  -1,
  30,
  50,
  70,
  100,
  101,
  10.5,
  65535,
  65536,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  2 ** 60,
];

function garbage(r: Random, depth: number): unknown {
  const k = r();
  if (depth <= 0 || k < 0.35) return pick(r, [...STRINGS, ...NUMBERS, true, false, null, undefined]);
  if (k < 0.55) return Array.from({ length: Math.floor(r() * 4) }, () => garbage(r, depth - 1));
  const out: Record<string, unknown> = {};
  const keys = ['name', 'port', 'ip', 'addresses', 'ready', 'zone', 'protocol', 'x-a', ':authority', 'value'];
  for (let i = Math.floor(r() * 4); i > 0; i--) out[pick(r, keys)] = garbage(r, depth - 1);
  return out;
}

/** A value for a known field: usually plausible, sometimes garbage. */
function field(r: Random, plausible: readonly unknown[]): unknown {
  return r() < 0.75 ? pick(r, plausible) : garbage(r, 2);
}

function randomMapping(r: Random): Record<string, unknown> {
  const spec: Record<string, unknown> = {};
  const maybe = (key: string, plausible: readonly unknown[]): void => {
    if (r() < 0.6) spec[key] = field(r, plausible);
  };
  maybe('prefix', ['/', '/a/', '/a/b/', '/echo.Echo/']);
  maybe('service', ['svc', 'svc.ns', 'svc:8080', 'other', '127.0.0.1:9001', 'https://svc', '[::1]:9002']);
  maybe('weight', [0, 10, 30, 50, 70, 100, 101]);
  maybe('hostname', ['*', 'echo.local', '*.example.com', 'shop.example.com', 'staging.*']);
  maybe('host', ['echo.local', 'ambassador-listener-8080']);
  maybe('headers', [{ 'x-a': '1' }, { 'x-a': true }, { 'X-A': '1', 'x-a': '2' }, {}]);
  maybe('rewrite', ['', '/', '/v2/']);
  maybe('timeout_ms', [0, 3000, 15500]);
  maybe('precedence', [-1, 0, 10]);
  maybe('ambassador_id', ['default', ['default'], ['_automatic_'], ['blue'], 7]);
  maybe('prefix_regex', [true, false, 'yes']);
  maybe('regex_headers', [{ 'x-a': '^b.*' }, { 'x-a': '(' }, { 'x-a': '' }]);
  maybe('method', ['GET', 'POST', '', 'G E T']);
  maybe('load_balancer', [
    { policy: 'round_robin' },
    { policy: 'ring_hash', header: 'x-user' },
    { policy: 'ring_hash', cookie: { name: 'c' } },
    { policy: 'maglev', source_ip: true },
    { policy: 'least_request', header: 'x' },
  ]);
  maybe('retry_policy', [
    { retry_on: 'unavailable', num_retries: 3 },
    { retry_on: '5xx', per_try_timeout: '1s' },
    { retry_on: 'bogus', num_retries: -1 },
  ]);
  maybe('cors', [{ origins: ['*'], methods: 'GET,POST' }, { origins: 5 }, { max_age: '86400' }]);
  maybe('add_request_headers', [{ 'x-a': 'b' }, { 'x-a': { value: 'b', append: false } }, { '': 'x' }]);
  maybe('remove_request_headers', [['x-a'], 'x-a', [''], 7]);
  maybe('circuit_breakers', [[{ max_connections: 10 }], [{ priority: 'high', max_requests: -1 }], 'x']);
  maybe('idle_timeout_ms', [0, 1000, -1]);
  maybe('connect_timeout_ms', [0, 250, 'soon']);
  maybe('host_rewrite', ['a.example.com', '', 'a\nb']);
  maybe('grpc', [true, false, 'yes']);
  maybe('case_sensitive', [true, false]);
  return {
    apiVersion: pick(r, [
      'getambassador.io/v2',
      'getambassador.io/v3alpha1',
      'x.getambassador.io/v3alpha1',
      'v1',
    ]),
    kind: pick(r, ['Mapping', 'Mapping', 'AmbassadorMapping']),
    metadata: {
      name: field(r, ['a', 'b', 'c', 'canary']),
      namespace: field(r, ['default', 'ns', undefined]),
    },
    spec: r() < 0.9 ? spec : garbage(r, 2),
  };
}

function randomKube(r: Random): Record<string, unknown> {
  const name = pick(r, ['svc', 'other']);
  const namespace = pick(r, ['default', 'ns']);
  const ports = () =>
    field(r, [
      [{ port: 8080 }],
      [
        { name: 'http', port: 80 },
        { name: 'm', port: 9090 },
      ],
      [],
    ]);
  switch (pick(r, ['Service', 'Endpoints', 'EndpointSlice'])) {
    case 'Service':
      return { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace }, spec: { ports: ports() } };
    case 'Endpoints':
      return {
        apiVersion: 'v1',
        kind: 'Endpoints',
        metadata: { name, namespace },
        subsets: field(r, [[{ addresses: [{ ip: '10.0.0.1' }, { ip: '10.0.0.2' }], ports: ports() }]]),
      };
    default:
      return {
        apiVersion: 'discovery.k8s.io/v1',
        kind: 'EndpointSlice',
        metadata: {
          name: `${name}-x`,
          namespace,
          labels: { 'kubernetes.io/service-name': field(r, [name]) },
        },
        addressType: field(r, ['IPv4', 'IPv6', 'FQDN']),
        ports: ports(),
        endpoints: field(r, [
          [
            { addresses: ['10.0.0.1'], zone: 'z' },
            { addresses: ['::1'], conditions: { ready: false } },
          ],
        ]),
      };
  }
}

/** The other Emissary kinds, with plausible specs or garbage, so new translators are fuzzed as they land. */
function randomEmissary(r: Random): Record<string, unknown> {
  const kind = pick(r, [
    'Host',
    'Listener',
    'TLSContext',
    'Module',
    'TCPMapping',
    'AuthService',
    'RateLimitService',
    'KubernetesEndpointResolver',
    'ConsulResolver',
  ]);
  const plausible: Record<string, unknown[]> = {
    Host: [
      { hostname: 'echo.local', tlsSecret: { name: 's' } },
      { hostname: '*', requestPolicy: { insecure: { action: 'Route' } } },
    ],
    Listener: [
      { port: 8080, protocol: 'HTTP', securityModel: 'XFP', hostBinding: { namespace: { from: 'ALL' } } },
      { port: 99999, protocol: 'TCP' },
    ],
    TLSContext: [{ hosts: ['echo.local'], secret: 's', min_tls_version: 'v1.2' }],
    Module: [{ config: { enable_grpc_web: true, load_balancer: { policy: 'round_robin' } } }, { config: 7 }],
    TCPMapping: [
      { port: 6379, service: 'redis:6379' },
      { port: 'x', service: '' },
    ],
    AuthService: [{ auth_service: 'auth:3000', proto: 'grpc' }],
    RateLimitService: [{ service: 'rl:8081', protocol_version: 'v3' }],
    KubernetesEndpointResolver: [{}],
    ConsulResolver: [{ address: 'consul:8500', datacenter: 'dc1' }],
  };
  return {
    apiVersion: pick(r, ['getambassador.io/v3alpha1', 'getambassador.io/v2']),
    kind,
    metadata: { name: field(r, ['ambassador', 'a', 'b']), namespace: field(r, ['default', 'ns']) },
    spec: field(r, plausible[kind] ?? [{}]),
  };
}

function randomRecord(r: Random): SourceRecord {
  const k = r();
  const object =
    k < 0.45 ? randomMapping(r) : k < 0.75 ? randomKube(r) : k < 0.9 ? randomEmissary(r) : garbage(r, 3);
  return { cluster: pick(r, ['a', 'b']), object: object as SourceObject };
}

describe('compiler properties', () => {
  test('compiler property — random and garbage objects never throw and the output validates', () => {
    const stats = newPgvStats();
    for (let seed = 1; seed <= 300; seed++) {
      const r = prng(seed);
      const records = Array.from({ length: Math.floor(r() * 25) }, () => randomRecord(r));
      let result: ReturnType<typeof compile>;
      try {
        result = compile(records, { group: 'default' });
      } catch (err) {
        assert.fail(`seed ${seed}: compile threw ${String(err)}`);
      }
      assert.deepEqual(validateOutput(result.resources, stats), [], `seed ${seed}`);
      for (const d of result.diagnostics)
        assert.ok(d.message.length > 0 && typeof d.source.kind === 'string');
    }
    assertPgvRan(stats);
  });

  test('compiler property — corrupting any field of the golden inputs never throws', () => {
    const r = prng(7);
    const base = listCases().flatMap((name) => loadCase(name));
    const stats = newPgvStats();
    for (let round = 0; round < 150; round++) {
      const records = structuredClone(base);
      for (let i = 0; i < 5; i++) corrupt(pick(r, records).object, r);
      let result: ReturnType<typeof compile>;
      try {
        result = compile(records, { group: 'default' });
      } catch (err) {
        assert.fail(`round ${round}: compile threw ${String(err)}`);
      }
      assert.deepEqual(validateOutput(result.resources, stats), [], `round ${round}`);
    }
    assertPgvRan(stats);
  });

  test('compiler property — hand-written invalid objects are named with their field and never remove good routes', () => {
    const invalid = INVALID_OBJECTS.map(
      ([kind, name, spec]): SourceRecord => ({
        cluster: 'test',
        object: {
          apiVersion: 'getambassador.io/v3alpha1',
          kind,
          metadata: { name, namespace: 'default' },
          spec,
        } as SourceObject,
      }),
    );
    for (const name of listCases()) {
      const records = loadCase(name);
      const opts = { group: 'default', ...loadCaseOptions(name) };
      const good = compile(records, opts);
      const mixed = compile([...invalid, ...records], opts);
      assert.deepEqual(
        mixed.resources.map((x) => [x.typeUrl, x.name, x.hash]),
        good.resources.map((x) => [x.typeUrl, x.name, x.hash]),
        `${name}: the invalid Mappings changed the output`,
      );
      for (const [kind, object, , field] of INVALID_OBJECTS) {
        const named = mixed.diagnostics.filter(
          (d) => d.severity === 'error' && d.source.kind === kind && d.source.name === object,
        );
        assert.ok(
          named.some((d) => d.field === field),
          `${name}: expected an error on ${kind} ${object} field ${field}, got ${JSON.stringify(named)}`,
        );
      }
    }
  });

  test('compiler property — invalid Mappings never change the resources of valid ones', () => {
    const r = prng(11);
    for (const name of listCases()) {
      const records = loadCase(name);
      const opts = { group: 'default', ...loadCaseOptions(name) };
      const good = compile(records, opts).resources.map((x) => [x.name, x.hash]);
      const broken: SourceRecord[] = Array.from({ length: 10 }, (_, i) => {
        const m = randomMapping(r);
        m.metadata = { name: `broken-${i}`, namespace: 'default' };
        m.spec = { ...(m.spec as object), service: pick(r, [undefined, 42, 'ftp://x', '']) };
        return { cluster: 'test', object: m as SourceObject };
      });
      const mixed = compile([...broken, ...records], opts);
      assert.deepEqual(
        mixed.resources.map((x) => [x.name, x.hash]),
        good,
        name,
      );
    }
  });

  test('compiler property — a self-referencing object is reported, not thrown', () => {
    const spec: Record<string, unknown> = { prefix: '/loop/', service: 'loop' };
    spec.self = spec;
    const looped = {
      apiVersion: 'getambassador.io/v3alpha1',
      kind: 'Mapping',
      metadata: { name: 'loop' },
      spec,
    };
    const result = compile([{ cluster: 'a', object: looped as SourceObject }], { group: 'default' });
    assert.ok(result.diagnostics.some((d) => d.source.name === 'loop' && d.severity === 'error'));
  });
});

/** The structural validator really walked the output (a vacuous pass would visit nothing). */
function assertPgvRan(stats: PgvStats): void {
  assert.ok(stats.messages > 0, 'the PGV validator visited no messages');
  assert.deepEqual([...stats.unknownAnyTypes], [], 'generated an Any whose type is not in the proto root');
}

/**
 * [kind, name, spec, the field the diagnostic must name]: one broken field each, on otherwise
 * valid objects whose names collide with nothing in the golden cases.
 */
const INVALID_OBJECTS: readonly [string, string, Record<string, unknown>, string][] = [
  ['Mapping', 'invalid-prefix-type', { prefix: 42, service: 'quote' }, 'prefix'],
  ['Mapping', 'invalid-no-prefix', { service: 'quote' }, 'prefix'],
  ['Mapping', 'invalid-service', { prefix: '/quote/', service: '' }, 'service'],
  ['Mapping', 'invalid-weight', { prefix: '/quote/', service: 'quote', weight: 'lots' }, 'weight'],
  ['Mapping', 'invalid-weight-range', { prefix: '/quote/', service: 'quote', weight: 101 }, 'weight'],
  [
    'Mapping',
    'invalid-header-name',
    { prefix: '/quote/', service: 'quote', headers: { 'x a': '1' } },
    'headers.x a',
  ],
  ['Mapping', 'invalid-timeout', { prefix: '/quote/', service: 'quote', timeout_ms: -5 }, 'timeout_ms'],
  ['Mapping', 'invalid-rewrite', { prefix: '/quote/', service: 'quote', rewrite: 'a\nb' }, 'rewrite'],
  [
    'Mapping',
    'invalid-precedence',
    { prefix: '/quote/', service: 'quote', precedence: 'high' },
    'precedence',
  ],
  ['Mapping', 'invalid-hostname', { prefix: '/quote/', service: 'quote', hostname: 'a b' }, 'hostname'],
  [
    'Mapping',
    'invalid-prefix-regex',
    { prefix: '/(unclosed', prefix_regex: true, service: 'quote' },
    'prefix',
  ],
  [
    'Mapping',
    'invalid-load-balancer',
    { prefix: '/quote/', service: 'quote', load_balancer: { policy: 'ring_hash' } },
    'load_balancer',
  ],
  [
    'Mapping',
    'invalid-retry-on',
    { prefix: '/quote/', service: 'quote', retry_policy: { retry_on: 'bogus' } },
    'retry_policy.retry_on',
  ],
  ['Host', 'invalid-host-name', { hostname: 7 }, 'hostname'],
  ['Host', 'invalid-host-secret', { hostname: 'x.example.com', tlsSecret: 5 }, 'tlsSecret.name'],
  [
    'Host',
    'invalid-host-action',
    { hostname: 'y.example.com', requestPolicy: { insecure: { action: 'Teleport' } } },
    'requestPolicy.insecure.action',
  ],
  [
    'Listener',
    'invalid-listener-port',
    { port: 99999, protocol: 'HTTP', securityModel: 'XFP', hostBinding: { namespace: { from: 'ALL' } } },
    'port',
  ],
  ['TCPMapping', 'invalid-tcp-port', { port: 'x', service: 'db:5432' }, 'port'],
  ['TCPMapping', 'invalid-tcp-service', { port: 15432 }, 'service'],
  ['TLSContext', 'invalid-tls-hosts', { hosts: 'x' }, 'hosts'],
  ['AuthService', 'invalid-auth', { auth_service: '' }, 'auth_service'],
  ['RateLimitService', 'invalid-ratelimit', { service: 5 }, 'service'],
];

/** Replaces one randomly chosen leaf or subtree of `value` with garbage, in place. */
function corrupt(value: unknown, r: Random): void {
  let node = value as Record<string, unknown>;
  for (let depth = 0; depth < 6; depth++) {
    const keys = Object.keys(node);
    if (keys.length === 0) return;
    const key = pick(r, keys);
    const child = node[key];
    if (child === null || typeof child !== 'object' || r() < 0.3) {
      node[key] = garbage(r, 2);
      return;
    }
    node = child as Record<string, unknown>;
  }
}
