/**
 * Incremental equals full: random change sequences (creates, updates, deletes, weight moves of
 * `-canary` Mappings, Host, Listener and Module changes, endpoint changes across source clusters,
 * rejected versions, golden-case objects) are applied to a world held like the runner's (an
 * unchanged object keeps its record, a changed one gets a new record), and after every step the
 * incremental compiler's output must be byte-identical to a fresh full `compile()` of the same
 * records: resources (bytes and hashes), diagnostics, provenance and size rejections, or the same
 * system error. A failure names the seed, the step and the changes that led there.
 *
 * ATTACHE_INCREMENTAL_SEQUENCES sets the number of sequences (default 1,000);
 * ATTACHE_INCREMENTAL_SEED replays one sequence.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { SourceObject } from '../../shared/events/envelope.ts';
import { canonicalJson } from '../../shared/snapshot/manifest.ts';
import { chunkedResourceHash } from '../../shared/snapshot/resource-chunks.ts';
import { sha256Hex } from '../../shared/xds/encoding.ts';
import { compile } from './compile.ts';
import type { CompileOptions, CompileResult, SourceRecord } from './contracts.ts';
import { recompileEndpoints } from './endpoint-fast-path.ts';
import { listCases, loadCase, loadCaseOptions } from './golden-cases.ts';
import { IncrementalCompiler } from './incremental.ts';
import { CHUNKED_FROM } from './route-chunks.ts';
import { prng } from './test-prng.ts';

type Random = () => number;
const pick = <T>(r: Random, items: readonly T[]): T => items[Math.floor(r() * items.length)]!;
const chance = (r: Random, p: number): boolean => r() < p;

const SEQUENCES = Number(process.env.ATTACHE_INCREMENTAL_SEQUENCES ?? 1000);
const ONLY_SEED = process.env.ATTACHE_INCREMENTAL_SEED;
const BASE_SEED = 0x1ac0;
const CLUSTERS = ['east', 'west'];
const NAMESPACES = ['default', 'ns'];
const HOSTNAMES = ['a.example.com', 'b.example.com', '*.example.com', '*'];

function mapping(r: Random, name: string, namespace: string): SourceObject {
  const spec: Record<string, unknown> = {
    prefix: pick(r, ['/a/', '/b/', '/', '/a/b/']),
    service: pick(r, ['svc-1', 'svc-2.ns', 'svc-1:8080', 'svc-3', '127.0.0.1:9001', 'https://svc-2.ns']),
  };
  if (chance(r, 0.6)) spec.hostname = pick(r, HOSTNAMES);
  if (chance(r, 0.4)) spec.weight = pick(r, [0, 10, 30, 50, 70, 100]);
  if (chance(r, 0.3)) spec.timeout_ms = pick(r, [0, 1500, 3000]);
  if (chance(r, 0.2)) spec.rewrite = pick(r, ['', '/', '/v2/']);
  if (chance(r, 0.15)) spec.headers = pick(r, [{ 'x-a': '1' }, { 'x-b': true }]);
  if (chance(r, 0.3))
    spec.ambassador_id = pick(r, [['other'], ['other'], ['default', 'other'], 'default', 7]);
  if (chance(r, 0.1))
    spec.load_balancer = pick(r, [{ policy: 'round_robin' }, { policy: 'ring_hash', header: 'x' }]);
  if (chance(r, 0.1)) spec.host_rewrite = 'up.example.com';
  if (chance(r, 0.05)) spec.host_redirect = true;
  if (chance(r, 0.05)) spec.shadow = true;
  if (chance(r, 0.05)) spec.prefix = 7; // invalid: a diagnostic
  const object: SourceObject = {
    apiVersion: pick(r, ['getambassador.io/v3alpha1', 'getambassador.io/v3alpha1', 'getambassador.io/v2']),
    kind: 'Mapping',
    metadata: { name, namespace },
    spec,
  };
  if (chance(r, 0.3)) object.metadata.labels = { team: pick(r, ['x', 'y']) };
  return object;
}

function host(r: Random, name: string): SourceObject {
  const spec: Record<string, unknown> = {
    hostname: pick(r, HOSTNAMES),
    requestPolicy: { insecure: { action: pick(r, ['Route', 'Redirect', 'Reject']) } },
  };
  if (chance(r, 0.3)) spec.mappingSelector = { matchLabels: { team: pick(r, ['x', 'y']) } };
  if (chance(r, 0.1)) spec.ambassador_id = ['other'];
  return {
    apiVersion: 'getambassador.io/v3alpha1',
    kind: 'Host',
    metadata: { name, namespace: 'default' },
    spec,
  };
}

function moduleObject(r: Random): SourceObject {
  const config: Record<string, unknown> = {};
  if (chance(r, 0.5)) config.cluster_request_timeout_ms = pick(r, [1000, 5000]);
  if (chance(r, 0.3)) config.use_remote_address = pick(r, [true, false]);
  if (chance(r, 0.3)) config.hostless_mappings = pick(r, ['every_host', 'selector_only']);
  if (chance(r, 0.2)) config.regex_max_size = pick(r, [10, 200]);
  if (chance(r, 0.2)) config.resolver = pick(r, ['endpoint', 'missing-resolver']);
  if (chance(r, 0.2)) config.load_balancer = { policy: 'least_request' };
  return {
    apiVersion: 'getambassador.io/v3alpha1',
    kind: 'Module',
    metadata: { name: chance(r, 0.9) ? 'ambassador' : 'tls', namespace: 'default' },
    spec: chance(r, 0.2) ? { config, ambassador_id: ['other'] } : { config },
  };
}

function listener(r: Random, port: number): SourceObject {
  return {
    apiVersion: 'getambassador.io/v3alpha1',
    kind: 'Listener',
    metadata: { name: `listener-${port}`, namespace: 'default' },
    spec: {
      port,
      protocol: port === 8443 ? 'HTTPS' : 'HTTP',
      securityModel: pick(r, ['XFP', 'SECURE', 'INSECURE']),
      hostBinding: { namespace: { from: 'ALL' } },
    },
  };
}

function service(name: string, namespace: string): SourceObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace },
    spec: { ports: [{ name: 'http', port: 8080, targetPort: 8080 }] },
  } as SourceObject;
}

function endpointSlice(r: Random, service: string, namespace: string, slice: string): SourceObject {
  const count = Math.floor(r() * 4);
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: `${service}-${slice}`, namespace, labels: { 'kubernetes.io/service-name': service } },
    addressType: 'IPv4',
    ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
    endpoints: Array.from({ length: count }, (_, i) => ({
      addresses: [`10.${Math.floor(r() * 4)}.0.${i + 1}`],
      conditions: { ready: chance(r, 0.9) },
      ...(chance(r, 0.3) ? { zone: pick(r, ['z1', 'z2']) } : {}),
    })),
  } as SourceObject;
}

const keyOf = (cluster: string, o: SourceObject): string =>
  `${cluster}/${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;

/** World state as the runner holds it: a changed object gets a new record, the rest keep theirs. */
class World {
  readonly records = new Map<string, SourceRecord>();
  put(cluster: string, object: SourceObject, origin?: SourceRecord['origin']): void {
    this.records.set(keyOf(cluster, object), { cluster, object, ...(origin ? { origin } : {}) });
  }
  sorted(): SourceRecord[] {
    return [...this.records.keys()].sort().map((k) => this.records.get(k)!);
  }
}

