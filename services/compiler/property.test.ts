/**
 * Property tests: random and garbage source objects never make compile() throw, its output always
 * passes the consistency validator, and invalid Mappings never change the resources of good ones.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { SourceObject } from '../../shared/events/envelope.ts';
import { compile, type SourceRecord } from './compile.ts';
import { listCases, loadCase } from './golden-cases.ts';
import { validateOutput } from './validate-output.ts';

function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

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

function randomRecord(r: Random): SourceRecord {
  const k = r();
  const object = k < 0.5 ? randomMapping(r) : k < 0.85 ? randomKube(r) : garbage(r, 3);
  return { cluster: pick(r, ['a', 'b']), object: object as SourceObject };
}

describe('compiler properties', () => {
  test('compiler property — random and garbage objects never throw and the output validates', () => {
    for (let seed = 1; seed <= 300; seed++) {
      const r = prng(seed);
      const records = Array.from({ length: Math.floor(r() * 25) }, () => randomRecord(r));
      let result: ReturnType<typeof compile>;
      try {
        result = compile(records, { group: 'default' });
      } catch (err) {
        assert.fail(`seed ${seed}: compile threw ${String(err)}`);
      }
      assert.deepEqual(validateOutput(result.resources), [], `seed ${seed}`);
      for (const d of result.diagnostics)
        assert.ok(d.message.length > 0 && typeof d.source.kind === 'string');
    }
  });

  test('compiler property — corrupting any field of the golden inputs never throws', () => {
    const r = prng(7);
    const base = listCases().flatMap((name) => loadCase(name));
    for (let round = 0; round < 150; round++) {
      const records = structuredClone(base);
      for (let i = 0; i < 5; i++) corrupt(pick(r, records).object, r);
      const result = compile(records, { group: 'default' });
      assert.deepEqual(validateOutput(result.resources), [], `round ${round}`);
    }
  });

  test('compiler property — invalid Mappings never change the resources of valid ones', () => {
    const r = prng(11);
    for (const name of listCases()) {
      const records = loadCase(name);
      const good = compile(records, { group: 'default' }).resources.map((x) => [x.name, x.hash]);
      const broken: SourceRecord[] = Array.from({ length: 10 }, (_, i) => {
        const m = randomMapping(r);
        m.metadata = { name: `broken-${i}`, namespace: 'default' };
        m.spec = { ...(m.spec as object), service: pick(r, [undefined, 42, 'ftp://x', '']) };
        return { cluster: 'test', object: m as SourceObject };
      });
      const mixed = compile([...broken, ...records], { group: 'default' });
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
