import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assignClusterNames, baseClusterName } from './cluster-name.ts';

test('cluster names — Emissary spelling: service as written, otls, namespace; non-alphanumerics become _', () => {
  assert.equal(baseClusterName('quote', false, 'default'), 'cluster_quote_default');
  assert.equal(
    baseClusterName('https://quote.ns:8443', true, 'default'),
    'cluster_https___quote_ns_8443_otls_default',
  );
});

test('cluster names — long names are shortened to 40 chars, SHA-1 prefix and an index', () => {
  const long = baseClusterName('a'.repeat(70), false, 'default');
  const names = assignClusterNames(new Map([['x', long]]));
  const name = names.get('x')!;
  assert.match(name, /^cluster_a{32}-[0-9A-F]{16}-0$/);
  assert.ok(name.length <= 60);
});

test('cluster names — clusters that sanitise alike stay distinct, independent of input order', () => {
  const a = assignClusterNames(
    new Map([
      ['["foo.bar","default"]', 'cluster_foo_bar_default'],
      ['["foo-bar","default"]', 'cluster_foo_bar_default'],
    ]),
  );
  const b = assignClusterNames(
    new Map([
      ['["foo-bar","default"]', 'cluster_foo_bar_default'],
      ['["foo.bar","default"]', 'cluster_foo_bar_default'],
    ]),
  );
  assert.deepEqual([...a].sort(), [...b].sort());
  assert.equal(new Set(a.values()).size, 2);
});