/** One random change; returns what it did, for the failure message. */
function change(r: Random, world: World): string {
  const cluster = pick(r, CLUSTERS);
  const k = r();
  if (k < 0.3 && chance(r, 0.4)) {
    // A route setting of an existing Mapping (what the Mapping fast path patches in place): same
    // record identity and origin, so its group and cluster usually stay.
    const keys = [...world.records.keys()].filter((key) => world.records.get(key)?.object.kind === 'Mapping');
    if (keys.length > 0) {
      const key = pick(r, keys);
      const record = world.records.get(key)!;
      const spec = { ...(record.object.spec as Record<string, unknown>) };
      const setting = pick(r, ['timeout_ms', 'rewrite', 'add_request_headers', 'weight', 'retry_policy']);
      if (setting === 'timeout_ms') spec.timeout_ms = pick(r, [500, 1500, 3000]);
      else if (setting === 'rewrite') spec.rewrite = pick(r, ['/', '/v2/', '']);
      else if (setting === 'add_request_headers') spec.add_request_headers = { 'x-step': String(r()) };
      else if (setting === 'weight') spec.weight = pick(r, [0, 10, 50, 100]);
      else spec.retry_policy = { retry_on: '5xx', num_retries: pick(r, [1, 3]) };
      world.records.set(key, { ...record, object: { ...record.object, spec } });
      return `${setting} of ${key}`;
    }
  }
  if (k < 0.3) {
    const base = pick(r, ['a', 'b', 'c', 'd']);
    const name = chance(r, 0.3) ? `${base}-canary` : base;
    const o = mapping(r, name, pick(r, NAMESPACES));
    world.put(cluster, o);
    return `upsert ${keyOf(cluster, o)}`;
  }
  if (k < 0.4) {
    // Weight move between a Mapping and its -canary: both get the same prefix and service.
    const base = pick(r, ['a', 'b']);
    const w = pick(r, [0, 10, 50, 90, 100]);
    const spec = { prefix: '/w/', service: 'svc-1', hostname: '*' };
    world.put(cluster, {
      ...mapping(r, base, 'default'),
      spec: { ...spec, weight: 100 - w },
    } as SourceObject);
    world.put(cluster, {
      ...mapping(r, `${base}-canary`, 'default'),
      spec: { ...spec, service: 'svc-2.ns', weight: w },
    } as SourceObject);
    return `weights ${base} ${100 - w}/${w} in ${cluster}`;
  }
  if (k < 0.55) {
    const keys = [...world.records.keys()];
    if (keys.length === 0) return 'delete (nothing)';
    const key = pick(r, keys);
    world.records.delete(key);
    return `delete ${key}`;
  }
  if (k < 0.72) {
    const svc = pick(r, [
      ['svc-1', 'default'],
      ['svc-2', 'ns'],
      ['svc-3', 'default'],
    ] as const);
    if (chance(r, 0.2)) {
      world.put(cluster, service(svc[0], svc[1]));
      return `service ${cluster}/${svc[1]}/${svc[0]}`;
    }
    const o = endpointSlice(r, svc[0], svc[1], pick(r, ['x1', 'x2']));
    world.put(cluster, o);
    return `endpoints ${keyOf(cluster, o)}`;
  }
  if (k < 0.8) {
    const o = host(r, pick(r, ['h1', 'h2']));
    world.put(cluster, o);
    return `host ${keyOf(cluster, o)}`;
  }
  if (k < 0.86) {
    const o = moduleObject(r);
    world.put(cluster, o);
    return `module ${keyOf(cluster, o)}`;
  }
  if (k < 0.9) {
    const o = listener(r, pick(r, [8080, 8443]));
    world.put(cluster, o);
    return `listener ${keyOf(cluster, o)}`;
  }
  const keys = [...world.records.keys()];
  if (keys.length === 0) return 'noop';
  const key = pick(r, keys);
  const record = world.records.get(key)!;
  if (k < 0.95) {
    // A later version could not be ingested: the record keeps its object and carries the reason.
    world.records.set(key, { ...record, rejected: 'refused by the test' });
    return `reject ${key}`;
  }
  // The same content as a new record object (a relist): a cache miss that must change nothing.
  world.records.set(key, { ...record, object: structuredClone(record.object) });
  return `relist ${key}`;
}

