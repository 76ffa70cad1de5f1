/**
 * The hand-written request decoders give exactly what protobufjs's generic decoder gives, for
 * random requests with every field (node with metadata, NACK details, locators, maps with
 * repeated keys) and with unknown fields on the wire.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import protobuf from 'protobufjs';
import { messageType } from '../../../proto/root.ts';
import { CLUSTER_TYPE, ENDPOINT_TYPE } from '../../../shared/xds/type-urls.ts';
import { prng } from '../../compiler/test-prng.ts';
import { DeclarationInterner } from './delta-diff.ts';
import {
  decodeDeltaDiscoveryRequest,
  decodeDeltaRequestInterning,
  decodeDiscoveryRequest,
  encodeDeltaDiscoveryRequest,
  encodeDiscoveryRequest,
} from './discovery-codec.ts';

const OPTIONS = { defaults: true, arrays: true, objects: true, longs: String, enums: String, oneofs: true };

function reference(typeName: string, bytes: Uint8Array): unknown {
  const type = messageType(typeName);
  return type.toObject(type.decode(bytes), OPTIONS);
}

function randomRequestParts(rnd: () => number) {
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rnd() * xs.length)] as T;
  const name = () => pick(['a', 'cluster-a', 'ünïcode/é', '', 'x'.repeat(300), '__proto__', 'constructor']);
  const names = () => Array.from({ length: Math.floor(rnd() * 4) }, name);
  const maybe = <T>(v: () => T) => (rnd() < 0.5 ? v() : undefined);
  return {
    node: maybe(() => ({
      id: name(),
      cluster: 'c',
      metadata: { fields: { ambassador_id: { stringValue: 'g' }, attache_vhds: { boolValue: rnd() < 0.5 } } },
      user_agent_name: 'envoy',
      client_features: names(),
    })),
    type_url: pick([CLUSTER_TYPE, ENDPOINT_TYPE, '', 'type.googleapis.com/other']),
    response_nonce: maybe(name),
    error_detail: maybe(() => ({ code: Math.floor(rnd() * 16), message: name() })),
    names: names(),
    names2: names(),
    locators: maybe(() => [{ name: name() }]),
    versions: maybe(() => Object.fromEntries(names().map((n) => [n, name()]))),
  };
}

/** Appends an unknown varint field (99) and an unknown length-delimited one (98). */
function withUnknown(bytes: Buffer): Buffer {
  const extra = protobuf.Writer.create()
    .uint32((99 << 3) | 0)
    .uint32(7)
    .uint32((98 << 3) | 2)
    .string('zz')
    .finish();
  return Buffer.concat([extra, bytes, extra]);
}

