/**
 * Isolation: adding one hostile object to a working configuration leaves every resource of the
 * good objects byte-identical and yields an error or warning naming the hostile object. One case
 * per way a bad object used to reach shared output (issue 9): regexes RE2 rejects, a Host whose
 * Secret is missing, cluster-level settings that disagree with a shared cluster.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  ENVELOPE_VERSION,
  type EventEnvelope,
  INGEST_ERROR_API_VERSION,
  INGEST_ERROR_KIND,
  type SourceObject,
} from '../../shared/events/envelope.ts';
import { CLUSTER_TYPE, LISTENER_TYPE, ROUTE_TYPE } from '../../shared/xds/type-urls.ts';
import { compile } from './compile.ts';
import type { CompileResult, SourceRecord } from './contracts.ts';
import { listCases, loadCase, loadCaseOptions } from './golden-cases.ts';
import { WorldState } from './runner-world.ts';
import { RESOURCE_LIMIT, RESPONSE_LIMIT } from './size-limits.ts';
import { re2Problem, re2ProgramSizeAtLeast } from './sources/re2.ts';

const mapping = (name: string, spec: Record<string, unknown>): SourceRecord => ({
  cluster: 'local',
  object: {
    apiVersion: 'getambassador.io/v3alpha1',
    kind: 'Mapping',
    metadata: { name, namespace: 'default' },
    spec: { hostname: '*', ...spec },
  } as SourceObject,
  origin: { file: `${name}.yaml`, document: 0 },
});

const host = (name: string, spec: Record<string, unknown>): SourceRecord => ({
  cluster: 'local',
  object: {
    apiVersion: 'getambassador.io/v3alpha1',
    kind: 'Host',
    metadata: { name, namespace: 'default' },
    spec,
  } as SourceObject,
});

/** A working configuration: gRPC Mappings sharing one cluster, on the default listener. */
const GOOD: SourceRecord[] = [
  mapping('echo', { prefix: '/echo.Echo/', service: 'echo:9000', grpc: true }),
  mapping('echo-b', { prefix: '/echo.Other/', service: 'echo:9000', grpc: true }),
  mapping('echo-c', { prefix: '/echo.Third/', service: 'echo:9000', grpc: true }),
  mapping('users', { prefix: '/users/', service: 'users:8080', regex_headers: { 'x-tenant': '[a-z]+' } }),
];

function byName(result: CompileResult): Map<string, string> {
  return new Map(result.resources.map((r) => [`${r.typeUrl} ${r.name}`, r.hash]));
}

/** Every resource of `before` is in `after` with the same hash. */
function assertGoodUnchanged(before: CompileResult, after: CompileResult): void {
  const a = byName(after);
  for (const [key, hash] of byName(before)) assert.equal(a.get(key), hash, `${key} changed`);
}

/** Every route of every RouteConfiguration, by `<route configuration> <route name>`. */
function routes(result: CompileResult): Map<string, string> {
  const out = new Map<string, string>();
  for (const r of result.resources) {
    if (r.typeUrl !== ROUTE_TYPE) continue;
    const rc = r.message as { virtual_hosts?: { name: string; routes?: { name?: string }[] }[] };
    for (const vh of rc.virtual_hosts ?? [])
      for (const route of vh.routes ?? [])
        out.set(`${r.name} ${vh.name} ${route.name}`, JSON.stringify(route));
  }
  return out;
}

function diagnosticsOf(result: CompileResult, name: string) {
  return result.diagnostics.filter((d) => d.source.name === name);
}

