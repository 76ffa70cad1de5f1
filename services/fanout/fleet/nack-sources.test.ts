/**
 * NACK sources: the objects behind rejected resources come from the provenance blob of the
 * snapshot being served.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { silentLogger } from '../../../shared/runtime/logger.ts';
import { MemorySnapshotStore } from '../../../shared/snapshot/memory-snapshot-store.ts';
import { CLUSTER_TYPE } from '../../../shared/xds/type-urls.ts';
import { compile } from '../../compiler/compile.ts';
import { loadCase } from '../../compiler/golden-cases.ts';
import { buildSnapshot } from '../../compiler/runner-snapshot.ts';
import { NackSources } from './nack-sources.ts';

test('nack sources — a rejected cluster names the Mapping and file behind it', async () => {
  const store = new MemorySnapshotStore();
  const snapshot = buildSnapshot('default', 7, compile(loadCase('canary-30'), { group: 'default' }));
  await store.commit({ epoch: await store.acquireEpoch('default'), ...snapshot });
  const clusters = snapshot.manifest.types[CLUSTER_TYPE]?.resources.map((r) => r.name) ?? [];
  const canary = clusters.find((n) => n.includes('canary'));
  assert.ok(canary, `a canary cluster among ${clusters.join(', ')}`);
  const found = await new NackSources(store, silentLogger()).lookup('default', 7, CLUSTER_TYPE, [canary]);
  assert.deepEqual(found, [
    {
      resource: canary,
      objects: [
        {
          cluster: 'test',
          kind: 'Mapping',
          namespace: 'default',
          name: 'echo-canary',
          file: 'config.yaml',
          document: 1,
        },
      ],
    },
  ]);
  assert.deepEqual(
    await new NackSources(store, silentLogger()).lookup('default', 8, CLUSTER_TYPE, [canary]),
    [],
    'a version the store does not hold names nothing',
  );
});