function fingerprint(result: CompileResult): unknown {
  return {
    resources: result.resources.map((r) => [
      r.typeUrl,
      r.name,
      r.hash,
      Buffer.from(r.bytes).toString('base64'),
      r.onDemand ?? false,
      r.chunks?.map((c) => `${c.start}-${c.end}:${c.hash}`) ?? null,
    ]),
    diagnostics: canonicalJson(result.diagnostics),
    provenance: canonicalJson(result.provenance),
    sizeRejected: result.sizeRejected ?? false,
  };
}

function outcome(run: () => CompileResult): { ok: unknown } | { error: string } {
  try {
    return { ok: fingerprint(run()) };
  } catch (err) {
    return { error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) };
  }
}

const OPTIONS: readonly Omit<CompileOptions, 'group'>[] = [
  {},
  { localClusters: ['east'] },
  { localClusters: ['east'], remoteEndpoints: 'local-only' },
  { localClusters: ['west'], remoteEndpoints: 'merge' },
];

/** Golden cases' records and options, loaded once (YAML parsing would dominate the test). */
const loaded = new Map<string, { records: SourceRecord[]; options: Omit<CompileOptions, 'group'> }>();
function goldenCase(name: string): { records: SourceRecord[]; options: Omit<CompileOptions, 'group'> } {
  let c = loaded.get(name);
  if (!c) {
    c = { records: loadCase(name), options: loadCaseOptions(name) };
    loaded.set(name, c);
  }
  return c;
}

