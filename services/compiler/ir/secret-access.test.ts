import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { SourceObject } from '../../../shared/events/envelope.ts';
import { compile } from '../compile.ts';
import type { CompileOptions, SourceRecord } from '../contracts.ts';
import { loadCase } from '../golden-cases.ts';

/** A TLS Secret's data from the golden case (a real certificate and its key). */
function tlsData(): Record<string, string> {
  const own = loadCase('edge-secret-groups').find(
    (r) => r.object.kind === 'Secret' && r.object.metadata.name === 'own-cert',
  );
  assert.ok(own, 'fixture Secret own-cert exists');
  return own.object.data as Record<string, string>;
}

const record = (object: Record<string, unknown>): SourceRecord => ({
  cluster: 'east',
  object: object as unknown as SourceObject,
});

function host(group: string, namespace: string, tlsSecret: Record<string, string>): SourceRecord {
  return record({
    apiVersion: 'getambassador.io/v3alpha1',
    kind: 'Host',
    metadata: { name: `${group}-host`, namespace },
    spec: { ambassador_id: [group], hostname: `${group}.test`, tlsSecret },
  });
}

function mapping(group: string, namespace: string): SourceRecord {
  return record({
    apiVersion: 'getambassador.io/v3alpha1',
    kind: 'Mapping',
    metadata: { name: `${group}-route`, namespace },
    spec: { ambassador_id: [group], prefix: '/', service: 'backend' },
  });
}

/** Team a's Secret and Host; team b's Host reaching across for a's Secret. */
function world(annotations?: Record<string, string>): SourceRecord[] {
  return [
    record({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'a-cert', namespace: 'team-a', ...(annotations ? { annotations } : {}) },
      type: 'kubernetes.io/tls',
      data: tlsData(),
    }),
    host('a', 'team-a', { name: 'a-cert' }),
    host('b', 'team-b', { name: 'a-cert', namespace: 'team-a' }),
    mapping('a', 'team-a'),
    mapping('b', 'team-b'),
  ];
}

/** Every form the private key could take in a resource: PEM text, its base64, the DER body. */
function keyForms(): Buffer[] {
  const pem = Buffer.from(tlsData()['tls.key'] as string, 'base64');
  const body = pem
    .toString('utf8')
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('-----'))
    .join('');
  return [pem, Buffer.from(pem.toString('base64')), Buffer.from(body), Buffer.from(body, 'base64')];
}

function leaks(records: SourceRecord[], opts: CompileOptions): string[] {
  const forms = keyForms();
  return compile(records, opts)
    .resources.filter((r) => forms.some((f) => Buffer.from(r.bytes).includes(f)))
    .map((r) => r.name);
}

describe('secret access', () => {
  test('secret access — a group-b Host naming group a’s Secret gets a diagnostic and b’s snapshot holds none of a’s key', () => {
    const records = world();
    const opts = { secretNamespaces: { 'team-a': ['a'] } };
    const a = compile(records, { group: 'a', ...opts });
    assert.ok(
      a.resources.some((r) => r.name === 'tls/team-a/a-cert'),
      'group a serves its own Secret',
    );
    assert.deepEqual(leaks(records, { group: 'a', ...opts }), ['tls/team-a/a-cert']);

    const b = compile(records, { group: 'b', ...opts });
    const refused = b.diagnostics.filter((d) => d.source.name === 'b-host');
    assert.equal(refused.length, 1);
    assert.equal(refused[0]?.field, 'tlsSecret');
    assert.equal(refused[0]?.source.namespace, 'team-b');
    assert.match(refused[0]?.message ?? '', /team-a\/a-cert belongs to group a/);
    assert.deepEqual(leaks(records, { group: 'b', ...opts }), [], 'no resource of b carries a’s key');
    assert.ok(
      b.resources.some((r) => r.typeUrl.endsWith('.Cluster')),
      'the rest of group b still compiles (its Mapping keeps its cluster)',
    );
  });

  test('secret access — without configuration a Secret serves only its own namespace', () => {
    const b = compile(world(), { group: 'b' });
    assert.ok(b.diagnostics.some((d) => d.source.name === 'b-host' && /another namespace/.test(d.message)));
    assert.deepEqual(leaks(world(), { group: 'b' }), []);
    assert.deepEqual(leaks(world(), { group: 'a' }), ['tls/team-a/a-cert']);
  });

  test('secret access — the attache.io/groups annotation decides, over namespace rules', () => {
    const shared = world({ 'attache.io/groups': 'a, b' });
    assert.deepEqual(leaks(shared, { group: 'b' }), ['tls/team-a/a-cert'], 'shared with b by annotation');
    const onlyB = world({ 'attache.io/groups': 'b' });
    const a = compile(onlyB, { group: 'a' });
    assert.ok(
      a.diagnostics.some((d) => d.source.name === 'a-host' && /not shared with group a/.test(d.message)),
    );
    assert.deepEqual(leaks(onlyB, { group: 'a' }), [], 'even its own namespace is refused when not listed');
  });
});
