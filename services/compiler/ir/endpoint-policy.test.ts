import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type EndpointPolicy, prioritize, REMOTE_ENDPOINTS_MODES } from './endpoint-policy.ts';
import type { EndpointSet, LocalityEndpoints } from './types.ts';

const loc = (region: string, zone: string, ...ips: string[]): LocalityEndpoints => ({
  region,
  zone,
  priority: 0,
  addresses: ips.map((ip) => ({ ip, port: 80 })),
});
const set = (...localities: LocalityEndpoints[]): EndpointSet => ({ serviceName: 'k8s/a/b/80', localities });
const summary = (s: EndpointSet) => s.localities.map((l) => `${l.priority}:${l.region}/${l.zone}`);

describe('endpoint policy', () => {
  const both = set(loc('east', 'a', '10.0.0.1'), loc('west', 'b', '10.1.0.1'));

  test('endpoint policy — prefer-local puts local clusters at priority 0 and remote at 1', () => {
    assert.deepEqual(summary(prioritize(both, { localClusters: ['west'] })), ['0:west/b', '1:east/a']);
  });

  test('endpoint policy — remote endpoints are promoted to priority 0 when no local endpoint exists', () => {
    const remoteOnly = set(loc('west', 'b', '10.1.0.1'));
    assert.deepEqual(summary(prioritize(remoteOnly, { localClusters: ['east'] })), ['0:west/b']);
  });

  test('endpoint policy — local-only drops remote localities, merge keeps one priority', () => {
    const p: EndpointPolicy = { localClusters: ['east'], remoteEndpoints: 'local-only' };
    assert.deepEqual(summary(prioritize(both, p)), ['0:east/a']);
    assert.deepEqual(
      summary(prioritize(set(loc('west', 'b', '10.1.0.1')), p)),
      [],
      'no local endpoints means an empty set',
    );
    assert.deepEqual(summary(prioritize(both, { localClusters: ['east'], remoteEndpoints: 'merge' })), [
      '0:east/a',
      '0:west/b',
    ]);
  });

  test('endpoint policy — without a local cluster every mode keeps every locality at priority 0', () => {
    for (const remoteEndpoints of REMOTE_ENDPOINTS_MODES) {
      assert.deepEqual(summary(prioritize(both, { remoteEndpoints })), ['0:east/a', '0:west/b']);
    }
  });

  test('endpoint policy — an address in two clusters is kept in the local copy only', () => {
    const dup = set(loc('east', 'a', '10.9.9.9', '10.0.0.1'), loc('west', 'b', '10.9.9.9'));
    const out = prioritize(dup, { localClusters: ['west'] });
    assert.deepEqual(
      out.localities.map((l) => [l.region, l.priority, l.addresses.map((a) => a.ip)]),
      [
        ['west', 0, ['10.9.9.9']],
        ['east', 1, ['10.0.0.1']],
      ],
    );
  });

  test('endpoint policy — priorities are always contiguous from 0', () => {
    const regions = ['east', 'west', 'north', ''];
    for (let mask = 0; mask < 16; mask++) {
      const locs = regions.filter((_, i) => mask & (1 << i)).map((r, i) => loc(r, 'z', `10.0.0.${i}`));
      for (const local of [[], ['east'], ['north', 'west'], ['nowhere']]) {
        for (const remoteEndpoints of REMOTE_ENDPOINTS_MODES) {
          const ps = [
            ...new Set(
              prioritize(set(...locs), { localClusters: local, remoteEndpoints }).localities.map(
                (l) => l.priority,
              ),
            ),
          ];
          assert.deepEqual(
            ps,
            ps.map((_, i) => i),
            `mask ${mask} local ${local} ${remoteEndpoints}`,
          );
        }
      }
    }
  });
});