function runSequence(
  seed: number,
  cases: readonly string[],
): { steps: number; skipped: number; fast: number } {
  const r = prng(seed);
  const world = new World();
  let opts: CompileOptions = { group: chance(r, 0.9) ? 'default' : 'other', ...pick(r, OPTIONS) };
  // Some sequences (15 %) start from a golden case's objects (every kind the compiler reads).
  if (cases.length > 0 && chance(r, 0.15)) {
    const golden = goldenCase(pick(r, cases));
    for (const record of golden.records) world.put(record.cluster, record.object, record.origin);
    opts = { group: 'default', ...golden.options };
  }
  for (let i = Math.floor(r() * 4); i > 0; i--) change(r, world);
  // Two groups from the same world, as the runner compiles them: changes to one group's objects
  // must leave the other's output exactly as a full compile gives it (usually by skipping it).
  const groups = [opts, { ...opts, group: opts.group === 'other' ? 'default' : 'other' }];
  const compilers = groups.map((o) => new IncrementalCompiler(o.group));
  const log: string[] = [];
  const steps = 3;
  for (let step = 0; step <= steps; step++) {
    if (step > 0)
      for (let n = 1 + Math.floor(r() * 2); n > 0; n--) log.push(`step ${step}: ${change(r, world)}`);
    const records = world.sorted();
    groups.forEach((o, g) => {
      const got = outcome(() => compilers[g]!.compile(records, o));
      const want = outcome(() => compile(records, o));
      assert.deepEqual(
        got,
        want,
        `seed ${seed} (ATTACHE_INCREMENTAL_SEED=${seed}), step ${step}, group ${o.group}: incremental differs from full\n${log.join('\n')}`,
      );
    });
  }
  return {
    steps,
    skipped: compilers.reduce((n, c) => n + c.skipped, 0),
    fast: compilers.reduce((n, c) => n + c.fastPath, 0),
  };
}

