import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Diagnostic, SourceRecord } from '../contracts.ts';
import { pickClusterWinners } from './cluster-conflicts.ts';

const mapping = (cluster: string, service: string, extra: Record<string, unknown> = {}): SourceRecord => ({
  cluster,
  object: {
    apiVersion: 'getambassador.io/v3alpha1',
    kind: 'Mapping',
    metadata: { name: 'm', namespace: 'ns', resourceVersion: cluster },
    spec: { prefix: '/', service, ...extra },
  },
});

describe('cross-cluster conflicts', () => {
  test('cross-cluster conflicts — the first cluster by name wins, whatever the input order', () => {
    const records = [mapping('west', 'b'), mapping('east', 'a'), mapping('zeta', 'c')];
    for (const order of [records, [...records].reverse()]) {
      const diagnostics: Diagnostic[] = [];
      const kept = pickClusterWinners(order, 'default', diagnostics);
      assert.deepEqual(
        kept.map((r) => r.cluster),
        ['east'],
      );
      assert.deepEqual(diagnostics.map((d) => d.source.cluster).sort(), ['west', 'zeta']);
      assert.match(diagnostics[0]!.message, /east.*(west|zeta)/);
    }
  });

  test('cross-cluster conflicts — identical mirrored copies are dropped without a warning', () => {
    const diagnostics: Diagnostic[] = [];
    const kept = pickClusterWinners([mapping('west', 'a'), mapping('east', 'a')], 'default', diagnostics);
    assert.deepEqual(
      kept.map((r) => r.cluster),
      ['east'],
    );
    assert.deepEqual(diagnostics, []);
  });

  test('cross-cluster conflicts — Services, endpoints and other groups never conflict', () => {
    const svc = (cluster: string): SourceRecord => ({
      cluster,
      object: { apiVersion: 'v1', kind: 'Service', metadata: { name: 'm', namespace: 'ns' }, spec: {} },
    });
    const diagnostics: Diagnostic[] = [];
    const blue = mapping('east', 'a', { ambassador_id: ['blue'] });
    const kept = pickClusterWinners(
      [svc('west'), svc('east'), blue, mapping('west', 'b')],
      'default',
      diagnostics,
    );
    assert.equal(kept.length, 4);
    assert.deepEqual(diagnostics, []);
  });
});
