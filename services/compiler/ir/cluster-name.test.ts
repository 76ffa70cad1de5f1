import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assignClusterNames, baseClusterName } from './cluster-name.ts';

test('cluster names — Emissary spelling: service as written, otls, namespace; non-alphanumerics become _', () => {
  const plain = { service: 'quote', originateTls: false, namespace: 'default', breakers: [] };
  assert.equal(baseClusterName(plain), 'cluster_quote_default');
  assert.equal(
    baseClusterName({ ...plain, service: 'https://quote.ns:8443', originateTls: true }),
    'cluster_https___quote_ns_8443_otls_default',
  );
});

test('cluster names — markers: shadow/cluster_tag, context, host_rewrite under TLS, breakers, lb', () => {
  const parts = {
    marker: 'shadow',
    service: 'quote',
    originateTls: true,
    contextName: 'client-ctx',
    hostRewrite: 'api.example.com',
    namespace: 'shop',
    breakers: ['cbdc100', 'cbhr5'],
    lbMarker: 'er-ring_hash-hdr-x-user',
  };
  assert.equal(
    baseClusterName(parts),
    'cluster_shadow_quote_otls_client_ctx_hr_api_example_com_shop_cbdc100_cbhr5_er_ring_hash_hdr_x_user',
  );
  // host_rewrite only names the cluster when TLS is originated.
  assert.equal(
    baseClusterName({
      ...parts,
      marker: undefined,
      originateTls: false,
      contextName: undefined,
      breakers: [],
      lbMarker: undefined,
    }),
    'cluster_quote_shop',
  );
});

test('cluster names — long names are shortened to 40 chars, SHA-1 prefix and an index', () => {
  const long = baseClusterName({
    service: 'a'.repeat(70),
    originateTls: false,
    namespace: 'default',
    breakers: [],
  });
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