describe('incremental compile', () => {
  test(`equals a full compile after every step of ${ONLY_SEED ? 1 : SEQUENCES} random change sequences`, () => {
    const cases = listCases();
    const seeds = ONLY_SEED
      ? [Number(ONLY_SEED)]
      : Array.from({ length: SEQUENCES }, (_, i) => BASE_SEED + i);
    let compared = 0;
    let skipped = 0;
    let fast = 0;
    for (const seed of seeds) {
      const run = runSequence(seed, cases);
      compared += run.steps + 1;
      skipped += run.skipped;
      fast += run.fast;
    }
    assert.ok(compared >= seeds.length * 4, `only ${compared} steps compared`);
    // The group skip is exercised, not only the caches (a single replayed seed may not reach it).
    if (!ONLY_SEED) assert.ok(skipped > 0, 'no compile was skipped as outside its group');
    // …and so is the Mapping fast path (mapping-fast-path.ts), against the full compile.
    if (!ONLY_SEED) assert.ok(fast >= 50, `only ${fast} compiles took the Mapping fast path`);
    if (process.env.ATTACHE_INCREMENTAL_STATS) console.log(`fast path: ${fast} of ${compared * 2} compiles`);
  });

  test('reuses the encodings of unchanged routes when one Mapping changes', () => {
    const world = new World();
    for (let i = 0; i < 50; i++) {
      world.put('east', {
        apiVersion: 'getambassador.io/v3alpha1',
        kind: 'Mapping',
        metadata: { name: `m-${i}`, namespace: 'default' },
        spec: { prefix: `/m-${i}/`, service: 'svc-1', hostname: '*' },
      });
    }
    const incremental = new IncrementalCompiler('default');
    incremental.compile(world.sorted(), { group: 'default' });
    const before = incremental.encodeStats;
    world.put('east', {
      apiVersion: 'getambassador.io/v3alpha1',
      kind: 'Mapping',
      metadata: { name: 'm-7', namespace: 'default' },
      spec: { prefix: '/m-7/', service: 'svc-1', hostname: '*', timeout_ms: 1234 },
    });
    const records = world.sorted();
    const got = incremental.compile(records, { group: 'default' });
    const after = incremental.encodeStats;
    // One route changed: it is encoded and spliced into the route configuration's bytes; the
    // other 49 routes and every cluster, listener and endpoint resource are not encoded again.
    assert.equal(incremental.fastPath, 1);
    assert.ok(after.encoded - before.encoded <= 1, `encoded ${after.encoded - before.encoded} messages`);
    assert.ok(
      after.encoded - before.encoded + after.reused - before.reused <= 2,
      'the other routes were walked',
    );
    assert.deepEqual(fingerprint(got), fingerprint(compile(records, { group: 'default' })));
  });
});

test("a change to another group's Mapping skips this group, and its own Mapping does not", () => {
  const world = new World();
  const m = (name: string, ids: string[], timeout: number): SourceObject => ({
    apiVersion: 'getambassador.io/v3alpha1',
    kind: 'Mapping',
    metadata: { name, namespace: 'default' },
    spec: { prefix: `/${name}/`, service: 'svc-1', ambassador_id: ids, timeout_ms: timeout },
  });
  world.put('east', m('blue-app', ['blue'], 1000));
  world.put('east', m('green-app', ['green'], 1000));
  const blue = new IncrementalCompiler('blue');
  const green = new IncrementalCompiler('green');
  blue.compile(world.sorted(), { group: 'blue' });
  green.compile(world.sorted(), { group: 'green' });
  world.put('east', m('green-app', ['green'], 2000));
  const records = world.sorted();
  const b = blue.compile(records, { group: 'blue' });
  const g = green.compile(records, { group: 'green' });
  assert.equal(blue.skipped, 1);
  assert.equal(green.skipped, 0);
  assert.deepEqual(fingerprint(b), fingerprint(compile(records, { group: 'blue' })));
  assert.deepEqual(fingerprint(g), fingerprint(compile(records, { group: 'green' })));
});

