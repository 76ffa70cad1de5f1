/**
 * The endpoint fast path gives exactly what a full compile of the same state gives: random
 * sequences of EndpointSlice / Endpoints updates over a multi-cluster world (Services with named
 * and numbered ports, HTTP Mappings, a TCPMapping and an AuthService resolving through EDS, a
 * local-cluster policy), comparing resources (bytes), diagnostics and provenance after every
 * step. Updates that would change a diagnostic (an address that is not an IP) must make the fast
 * path decline rather than answer differently.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { EventEnvelope, SourceObject } from '../../shared/events/envelope.ts';
import { compile } from './compile.ts';
import type { CompileOptions, CompileResult } from './contracts.ts';
import {
  type EndpointChanges,
  endpointServiceId,
  isFastPathUpdate,
  type ObjectIdentity,
  recompileEndpoints,
} from './endpoint-fast-path.ts';
import { WorldState } from './runner-world.ts';
import { prng } from './test-prng.ts';

type Random = () => number;
const CLUSTERS = ['east', 'west'];
const SERVICES = 6;

function event(cluster: string, object: SourceObject): EventEnvelope {
  return {
    v: 1,
    cluster,
    kind: object.kind,
    namespace: object.metadata.namespace ?? '',
    name: object.metadata.name,
    op: 'upsert',
    resourceVersion: '1',
    generation: 0,
    observedAt: '',
    ingestor: 'test',
    object,
  };
}

function service(s: number): SourceObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: `svc-${s}`, namespace: 'ns' },
    spec: {
      ports: [
        { name: 'http', port: 80, targetPort: 8080, protocol: 'TCP' },
        { name: 'grpc', port: 9000, protocol: 'TCP' },
      ],
    },
  };
}

function addresses(r: Random, badOk: boolean): { addresses: string[]; conditions?: object; zone?: string }[] {
  const n = Math.floor(r() * 4);
  return Array.from({ length: n }, () => ({
    addresses: [badOk && r() < 0.1 ? 'not-an-ip' : `10.0.${Math.floor(r() * 3)}.${Math.floor(r() * 6)}`],
    ...(r() < 0.2 ? { conditions: { ready: false } } : {}),
    ...(r() < 0.5 ? { zone: r() < 0.5 ? 'z1' : 'z2' } : {}),
  }));
}

function slice(s: number, idx: number, r: Random, badOk: boolean): SourceObject {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name: `svc-${s}-${idx}`,
      namespace: 'ns',
      labels: { 'kubernetes.io/service-name': `svc-${s}` },
    },
    addressType: 'IPv4',
    ports: [
      { name: 'http', port: 8080, protocol: 'TCP' },
      ...(r() < 0.5 ? [{ name: 'grpc', port: 9000 + Math.floor(r() * 2), protocol: 'TCP' }] : []),
    ],
    endpoints: addresses(r, badOk),
  };
}

function endpoints(s: number, r: Random, badOk: boolean): SourceObject {
  return {
    apiVersion: 'v1',
    kind: 'Endpoints',
    metadata: { name: `svc-${s}`, namespace: 'ns' },
    subsets: [
      {
        addresses: addresses(r, badOk).map((a) => ({ ip: a.addresses[0] })),
        ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
      },
    ],
  };
}

function configObjects(): SourceObject[] {
  const mappings = Array.from({ length: SERVICES }, (_, s) => ({
    apiVersion: 'getambassador.io/v3alpha1',
    kind: 'Mapping',
    metadata: { name: `m-${s}`, namespace: 'ns' },
    spec: { hostname: '*', prefix: `/s${s}/`, service: s % 2 ? `svc-${s}:9000` : `svc-${s}` },
  }));
  return [
    ...mappings,
    {
      apiVersion: 'getambassador.io/v3alpha1',
      kind: 'Listener',
      metadata: { name: 'l', namespace: 'ns' },
      spec: {
        port: 8080,
        protocol: 'HTTP',
        securityModel: 'XFP',
        hostBinding: { namespace: { from: 'ALL' } },
      },
    },
    {
      apiVersion: 'getambassador.io/v3alpha1',
      kind: 'TCPMapping',
      metadata: { name: 'tcp', namespace: 'ns' },
      spec: { port: 6000, service: 'svc-1:9000' },
    },
    {
      apiVersion: 'getambassador.io/v3alpha1',
      kind: 'AuthService',
      metadata: { name: 'auth', namespace: 'ns' },
      spec: { auth_service: 'svc-2:80', proto: 'grpc' },
    },
  ];
}

/** Compares two results byte for byte (resources), and deeply (diagnostics, provenance). */
function assertSame(fast: CompileResult, full: CompileResult, where: string): void {
  assert.deepEqual(
    fast.resources.map((r) => [r.typeUrl, r.name, r.hash]),
    full.resources.map((r) => [r.typeUrl, r.name, r.hash]),
    `${where}: resources`,
  );
  assert.deepEqual(fast.diagnostics, full.diagnostics, `${where}: diagnostics`);
  assert.deepEqual(fast.provenance, full.provenance, `${where}: provenance`);
}