describe('isolation', () => {
  const baseline = compile(GOOD, { group: 'default' });

  test('isolation — the baseline compiles cleanly', () => {
    assert.deepEqual(
      baseline.diagnostics.filter((d) => d.severity === 'error'),
      [],
    );
    assert.ok(baseline.resources.some((r) => r.typeUrl === LISTENER_TYPE));
  });

  const hostileRegexes: [string, Record<string, unknown>, string][] = [
    [
      'regex_headers over RE2 repetition limit',
      { regex_headers: { 'x-foo': 'a{1001}' } },
      'regex_headers.x-foo',
    ],
    [
      'regex_rewrite over RE2 repetition limit',
      { regex_rewrite: { pattern: 'a{1001}', substitution: 'b' } },
      'regex_rewrite.pattern',
    ],
    ['prefix_regex with nested repetition', { prefix: '/(a{500}){500}', prefix_regex: true }, 'prefix'],
    [
      'regex_query_parameters with a JavaScript-only escape',
      { regex_query_parameters: { q: '\\u0041' } },
      'regex_query_parameters.q',
    ],
    ['host_regex with lookahead', { hostname: '(?=x)y', host_regex: true }, 'hostname'],
    ['prefix_regex over Envoy program size', { prefix: '/(abcdefghij){30}', prefix_regex: true }, 'prefix'],
    ['method_regex over Envoy program size', { method: '(GETPOSTPUT){40}', method_regex: true }, 'method'],
  ];
  for (const [what, spec, field] of hostileRegexes) {
    test(`isolation — ${what} rejects only its Mapping`, () => {
      const bad = mapping('hostile', { prefix: '/echo.Echo/', service: 'echo:9000', grpc: true, ...spec });
      const result = compile([...GOOD, bad], { group: 'default' });
      assertGoodUnchanged(baseline, result);
      const errors = diagnosticsOf(result, 'hostile').filter((d) => d.severity === 'error');
      assert.equal(errors.length, 1, JSON.stringify(result.diagnostics));
      assert.equal(errors[0]!.field, field);
      assert.equal(errors[0]!.source.file, 'hostile.yaml');
    });
  }

  test('isolation — a regex within the limits still routes', () => {
    const ok = mapping('fine', {
      prefix: '/v[0-9]+/items',
      prefix_regex: true,
      service: 'echo:9000',
      grpc: true,
    });
    const result = compile([...GOOD, ok], { group: 'default' });
    assert.deepEqual(
      diagnosticsOf(result, 'fine').filter((d) => d.severity === 'error'),
      [],
    );
    const routes = result.resources.filter((r) => r.typeUrl === ROUTE_TYPE);
    assert.ok(routes.some((r) => JSON.stringify(r.message).includes('/v[0-9]+/items')));
  });

  test('isolation — a Host whose Secret is missing never takes the listener with it', () => {
    const bad = host('wild', { hostname: '*', tlsSecret: { name: 'does-not-exist' } });
    const result = compile([...GOOD, bad], { group: 'default' });
    assertGoodUnchanged(baseline, result);
    assert.equal(
      result.resources.filter((r) => r.typeUrl === LISTENER_TYPE).length,
      baseline.resources.filter((r) => r.typeUrl === LISTENER_TYPE).length,
    );
    const errors = diagnosticsOf(result, 'wild').filter((d) => d.severity === 'error');
    assert.equal(errors[0]?.field, 'tlsSecret');
  });

  test('isolation — a Host with a missing Secret next to a good Host loses only itself', () => {
    const good = host('plain', {
      hostname: 'plain.example',
      requestPolicy: { insecure: { action: 'Route' } },
    });
    const withGood = compile([...GOOD, good], { group: 'default' });
    const bad = host('wild', { hostname: '*', tlsSecret: { name: 'does-not-exist' } });
    const result = compile([...GOOD, good, bad], { group: 'default' });
    assertGoodUnchanged(withGood, result);
    assert.equal(diagnosticsOf(result, 'wild')[0]?.field, 'tlsSecret');
  });

  test('isolation — a Host whose TLS cannot be served next to a TLS Host: the good filter chain, listener and certificate stay byte-identical', () => {
    const secret = loadCase('edge-secret-groups').find(
      (r) => r.object.kind === 'Secret' && r.object.metadata.name === 'own-cert',
    );
    assert.ok(secret, 'the golden case holds a real certificate');
    const good = host('tls', { hostname: 'tls.example', tlsSecret: { name: 'own-cert' } });
    const withGood = compile([...GOOD, secret, good], { group: 'default' });
    const https = withGood.resources.filter(
      (r) => r.typeUrl === LISTENER_TYPE && JSON.stringify(r.message).includes('tls.example'),
    );
    assert.equal(https.length, 1, 'the TLS Host has its filter chain on a socket listener');
    const bad = host('wild', { hostname: '*', tlsSecret: { name: 'does-not-exist' } });
    const result = compile([...GOOD, secret, good, bad], { group: 'default' });
    assertGoodUnchanged(withGood, result);
    assert.equal(
      result.resources.filter((r) => r.typeUrl === LISTENER_TYPE).length,
      withGood.resources.filter((r) => r.typeUrl === LISTENER_TYPE).length,
    );
    assert.equal(diagnosticsOf(result, 'wild').find((d) => d.severity === 'error')?.field, 'tlsSecret');
    assert.deepEqual(
      diagnosticsOf(result, 'tls').filter((d) => d.severity === 'error'),
      [],
      'the good Host is never blamed',
    );
  });

  test('isolation — a Mapping with different cluster settings gets its own cluster', () => {
    // Sorts first by name, so it would have configured the shared cluster before.
    const bad = mapping('aaa-plain', { prefix: '/echo.Plain/', service: 'echo:9000' });
    const result = compile([...GOOD, bad], { group: 'default' });
    // A new good route joins the shared route configuration; every existing route and cluster is unchanged.
    const after = byName(result);
    for (const [key, hash] of byName(baseline))
      if (!key.startsWith(ROUTE_TYPE)) assert.equal(after.get(key), hash, `${key} changed`);
    const afterRoutes = routes(result);
    for (const [key, route] of routes(baseline)) assert.equal(afterRoutes.get(key), route, `${key} changed`);
    const clusters = result.resources.filter((r) => r.typeUrl === CLUSTER_TYPE).map((r) => r.name);
    assert.equal(clusters.length, baseline.resources.filter((r) => r.typeUrl === CLUSTER_TYPE).length + 1);
    const own = clusters.find((c) => /^cluster_echo_9000_default_s[0-9a-f]{8}$/.test(c));
    assert.ok(own, `no separate cluster among ${clusters.join(', ')}`);
    const warnings = diagnosticsOf(result, 'aaa-plain').filter((d) =>
      d.message.startsWith('cluster settings'),
    );
    assert.equal(warnings.length, 1);
    assert.match(
      warnings[0]!.message,
      /grpc.*3 Mappings.*cluster_echo_9000_default .*own cluster cluster_echo_9000_default_s/,
    );
    assert.deepEqual(
      result.diagnostics.filter((d) => d.source.name !== 'aaa-plain'),
      baseline.diagnostics,
      'the good Mappings are not blamed',
    );
    const plain = result.resources.find((r) => r.name === own)!.message as {
      typed_extension_protocol_options?: unknown;
    };
    assert.equal(plain.typed_extension_protocol_options, undefined, 'the newcomer cluster speaks HTTP/1');
  });

  test('isolation — cluster variants are named independently of input order', () => {
    const records = [...GOOD, mapping('aaa-plain', { prefix: '/echo.Plain/', service: 'echo:9000' })];
    const a = compile(records, { group: 'default' });
    const b = compile([...records].reverse(), { group: 'default' });
    assert.deepEqual(byName(a), byName(b));
  });
});