test('incremental compile — after the endpoint fast path, a Mapping change is still patched and equals a full compile', () => {
  const opts = { group: 'default' };
  const world = new World();
  world.put('east', service('svc-1', 'default'));
  const slice = (ip: string): SourceObject =>
    ({
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: 'svc-1-x1', namespace: 'default', labels: { 'kubernetes.io/service-name': 'svc-1' } },
      addressType: 'IPv4',
      ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
      endpoints: [{ addresses: [ip], conditions: { ready: true } }],
    }) as SourceObject;
  world.put('east', slice('10.0.0.1'));
  const timed = (i: number, timeout?: number): SourceObject => ({
    apiVersion: 'getambassador.io/v3alpha1',
    kind: 'Mapping',
    metadata: { name: `m-${i}`, namespace: 'default' },
    spec: {
      prefix: `/m-${i}/`,
      service: 'svc-1',
      hostname: '*',
      ...(timeout ? { timeout_ms: timeout } : {}),
    },
  });
  for (let i = 0; i < 20; i++) world.put('east', timed(i));
  const incremental = new IncrementalCompiler('default');
  const first = incremental.compile(world.sorted(), opts);

  world.put('east', slice('10.0.0.2'));
  const records = world.sorted();
  const endpoints = recompileEndpoints(
    first,
    {
      services: new Set(['default/svc-1']),
      objects: [{ cluster: 'east', kind: 'EndpointSlice', namespace: 'default', name: 'svc-1-x1' }],
    },
    () => records.filter((r) => r.object.kind === 'Service' || r.object.kind === 'EndpointSlice'),
    opts,
  );
  assert.ok(endpoints, 'the endpoint fast path declined');
  assert.deepEqual(fingerprint(endpoints), fingerprint(compile(records, opts)));
  incremental.adopt(records, opts, endpoints);

  world.put('east', timed(7, 1234));
  const after = world.sorted();
  const got = incremental.compile(after, opts);
  assert.equal(incremental.fastPath, 1, 'the Mapping change was compiled in full');
  assert.deepEqual(fingerprint(got), fingerprint(compile(after, opts)));
});

test('incremental compile — large route configurations are stored in chunks, and a Mapping change re-hashes only the chunks around its route, equal to a full compile', () => {
  const opts = { group: 'default' };
  const world = new World();
  const r = prng(0xc4c);
  // Long prefixes and hostnames make route configurations of a few hundred KiB.
  const big = (i: number, extra: Record<string, unknown> = {}): SourceObject => ({
    apiVersion: 'getambassador.io/v3alpha1',
    kind: 'Mapping',
    metadata: { name: `m-${i}`, namespace: 'default' },
    spec: {
      prefix: `/m-${i}/${'segment/'.repeat(20)}`,
      service: pick(r, ['svc-1', 'svc-2.ns']),
      hostname: i % 3 === 0 ? 'a.example.com' : '*',
      ...extra,
    },
  });
  for (let i = 0; i < 600; i++) world.put('east', big(i));
  const incremental = new IncrementalCompiler('default');
  let previous = incremental.compile(world.sorted(), opts);
  const chunked = previous.resources.filter((x) => x.chunks);
  assert.ok(chunked.length > 0, 'no route configuration was stored in chunks');
  for (const x of chunked) {
    assert.ok(x.bytes.length >= CHUNKED_FROM);
    const chunks = x.chunks ?? [];
    assert.equal(chunks[0]?.start, 0);
    assert.equal(chunks.at(-1)?.end, x.bytes.length);
    for (let i = 1; i < chunks.length; i++) assert.equal(chunks[i]?.start, chunks[i - 1]?.end);
    assert.equal(
      x.hash,
      chunkedResourceHash(
        x.typeUrl,
        chunks.map((c) => c.hash),
      ),
    );
    for (const c of chunks) assert.equal(c.hash, sha256Hex(x.bytes.subarray(c.start, c.end)));
  }
  for (let step = 0; step < 40; step++) {
    const i = Math.floor(r() * 600);
    world.put('east', big(i, pick(r, [{ timeout_ms: 1000 + step }, { rewrite: `/v${step}/` }, {}])));
    const records = world.sorted();
    const got = incremental.compile(records, opts);
    assert.deepEqual(fingerprint(got), fingerprint(compile(records, opts)), `step ${step}`);
    // Locality: a route changed in place changes the chunk it is in and its virtual host's first.
    for (const x of got.resources) {
      if (!x.chunks) continue;
      const before = previous.resources.find((p) => p.name === x.name && p.typeUrl === x.typeUrl);
      const had = new Set(before?.chunks?.map((c) => c.hash));
      const fresh = x.chunks.filter((c) => !had.has(c.hash));
      assert.ok(fresh.length <= 8, `step ${step}: ${fresh.length} of ${x.chunks.length} chunks changed`);
    }
    previous = got;
  }
  assert.ok(incremental.fastPath >= 20, `only ${incremental.fastPath} compiles took the Mapping fast path`);
});
