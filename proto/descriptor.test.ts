/**
 * The install-time descriptor (proto/descriptor.ts) must load into the same reflection tree as
 * parsing the `.proto` files: every type with the same fields, numbers, labels, resolved types and
 * validation options. Its field types are fully qualified, so loading it never searches scopes.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import protobuf from 'protobufjs';
import { fromDescriptor, toDescriptor } from './descriptor.ts';
import { ENVOY_PROTO_FILES } from './envoy-protos.ts';
import { parseProtos } from './root.ts';

function typesOf(
  ns: protobuf.NamespaceBase,
  out = new Map<string, protobuf.Type>(),
): Map<string, protobuf.Type> {
  for (const child of ns.nestedArray) {
    if (child instanceof protobuf.Type) out.set(child.fullName, child);
    if (child instanceof protobuf.Namespace || child instanceof protobuf.Type) typesOf(child, out);
  }
  return out;
}

function fieldShape(f: protobuf.Field): unknown {
  const opts = (f as unknown as { parsedOptions?: unknown }).parsedOptions ?? null;
  return {
    id: f.id,
    repeated: f.repeated,
    map: f.map,
    keyType: f instanceof protobuf.MapField ? f.keyType : null,
    resolved: f.resolvedType?.fullName ?? f.type,
    oneof: f.partOf?.name ?? null,
    opts,
  };
}

test('proto descriptor — loads into the tree the .proto files parse to, with qualified field types', () => {
  const parsed = parseProtos();
  const descriptor = JSON.parse(JSON.stringify(toDescriptor(parsed, ENVOY_PROTO_FILES)));
  const loaded = fromDescriptor(descriptor, ENVOY_PROTO_FILES);
  assert.ok(loaded, 'the descriptor matches the file list it was made from');

  const want = typesOf(parsed);
  const got = typesOf(loaded);
  assert.ok(want.size > 500, `expected the Envoy tree, got ${want.size} types`);
  assert.deepEqual([...got.keys()].sort(), [...want.keys()].sort());
  for (const [name, type] of want) {
    const other = got.get(name) as protobuf.Type;
    for (const f of type.fieldsArray) {
      const g = other.fields[f.name];
      assert.ok(g, `${name}.${f.name} is missing after loading`);
      assert.deepEqual(fieldShape(g), fieldShape(f), `${name}.${f.name}`);
    }
    assert.equal(other.fieldsArray.length, type.fieldsArray.length, name);
  }

  const relative: string[] = [];
  const walk = (
    ns: protobuf.INamespace & { fields?: Record<string, { type: string }> },
    at: string,
  ): void => {
    for (const [fname, f] of Object.entries(ns.fields ?? {})) {
      const field = (got.get(at) as protobuf.Type | undefined)?.fields[fname];
      if (field?.resolvedType && !f.type.startsWith('.')) relative.push(`${at}.${fname}: ${f.type}`);
    }
    for (const [n, child] of Object.entries(ns.nested ?? {})) walk(child as typeof ns, `${at}.${n}`);
  };
  walk(descriptor.root, '');
  assert.deepEqual(relative.slice(0, 5), [], 'message and enum field types are fully qualified');
});
