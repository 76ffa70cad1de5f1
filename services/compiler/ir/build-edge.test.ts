import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { compile } from '../compile.ts';
import { loadCase } from '../golden-cases.ts';
import { parseSources } from '../sources/parse-sources.ts';
import { toTranslateFiles } from '../translate-output.ts';
import { resolverFor } from './edge-clusters.ts';
import { hostGlobsOverlap } from './host-match.ts';

describe('edge IR', () => {
  test('edge — host globs overlap as Emissary hostglob_matches does', () => {
    assert.ok(hostGlobsOverlap('*', 'a.example'));
    assert.ok(hostGlobsOverlap('api.wild.test', '*.wild.test'));
    assert.ok(hostGlobsOverlap('*.wild.test', '*.test'));
    assert.ok(hostGlobsOverlap('www.*', 'www.example.com'));
    assert.ok(!hostGlobsOverlap('a.example', 'b.example'));
    assert.ok(!hostGlobsOverlap('*.wild.test', 'wild.other'));
    assert.ok(!hostGlobsOverlap('www.*', 'api.example.com'));
  });

  test('edge — resolver names: implicit endpoint resolvers, declared DNS resolver, Consul refused', () => {
    const sources = parseSources(loadCase('edge-resolvers'), 'default');
    assert.deepEqual(resolverFor(sources, 'endpoint'), { ok: true, kind: 'endpoint', name: 'endpoint' });
    assert.deepEqual(resolverFor(sources, undefined), {
      ok: true,
      kind: 'endpoint',
      name: 'kubernetes-service',
    });
    assert.deepEqual(resolverFor(sources, 'by-dns'), { ok: true, kind: 'service', name: 'by-dns' });
    assert.equal(resolverFor(sources, 'consul-dc1').ok, false);
    assert.equal(resolverFor(sources, 'missing').ok, false);
  });

  test('edge — Secret material never appears in diagnostics or translate output', () => {
    const records = loadCase('edge-host-tls');
    const result = compile(records, { group: 'default' });
    assert.ok(result.resources.some((r) => r.name === 'tls/default/example-cert'));
    const secretValues = records
      .filter((r) => r.object.kind === 'Secret')
      .flatMap((r) => Object.values((r.object.data ?? {}) as Record<string, string>));
    const pems = secretValues
      .map((v) => Buffer.from(v, 'base64').toString('utf8'))
      .filter((t) => t.includes('BEGIN'));
    assert.ok(pems.length > 0);
    const texts = [JSON.stringify(result.diagnostics), ...Object.values(toTranslateFiles(result))];
    for (const text of texts) {
      assert.ok(!text.includes('PRIVATE KEY') && !text.includes('BEGIN CERTIFICATE'));
      for (const v of secretValues) assert.ok(!text.includes(v.slice(0, 40)), 'base64 Secret data leaked');
      for (const pem of pems) assert.ok(!text.includes(pem.split('\n')[1]!), 'PEM body leaked');
    }
  });

  test('edge — a Host in another group never brings its Secret into this group', () => {
    const records = loadCase('edge-host-tls').map((r) =>
      r.object.kind === 'Host'
        ? { ...r, object: { ...r.object, spec: { ...(r.object.spec as object), ambassador_id: ['blue'] } } }
        : r,
    );
    const result = compile(records, { group: 'default' });
    assert.deepEqual(
      result.resources.filter((r) => r.typeUrl.endsWith('.Secret')),
      [],
    );
    assert.ok(result.resources.some((r) => r.name === 'ambassador-listener-8080'));
    assert.ok(!result.resources.some((r) => r.name === 'ambassador-listener-8443'));
  });
});
