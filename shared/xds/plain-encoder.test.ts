/**
 * The plain encoder's contract: for every message it encodes, the bytes are protobufjs's
 * (encoding.ts `encodeWithProtobufjs`); everything else it declines. Checked on every message the
 * golden cases encode (nested Anys included) and on random messages of the Envoy types built from
 * the descriptor, with the awkward values protobufjs converts (numbers as strings, enum names and
 * numbers, negative int32, 64-bit strings, empty strings and messages, integer-like map keys,
 * non-ASCII and lone surrogates).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import protobuf from 'protobufjs';
import { messageType } from '../../proto/root.ts';
import { compile } from '../../services/compiler/compile.ts';
import { listCases, loadCase, loadCaseOptions } from '../../services/compiler/golden-cases.ts';
import { prng } from '../../services/compiler/test-prng.ts';
import { encodeWithProtobufjs, onPlainEncode } from './encoding.ts';
import { encodePlain } from './plain-encoder.ts';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('plain encoder', () => {
  test('plain encoder — every message of the golden cases encodes as protobufjs encodes it', () => {
    let checked = 0;
    const mismatches: string[] = [];
    onPlainEncode((type, message, bytes) => {
      checked++;
      const expected = encodeWithProtobufjs(type, message);
      if (hex(expected) !== hex(bytes) && mismatches.length < 5)
        mismatches.push(`${type.fullName}: ${JSON.stringify(message).slice(0, 300)}`);
    });
    try {
      for (const name of listCases()) compile(loadCase(name), { group: 'default', ...loadCaseOptions(name) });
    } finally {
      onPlainEncode(undefined);
    }
    assert.deepEqual(mismatches, []);
    assert.ok(checked > 500, `only ${checked} messages went through the plain encoder`);
  });

  test('plain encoder — random Envoy messages encode as protobufjs does, or are declined', () => {
    const roots = [
      'envoy.config.route.v3.RouteConfiguration',
      'envoy.config.cluster.v3.Cluster',
      'envoy.config.listener.v3.Listener',
      'envoy.config.endpoint.v3.ClusterLoadAssignment',
      'envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
      'envoy.extensions.transport_sockets.tls.v3.Secret',
    ];
    const random = prng(10);
    let encoded = 0;
    let declined = 0;
    for (let i = 0; i < 3000; i++) {
      const type = messageType(roots[i % roots.length] as string);
      const message = randomMessage(type, random, 0);
      let expected: string;
      try {
        expected = hex(encodeWithProtobufjs(type, message));
      } catch {
        continue; // protobufjs rejects it; the plain encoder's answer does not matter
      }
      const bytes = encodePlain(type, message);
      if (bytes === undefined) declined++;
      else {
        encoded++;
        assert.ok(Buffer.isBuffer(bytes), 'a Buffer, as protobufjs returns');
        assert.equal(hex(bytes), expected, `${type.fullName}: ${JSON.stringify(message, replacer)}`);
      }
    }
    assert.ok(encoded > 300 && declined > 30, `encoded ${encoded}, declined ${declined}`);
  });
});

function replacer(_k: string, v: unknown): unknown {
  return v instanceof Uint8Array ? `bytes:${hex(v)}` : typeof v === 'bigint' ? String(v) : v;
}

type Random = () => number;
const pick = <T>(r: Random, items: readonly T[]): T => items[Math.floor(r() * items.length)] as T;

const STRINGS = [
  '',
  'a',
  'x'.repeat(45),
  'é',
  'héllo wörld'.repeat(5),
  '😀',
  '\ud800',
  'a\udc00'.repeat(30),
  '7',
];
const NUMBERS = [
  0,
  1,
  -1,
  127,
  128,
  300,
  2 ** 31 - 1,
  -(2 ** 31),
  2 ** 32 - 1,
  2 ** 40,
  1.5,
  -2.5,
  Number.NaN,
];
const LONGS = [0, 5, -5, '123', '-9', '007', '9007199254740993', 2 ** 53 + 2, '1e3', 'x', 1.5];

function randomScalar(type: string, r: Random): unknown {
  switch (type) {
    case 'string':
      return r() < 0.8 ? pick(r, STRINGS) : pick(r, NUMBERS);
    case 'bool':
      return r() < 0.8 ? r() < 0.5 : pick(r, [0, 1, 'yes', '']);
    case 'bytes':
      return r() < 0.8 ? new Uint8Array(Math.floor(r() * 200)).map((_, i) => i) : 'aGVsbG8=';
    case 'int64':
    case 'uint64':
    case 'sint64':
    case 'fixed64':
    case 'sfixed64':
      return pick(r, LONGS);
    default:
      return r() < 0.9 ? pick(r, NUMBERS) : pick(r, ['12', '-3', 'x']);
  }
}

function randomValue(field: protobuf.Field, r: Random, depth: number): unknown {
  const t = field.resolvedType;
  if (t instanceof protobuf.Enum) {
    const names = Object.keys(t.values);
    return r() < 0.7 ? pick(r, names) : r() < 0.5 ? pick(r, Object.values(t.values)) : 'NOT_A_VALUE';
  }
  if (t instanceof protobuf.Type) return randomMessage(t, r, depth + 1);
  return randomScalar(field.type, r);
}

function randomMessage(type: protobuf.Type, r: Random, depth: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (depth > 5) return out;
  for (const field of type.fieldsArray) {
    field.resolve();
    if (r() > (depth < 2 ? 0.5 : 0.25)) continue;
    if (r() < 0.05) {
      out[field.name] = r() < 0.5 ? null : undefined;
      continue;
    }
    if (field.map) {
      const map: Record<string, unknown> = {};
      const n = Math.floor(r() * 4);
      for (let i = 0; i < n; i++)
        map[pick(r, ['b', 'a', 'c.d', '10', '2', 'é', 'z'])] = randomValue(field, r, depth);
      out[field.name] = map;
    } else if (field.repeated) {
      const n = Math.floor(r() * 4);
      out[field.name] = Array.from({ length: n }, () => randomValue(field, r, depth));
    } else out[field.name] = randomValue(field, r, depth);
  }
  return out;
}