describe('re2', () => {
  test('re2 — rejects what RE2 rejects and accepts RE2-only syntax', () => {
    assert.match(re2Problem('a{1001}') ?? '', /invalid repetition size/);
    assert.match(re2Problem('(?=a)') ?? '', /invalid perl operator/);
    assert.match(re2Problem('\\u0041') ?? '', /invalid escape/);
    assert.equal(re2Problem('a{1000}'), undefined);
    assert.equal(re2Problem('(?i)foo\\Q.*\\E[[:alpha:]]\\pL'), undefined);
  });

  test("re2 — patterns that exhaust re2-wasm's heap are rejected one by one and never poison the good ones", () => {
    // \pL{n} is a few characters, yet its program is far over any max_program_size and more than
    // re2-wasm's 16 MiB heap can compile (RE2 in C++ gives up too). Each failed compile used to
    // leak the heap, and after 15 of them every regex check threw, so good Mappings with a regex
    // were dropped as unreadable (~2 s of CPU per pattern: 16 here).
    for (let i = 0; i < 16; i++) assert.match(re2Problem(`\\pL{${1000 - i}}`) ?? '', /out of memory/);
    for (const good of ['[a-z]{7}', '^/api/v[0-9]+/.*', '(a|b){3}'])
      assert.equal(re2Problem(good), undefined, good);

    const bad = mapping('oom', {
      prefix: '/oom/',
      service: 'echo:9000',
      regex_headers: { 'x-oom': '\\pL{1000}' },
    });
    const fresh = mapping('fresh', {
      prefix: '/fresh/',
      service: 'echo:9000',
      regex_headers: { 'x-f': '[0-9]{1,4}' },
    });
    const result = compile([...GOOD, bad, fresh], { group: 'default' });
    assertGoodUnchanged(compile([...GOOD, fresh], { group: 'default' }), result);
    assert.match(diagnosticsOf(result, 'oom')[0]?.message ?? '', /RE2 rejects it: RE2 runs out of memory/);
    assert.deepEqual(
      diagnosticsOf(result, 'fresh').filter((d) => d.severity === 'error'),
      [],
    );
  });

  test('re2 — every regex sent carries max_program_size, so Envoy applies the limit checked here (not its runtime default of 100)', () => {
    let regexes = 0;
    const walk = (v: unknown, where: string): void => {
      if (Array.isArray(v)) for (const [i, x] of v.entries()) walk(x, `${where}[${i}]`);
      if (typeof v !== 'object' || v === null) return;
      const o = v as Record<string, unknown>;
      if (typeof o.regex === 'string') {
        regexes++;
        const max = (o.google_re2 as { max_program_size?: { value?: number } } | undefined)?.max_program_size;
        assert.ok(typeof max?.value === 'number' && max.value > 0, `${where}: ${JSON.stringify(o)}`);
      }
      for (const [k, x] of Object.entries(o)) walk(x, `${where}.${k}`);
    };
    for (const name of listCases()) {
      const result = compile(loadCase(name), { group: 'default', ...loadCaseOptions(name) });
      for (const r of result.resources) walk(r.message, `${name} ${r.name}`);
    }
    assert.ok(regexes > 20, `golden cases hold regexes (${regexes})`);
  });

  test('re2 — the program size bound counts expanded repetition and skips a required prefix', () => {
    assert.equal(re2ProgramSizeAtLeast('abc'), 5);
    assert.equal(re2ProgramSizeAtLeast('(ab){10}'), 22);
    assert.equal(re2ProgramSizeAtLeast('x{2,5}'), 7);
    assert.equal(re2ProgramSizeAtLeast('abc|defgh'), 7);
    assert.equal(re2ProgramSizeAtLeast('^/literal/prefix[0-9]'), 3);
    assert.equal(re2ProgramSizeAtLeast('é'), 4);
  });
});