describe('fan-out discovery codec', () => {
  test('codec — the delta request decoder matches protobufjs on 500 random requests', () => {
    for (let seed = 1; seed <= 500; seed++) {
      const p = randomRequestParts(prng(seed));
      let bytes = encodeDeltaDiscoveryRequest({
        ...(p.node ? { node: p.node } : {}),
        type_url: p.type_url,
        resource_names_subscribe: p.names,
        resource_names_unsubscribe: p.names2,
        ...(p.versions ? { initial_resource_versions: p.versions } : {}),
        ...(p.response_nonce !== undefined ? { response_nonce: p.response_nonce } : {}),
        ...(p.error_detail ? { error_detail: p.error_detail } : {}),
        ...(p.locators
          ? { resource_locators_subscribe: p.locators, resource_locators_unsubscribe: p.locators }
          : {}),
      });
      if (seed % 3 === 0) bytes = withUnknown(bytes);
      const got = decodeDeltaDiscoveryRequest(bytes);
      const want = reference('envoy.service.discovery.v3.DeltaDiscoveryRequest', bytes) as typeof got;
      assert.equal(Object.getPrototypeOf(got.initial_resource_versions), null, `seed ${seed}`);
      assert.deepStrictEqual(
        { ...got, initial_resource_versions: { ...got.initial_resource_versions } },
        { ...want, initial_resource_versions: { ...want.initial_resource_versions } },
        `seed ${seed}`,
      );
    }
  });

  test('codec — a repeated map key keeps the last value, as protobuf does', () => {
    const entry = (k: string, v: string) =>
      protobuf.Writer.create()
        .uint32((1 << 3) | 2)
        .string(k)
        .uint32((2 << 3) | 2)
        .string(v)
        .finish();
    const w = protobuf.Writer.create();
    for (const e of [entry('a', '1'), entry('a', '2')]) w.uint32((5 << 3) | 2).bytes(e);
    const got = decodeDeltaDiscoveryRequest(w.finish());
    assert.equal(got.initial_resource_versions.a, '2');
  });

  test('codec — interning declared versions while decoding gives what the decoder gives', () => {
    const interner = new DeclarationInterner();
    const sorted = (entries: Iterable<readonly [string, unknown]>) =>
      [...entries].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    for (let seed = 1; seed <= 500; seed++) {
      const p = randomRequestParts(prng(seed));
      let bytes = encodeDeltaDiscoveryRequest({
        type_url: p.type_url,
        resource_names_subscribe: p.names,
        ...(p.versions ? { initial_resource_versions: p.versions } : {}),
        ...(p.response_nonce !== undefined ? { response_nonce: p.response_nonce } : {}),
      });
      if (seed % 3 === 0) bytes = withUnknown(bytes);
      const plain = decodeDeltaDiscoveryRequest(bytes);
      const { declaredEntries, ...got } = decodeDeltaRequestInterning(bytes, interner);
      assert.deepStrictEqual(
        { ...got, initial_resource_versions: {} },
        { ...plain, initial_resource_versions: {} },
        `seed ${seed}`,
      );
      assert.deepStrictEqual(
        sorted(declaredEntries.length > 0 ? interner.declaration(declaredEntries) : []),
        sorted(Object.entries(plain.initial_resource_versions)),
        `seed ${seed}`,
      );
      // Cut short: it throws exactly when the plain decoder throws.
      const part = bytes.subarray(0, Math.max(0, bytes.length - 3));
      const throws = (f: () => unknown) => {
        try {
          f();
          return false;
        } catch {
          return true;
        }
      };
      assert.equal(
        throws(() => decodeDeltaRequestInterning(new Uint8Array(part), interner)),
        throws(() => decodeDeltaDiscoveryRequest(new Uint8Array(part))),
        `seed ${seed} cut`,
      );
    }
  });

  test('codec — the same declared entries in any order share one map; a repeated name keeps the last', () => {
    const interner = new DeclarationInterner();
    const request = (versions: ReadonlyArray<[string, string]>) => {
      const w = protobuf.Writer.create();
      for (const [k, v] of versions) {
        const entry = protobuf.Writer.create()
          .uint32((1 << 3) | 2)
          .string(k)
          .uint32((2 << 3) | 2)
          .string(v)
          .finish();
        w.uint32((5 << 3) | 2).bytes(entry);
      }
      const req = decodeDeltaRequestInterning(Buffer.from(w.finish()), interner);
      return interner.declaration(req.declaredEntries);
    };
    const one = request([
      ['a', '1'],
      ['b', '2'],
      ['c', '3'],
    ]);
    const two = request([
      ['c', '3'],
      ['a', '1'],
      ['b', '2'],
    ]);
    assert.equal(one, two);
    assert.deepEqual(
      [...one],
      [
        ['a', '1'],
        ['b', '2'],
        ['c', '3'],
      ],
    );
    assert.notEqual(
      request([
        ['a', '1'],
        ['b', '2'],
      ]),
      one,
    );
    assert.notEqual(
      request([
        ['a', '1'],
        ['b', '2'],
        ['c', '4'],
      ]),
      one,
    );
    // A repeated name: the later entry wins, so the order matters and nothing is shared.
    assert.deepEqual(
      [
        ...request([
          ['a', '1'],
          ['a', '2'],
        ]),
      ],
      [['a', '2']],
    );
    assert.deepEqual(
      [
        ...request([
          ['a', '2'],
          ['a', '1'],
        ]),
      ],
      [['a', '1']],
    );
    // Entries too large to intern are still read.
    const big = 'x'.repeat(2000);
    assert.deepEqual([...request([[big, 'v']])], [[big, 'v']]);
  });

  test('codec — the declared-entry table stays within its bound and keeps answering right', () => {
    const interner = new DeclarationInterner(4096);
    for (let i = 0; i < 1000; i++) {
      const entry = protobuf.Writer.create()
        .uint32((1 << 3) | 2)
        .string(`cluster-${i}`)
        .uint32((2 << 3) | 2)
        .string(`v${i}`)
        .finish();
      const bytes = Buffer.from(
        protobuf.Writer.create()
          .uint32((5 << 3) | 2)
          .bytes(entry)
          .finish(),
      );
      const req = decodeDeltaRequestInterning(bytes, interner);
      assert.deepEqual([...interner.declaration(req.declaredEntries)], [[`cluster-${i}`, `v${i}`]]);
      assert.ok(interner.size <= 4096 / 96, `size ${interner.size}`);
    }
  });

  test('codec — the SotW request decoder matches protobufjs on 500 random requests', () => {
    for (let seed = 1; seed <= 500; seed++) {
      const p = randomRequestParts(prng(seed));
      let bytes = encodeDiscoveryRequest({
        ...(p.node ? { node: p.node } : {}),
        version_info: p.names[0] ?? '',
        type_url: p.type_url,
        resource_names: p.names,
        ...(p.response_nonce !== undefined ? { response_nonce: p.response_nonce } : {}),
        ...(p.error_detail ? { error_detail: p.error_detail } : {}),
        ...(p.locators ? { resource_locators: p.locators } : {}),
      });
      if (seed % 3 === 0) bytes = withUnknown(bytes);
      assert.deepStrictEqual(
        decodeDiscoveryRequest(bytes),
        reference('envoy.service.discovery.v3.DiscoveryRequest', bytes),
        `seed ${seed}`,
      );
    }
  });

  test('codec — a truncated request throws, or decodes to what protobufjs makes of it', () => {
    // protobufjs's reader over a plain Uint8Array checks every length (its Buffer reader clamps
    // string lengths, which made a cut-short string decode), so it is the reference here.
    const strict = (bytes: Uint8Array) => new Uint8Array(bytes);
    const outcome = (f: () => unknown) => {
      try {
        const v = f() as { initial_resource_versions?: object };
        return v.initial_resource_versions
          ? { ...v, initial_resource_versions: { ...v.initial_resource_versions } }
          : v;
      } catch {
        return 'throws';
      }
    };
    for (let seed = 1; seed <= 100; seed++) {
      const p = randomRequestParts(prng(seed));
      const bytes = encodeDeltaDiscoveryRequest({
        ...(p.node ? { node: p.node } : {}),
        type_url: p.type_url,
        resource_names_subscribe: p.names,
        ...(p.versions ? { initial_resource_versions: p.versions } : {}),
        ...(p.response_nonce !== undefined ? { response_nonce: p.response_nonce } : {}),
      });
      for (const cut of [1, 2, 3, 7, Math.floor(bytes.length / 2)]) {
        const part = bytes.subarray(0, Math.max(0, bytes.length - cut));
        assert.deepStrictEqual(
          outcome(() => decodeDeltaDiscoveryRequest(part)),
          outcome(() => reference('envoy.service.discovery.v3.DeltaDiscoveryRequest', strict(part))),
          `seed ${seed} cut ${cut}`,
        );
      }
    }
    // Cut inside the type_url string: an error, never a shorter type_url.
    const sotw = encodeDiscoveryRequest({ type_url: CLUSTER_TYPE, version_info: '1' });
    const at = Buffer.from(sotw).indexOf('type.googleapis');
    assert.ok(at > 0);
    assert.throws(() => decodeDiscoveryRequest(sotw.subarray(0, at + 3)), /overruns/);
    const delta = encodeDeltaDiscoveryRequest({ type_url: CLUSTER_TYPE });
    assert.throws(() => decodeDeltaDiscoveryRequest(delta.subarray(0, 5)), /overruns/);
  });
});