describe('endpoint fast path', () => {
  const sequences = Number(process.env.ATTACHE_FAST_PATH_SEQUENCES ?? 12);
  test(`endpoint fast path — equals a full compile over ${sequences} random update sequences`, () => {
    let taken = 0;
    let declined = 0;
    for (let seed = 1; seed <= sequences; seed++) {
      const r = prng(seed);
      const world = new WorldState();
      let seq = 0;
      const put = (cluster: string, o: SourceObject) => world.apply(++seq, event(cluster, o));
      for (const o of configObjects()) put('east', o);
      const endpointObjects: [string, (bad: boolean) => SourceObject][] = [];
      for (let s = 0; s < SERVICES; s++) {
        for (const c of CLUSTERS) {
          // svc-5 exists nowhere as a Service in west; svc-4 uses Endpoints objects in east.
          if (!(s === 5 && c === 'west')) put(c, service(s));
          if (s === 4 && c === 'east') endpointObjects.push([c, (bad) => endpoints(s, r, bad)]);
          else for (let i = 0; i < 1 + (s % 2); i++) endpointObjects.push([c, (bad) => slice(s, i, r, bad)]);
        }
      }
      for (const [c, make] of endpointObjects) put(c, make(false));
      const opts: CompileOptions = {
        group: 'default',
        ...(seed % 3 === 0 ? { localClusters: ['east'] } : {}),
        ...(seed % 3 === 1 ? { remoteEndpoints: 'merge' as const } : {}),
      };
      let base = compile(world.records(), opts);
      for (let step = 0; step < 8; step++) {
        const changes: EndpointChanges & { services: Set<string>; objects: ObjectIdentity[] } = {
          services: new Set(),
          objects: [],
        };
        for (let k = 0; k < 1 + Math.floor(r() * 3); k++) {
          const [c, make] = endpointObjects[Math.floor(r() * endpointObjects.length)]!;
          const o = make(true);
          const key = `${c}/${o.kind}/ns/${o.metadata.name}`;
          const before = world.get(key);
          put(c, o);
          assert.ok(isFastPathUpdate(before, world.get(key)), 'an update of an existing endpoint object');
          changes.services.add(endpointServiceId(o.kind, 'ns', o.metadata.name, o)!);
          changes.objects.push({ cluster: c, kind: o.kind, namespace: 'ns', name: o.metadata.name });
        }
        const full = compile(world.records(), opts);
        const fast = recompileEndpoints(base, changes, (id) => world.serviceObjects(id), opts);
        if (fast) {
          taken++;
          assertSame(fast, full, `seed ${seed} step ${step}`);
        } else declined++;
        base = full;
      }
    }
    console.log(`# fast path taken ${taken}, declined ${declined}`);
    // The fast path must actually be exercised (most updates are clean), and must decline some.
    assert.ok(taken > declined, `fast path taken ${taken}, declined ${declined}`);
    assert.ok(declined > 0, 'updates with bad addresses must decline');
  });

  test('endpoint fast path — creates, deletes and relabels are not fast-path updates', () => {
    const r = prng(7);
    const a = { cluster: 'east', object: slice(1, 0, r, false) };
    const moved = slice(1, 0, r, false);
    moved.metadata.labels = { 'kubernetes.io/service-name': 'svc-2' };
    assert.equal(isFastPathUpdate(undefined, a), false);
    assert.equal(isFastPathUpdate(a, undefined), false);
    assert.equal(isFastPathUpdate(a, { cluster: 'east', object: moved }), false);
    assert.equal(isFastPathUpdate(a, { ...a, origin: { file: 'x.yaml', document: 0 } }), false);
    assert.equal(isFastPathUpdate(a, { cluster: 'east', object: slice(1, 0, r, false) }), true);
    assert.equal(
      isFastPathUpdate({ cluster: 'east', object: service(1) }, { cluster: 'east', object: service(1) }),
      false,
    );
  });

  test('endpoint fast path — taken when a route configuration is past the per-route size (not a limit)', () => {
    // At scale the route configuration is always over ROUTE_LIMIT (256 KiB) while nothing is
    // near a real limit; the fast path used to decline then, i.e. always in production sizes.
    const r = prng(11);
    const world = new WorldState();
    let seq = 0;
    const put = (o: SourceObject) => world.apply(++seq, event('east', o));
    for (const o of configObjects()) put(o);
    const long = 'x'.repeat(500);
    for (let i = 0; i < 700; i++)
      put({
        apiVersion: 'getambassador.io/v3alpha1',
        kind: 'Mapping',
        metadata: { name: `big-${i}`, namespace: 'ns' },
        spec: { hostname: '*', prefix: `/big-${i}/${long}/`, service: `svc-${i % SERVICES}` },
      });
    for (let s = 0; s < SERVICES; s++) {
      put(service(s));
      put(slice(s, 0, r, false));
    }
    const opts: CompileOptions = { group: 'default' };
    const base = compile(world.records(), opts);
    assert.ok(
      base.resources.some((x) => x.bytes.length > 256 * 1024),
      'the input makes a route configuration past 256 KiB',
    );
    const o = slice(3, 0, r, false);
    o.endpoints = [{ addresses: ['10.9.9.9'] }];
    put(o);
    const fast = recompileEndpoints(
      base,
      {
        services: new Set(['ns/svc-3']),
        objects: [{ cluster: 'east', kind: o.kind, namespace: 'ns', name: o.metadata.name }],
      },
      (id) => world.serviceObjects(id),
      opts,
    );
    assert.ok(fast, 'the fast path is taken');
    assert.notEqual(fast, base, 'and changes the output');
    assertSame(fast, compile(world.records(), opts), 'large output');
  });
});