describe('size limits', () => {
  const baseline = compile(GOOD, { group: 'default' });
  const huge = (name: string, kib: number) =>
    mapping(name, { prefix: `/${name}/${'x'.repeat(kib * 1024)}`, service: 'echo:9000', grpc: true });

  test('size limits — seven Mappings with 700 KB prefixes are rejected, the rest serve unchanged', () => {
    const bad = Array.from({ length: 7 }, (_, i) => huge(`big-${i}`, 700));
    const result = compile([...GOOD, ...bad], { group: 'default' });
    assertGoodUnchanged(baseline, result);
    assert.equal(result.resources.length, baseline.resources.length);
    for (let i = 0; i < 7; i++) {
      const errors = diagnosticsOf(result, `big-${i}`).filter((d) => d.severity === 'error');
      assert.equal(errors.length, 1, `big-${i}`);
      assert.match(errors[0]!.message, /encodes to 70\d\.\d KiB, over the 256\.0 KiB limit per route/);
      assert.equal(errors[0]!.source.file, `big-${i}.yaml`);
    }
    for (const r of result.resources) assert.ok(r.bytes.length <= RESOURCE_LIMIT);
  });

  test('size limits — a route configuration over the limit sheds its largest contributors only', () => {
    // 16 × 200 KiB routes ≈ 3.2 MiB in one RouteConfiguration: each route is fine alone.
    const bulky = Array.from({ length: 16 }, (_, i) => huge(`bulky-${String(i).padStart(2, '0')}`, 200 + i));
    const result = compile([...GOOD, ...bulky], { group: 'default' });
    for (const r of result.resources)
      assert.ok(r.bytes.length <= RESOURCE_LIMIT, `${r.name} ${r.bytes.length}`);
    const rejected = bulky
      .map((b) => (b.object as { metadata: { name: string } }).metadata.name)
      .filter((n) => diagnosticsOf(result, n).some((d) => d.severity === 'error'));
    assert.ok(rejected.length >= 1 && rejected.length <= 3, `rejected ${rejected.join(', ')}`);
    assert.ok(rejected.includes('bulky-15'), 'the largest contributor goes first');
    const err = diagnosticsOf(result, 'bulky-15').find((d) => d.severity === 'error')!;
    assert.match(
      err.message,
      /RouteConfiguration .* would encode to .* over the 3072\.0 KiB .*contributes 215\.\d KiB/,
    );
    // Every good route is still there, byte-identical.
    const after = routes(result);
    for (const [key, route] of routes(baseline)) assert.equal(after.get(key), route, `${key} changed`);
  });

  test('size limits — route configurations under the limit each but over one xDS response together shed their largest contributors', () => {
    // Two socket listeners: each route is in both route configurations, ~1.8 MiB each, 3.6 MiB
    // together — more than one RDS response carries.
    const listeners = [8080, 8081].map((port) => ({
      cluster: 'local',
      object: {
        apiVersion: 'getambassador.io/v3alpha1',
        kind: 'Listener',
        metadata: { name: `l${port}`, namespace: 'default' },
        spec: { port, protocol: 'HTTP', securityModel: 'XFP', hostBinding: { namespace: { from: 'ALL' } } },
      } as SourceObject,
    }));
    const edge = [
      ...listeners,
      host('any', { hostname: '*', requestPolicy: { insecure: { action: 'Route' } } }),
    ];
    const bulky = Array.from({ length: 10 }, (_, i) => huge(`bulky-${i}`, 180 + i));
    const before = compile([...edge, ...GOOD], { group: 'default' });
    const result = compile([...edge, ...GOOD, ...bulky], { group: 'default' });
    const rds = result.resources.filter((r) => r.typeUrl === ROUTE_TYPE && !r.onDemand);
    assert.equal(rds.length, 2);
    const total = rds.reduce((n, r) => n + r.bytes.length, 0);
    assert.ok(total <= RESPONSE_LIMIT, `RDS total ${total}`);
    for (const r of rds) assert.ok(r.bytes.length <= RESOURCE_LIMIT);
    const errors = bulky.flatMap((b) =>
      diagnosticsOf(result, (b.object as { metadata: { name: string } }).metadata.name).filter(
        (d) => d.severity === 'error',
      ),
    );
    assert.deepEqual(
      errors.map((d) => d.source.name),
      ['bulky-9'],
      'only the largest contributor is rejected',
    );
    assert.match(
      errors[0]!.message,
      /RouteConfiguration resources sent together would total .* fits one xDS response/,
    );
    const after = routes(result);
    for (const [key, route] of routes(before)) assert.equal(after.get(key), route, `${key} changed`);
  });
});

