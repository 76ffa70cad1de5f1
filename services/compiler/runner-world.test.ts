import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ENVELOPE_VERSION, type EventEnvelope, objectKey } from '../../shared/events/envelope.ts';
import type { SourceRecord } from './contracts.ts';
import { WorldState } from './runner-world.ts';
import { prng } from './test-prng.ts';

function event(name: string, op: 'upsert' | 'delete', rv: string): EventEnvelope {
  return {
    v: ENVELOPE_VERSION,
    cluster: 'east',
    kind: 'Mapping',
    namespace: 'default',
    name,
    op,
    resourceVersion: rv,
    generation: 0,
    observedAt: '2026-01-01T00:00:00Z',
    ingestor: 'test',
    ...(op === 'upsert'
      ? {
          object: {
            apiVersion: 'getambassador.io/v3alpha1',
            kind: 'Mapping',
            metadata: { name, namespace: 'default' },
            spec: { prefix: `/${name}/`, service: 's', rv },
          },
        }
      : {}),
  } as EventEnvelope;
}

test('world state — records() is every live object sorted by key after random upserts and deletes, and a list handed out never changes', () => {
  const r = prng(21);
  const world = new WorldState();
  const live = new Map<string, EventEnvelope>();
  const handedOut: { records: SourceRecord[]; copy: SourceRecord[] }[] = [];
  let seq = 0;
  for (let step = 0; step < 2_000; step++) {
    const name = `m-${Math.floor(r() * 60)}`;
    const e = event(name, r() < 0.15 ? 'delete' : 'upsert', `${step}`);
    world.apply(++seq, e);
    if (e.op === 'delete') live.delete(objectKey(e));
    else live.set(objectKey(e), e);
    if (r() < 0.3) {
      const records = world.records();
      const want = [...live.keys()].sort().map((k) => live.get(k)?.resourceVersion);
      assert.deepEqual(
        records.map((x) => x.resourceVersion),
        want,
        `step ${step}`,
      );
      handedOut.push({ records, copy: [...records] });
    }
  }
  for (const h of handedOut) assert.deepEqual(h.records, h.copy);
});
