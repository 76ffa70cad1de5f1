/**
 * Per-object status (object-status.ts) from real compiles: ingest-time problems reach the status
 * bucket like compile errors do — an object the ingestor could not publish, whatever its kind and
 * even when no version of it was ever ingested, and a YAML directory's load problems — while the
 * objects that serve stay `accepted`.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  ENVELOPE_VERSION,
  type EventEnvelope,
  INGEST_ERROR_API_VERSION,
  INGEST_ERROR_KIND,
  type SourceObject,
} from '../../shared/events/envelope.ts';
import { compile } from './compile.ts';
import { mergeStatuses, objectStatuses } from './object-status.ts';
import { WorldState } from './runner-world.ts';

const MAPPING = { apiVersion: 'getambassador.io/v3alpha1', kind: 'Mapping' };

function event(op: EventEnvelope['op'], extra: Partial<EventEnvelope>): EventEnvelope {
  return {
    v: ENVELOPE_VERSION,
    cluster: 'east',
    kind: 'Mapping',
    namespace: 'apps',
    name: 'echo',
    op,
    resourceVersion: '1',
    generation: 1,
    observedAt: '2026-01-01T00:00:00Z',
    ingestor: 'kubernetes/east/test',
    ...extra,
  };
}

function upsert(seq: number, world: WorldState, object: SourceObject): void {
  world.apply(
    seq,
    event('upsert', {
      kind: object.kind,
      namespace: object.metadata.namespace ?? '',
      name: object.metadata.name,
      object,
    }),
  );
}

function statuses(world: WorldState, group = 'default') {
  const records = world.records();
  const { diagnostics } = compile(records, { group });
  return objectStatuses(group, records, diagnostics);
}

const good: SourceObject = {
  ...MAPPING,
  metadata: { name: 'good', namespace: 'apps' },
  spec: { hostname: '*', prefix: '/good/', service: 'good:80' },
};

describe('object status', () => {
  test('object status — a Mapping rejected at ingest and never good gets an error saying why', () => {
    const world = new WorldState();
    upsert(1, world, good);
    world.apply(2, event('reject', { name: 'huge', reason: 'event is 2 MiB, over max_payload' }));
    const s = statuses(world);
    assert.deepEqual(s.get('east/Mapping/apps/good'), {
      object: { cluster: 'east', kind: 'Mapping', namespace: 'apps', name: 'good' },
      state: 'accepted',
      reason: '',
    });
    const huge = s.get('east/Mapping/apps/huge');
    assert.equal(huge?.state, 'error');
    assert.match(huge.reason, /could not be ingested: event is 2 MiB, over max_payload; it is not served/);
    // Its group cannot be read from a version that was never ingested: every group reports it.
    assert.equal(statuses(world, 'other').get('east/Mapping/apps/huge')?.state, 'error');
    assert.equal(statuses(world, 'other').get('east/Mapping/apps/good'), undefined);
  });

  test('object status — a rejected version of any kind is an error while the previous one serves', () => {
    const world = new WorldState();
    upsert(1, world, good);
    upsert(2, world, {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'good', namespace: 'apps' },
      spec: { ports: [{ port: 80 }] },
    });
    assert.equal(
      statuses(world).get('east/Service/apps/good'),
      undefined,
      'Services have no status of their own',
    );
    world.apply(3, event('reject', { kind: 'Service', name: 'good', reason: 'not UTF-8' }));
    const s = statuses(world);
    assert.equal(s.get('east/Service/apps/good')?.state, 'error');
    assert.match(s.get('east/Service/apps/good')!.reason, /not UTF-8; the previous version keeps serving/);
    assert.equal(s.get('east/Mapping/apps/good')?.state, 'accepted');
  });

  test('object status — a load problem is an error of its own; the established duplicate stays accepted', () => {
    const world = new WorldState();
    const established = { ...good, metadata: { name: 'echo', namespace: 'default' } };
    upsert(1, world, established);
    world.apply(
      2,
      event('upsert', {
        kind: INGEST_ERROR_KIND,
        namespace: '',
        name: '00-dup.yaml#0',
        object: {
          apiVersion: INGEST_ERROR_API_VERSION,
          kind: INGEST_ERROR_KIND,
          metadata: { name: '00-dup.yaml#0' },
          spec: {
            file: '00-dup.yaml',
            document: 0,
            kind: 'Mapping',
            name: 'echo',
            message: 'Mapping default/echo is already defined in m.yaml document 0',
          },
        },
      }),
    );
    world.apply(
      3,
      event('upsert', {
        kind: INGEST_ERROR_KIND,
        namespace: '',
        name: 'bytes.yaml',
        object: {
          apiVersion: INGEST_ERROR_API_VERSION,
          kind: INGEST_ERROR_KIND,
          metadata: { name: 'bytes.yaml' },
          spec: { file: 'bytes.yaml', message: 'not valid UTF-8: invalid byte 0xff at byte offset 60' },
        },
      }),
    );
    const s = statuses(world);
    assert.equal(s.get('east/Mapping/default/echo')?.state, 'accepted', 'the established copy serves');
    assert.deepEqual(s.get('east/IngestError/default/00-dup.yaml#0'), {
      object: { cluster: 'east', kind: 'IngestError', namespace: 'default', name: '00-dup.yaml#0' },
      state: 'error',
      reason: 'cannot be ingested: Mapping default/echo is already defined in m.yaml document 0',
    });
    assert.equal(
      s.get('east/IngestError/default/bytes.yaml')?.reason,
      'cannot be ingested: not valid UTF-8: invalid byte 0xff at byte offset 60',
    );

    // Fixed: the IngestError is deleted, and so is its status.
    world.apply(4, event('delete', { kind: INGEST_ERROR_KIND, namespace: '', name: 'bytes.yaml' }));
    assert.equal(statuses(world).get('east/IngestError/default/bytes.yaml'), undefined);
  });

  test('object status — an error in any group wins when statuses merge', () => {
    const object = { cluster: 'c', kind: 'Mapping', namespace: 'n', name: 'm' };
    assert.deepEqual(
      mergeStatuses([
        { object, state: 'accepted', reason: '' },
        { object, state: 'error', reason: 'bad' },
      ]),
      { object, state: 'error', reason: 'bad' },
    );
  });
});