describe('ingest problems', () => {
  const envelope = (op: EventEnvelope['op'], extra: Partial<EventEnvelope> = {}): EventEnvelope => ({
    v: ENVELOPE_VERSION,
    cluster: 'local',
    kind: 'Mapping',
    namespace: 'default',
    name: 'echo',
    op,
    resourceVersion: op,
    generation: 0,
    observedAt: '2026-01-01T00:00:00Z',
    ingestor: 'fs/local/test',
    origin: { file: 'echo.yaml', document: 0 },
    ...extra,
  });

  test('ingest problems — a rejected version keeps the last good one serving and says why', () => {
    const world = new WorldState();
    world.apply(1, envelope('upsert', { object: GOOD[0]!.object }));
    const served = compile(world.records(), { group: 'default' });
    world.apply(2, envelope('reject', { reason: 'event is 9000000 bytes, over the NATS max_payload' }));
    const result = compile(world.records(), { group: 'default' });
    assertGoodUnchanged(served, result);
    const errors = diagnosticsOf(result, 'echo').filter((d) => d.severity === 'error');
    assert.equal(errors.length, 1);
    assert.match(
      errors[0]!.message,
      /latest version could not be ingested: event is 9000000 bytes.*previous version keeps serving/,
    );
    assert.equal(errors[0]!.source.file, 'echo.yaml');

    world.apply(3, envelope('delete'));
    assert.equal(world.size, 0, 'a delete clears the rejection with the object');
  });

  test('ingest problems — a rejected object never ingested is reported, not served', () => {
    const world = new WorldState();
    world.apply(1, envelope('reject', { reason: 'too large' }));
    const result = compile(world.records(), { group: 'default' });
    assert.deepEqual(
      result.diagnostics.map((d) => [d.source.kind, d.source.name, d.message]),
      [['Mapping', 'echo', 'its latest version could not be ingested: too large; it is not served']],
    );
  });

  test('ingest problems — IngestError objects become diagnostics naming file, document and object', () => {
    const record: SourceRecord = {
      cluster: 'local',
      object: {
        apiVersion: INGEST_ERROR_API_VERSION,
        kind: INGEST_ERROR_KIND,
        metadata: { name: 'b.yaml#1' },
        spec: {
          file: 'b.yaml',
          document: 1,
          line: 7,
          kind: 'Mapping',
          name: 'echo',
          message: 'duplicate Mapping default/echo',
        },
      },
    };
    const result = compile([...GOOD, record], { group: 'default' });
    assertGoodUnchanged(baseline(), result);
    const d = result.diagnostics.find((x) => x.source.file === 'b.yaml');
    assert.deepEqual(d?.source, {
      cluster: 'local',
      kind: 'Mapping',
      namespace: 'default',
      name: 'echo',
      file: 'b.yaml',
      document: 1,
    });
    assert.equal(d?.message, 'cannot be ingested (line 7): duplicate Mapping default/echo');
  });

  test('ingest problems — an object built in memory that refers to itself is skipped, and the diagnostic spells the way to the cycle', () => {
    const inObject = mapping('loop-a', { prefix: '/a/', service: 'a:80' });
    const labels: Record<string, unknown> = { team: 'x' };
    labels.self = { again: labels };
    (inObject.object.spec as Record<string, unknown>).labels = labels;
    const inArray = mapping('loop-b', { prefix: '/b/', service: 'b:80' });
    const list: unknown[] = ['websocket'];
    list.push({ up: [0, list] });
    (inArray.object.spec as Record<string, unknown>).allow_upgrade = list;
    for (const [record, path] of [
      [inObject, 'spec.labels.self.again'],
      [inArray, 'spec.allow_upgrade[1].up[1]'],
    ] as const) {
      const result = compile([...GOOD, record], { group: 'default' });
      assertGoodUnchanged(baseline(), result);
      const d = result.diagnostics.find((x) => x.source.name === record.object.metadata.name);
      assert.equal(d?.message, `object could not be read and is ignored: it refers to itself at ${path}`);
    }
  });
});

function baseline(): CompileResult {
  return compile(GOOD, { group: 'default' });
}
