/**
 * Envelope decoding refuses malformed messages with an error (never a half-typed event), and a
 * message that does not decode stands for a `reject` of the object its subject names.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Packr } from 'msgpackr';
import { decodeEvent, type EventEnvelope, encodeEvent } from './envelope.ts';
import { subjectFor, undecodableEvent } from './subjects.ts';

const packr = new Packr({ useRecords: false });
const good: EventEnvelope = {
  v: 1,
  cluster: 'c',
  kind: 'Mapping',
  namespace: 'default',
  name: 'a.b',
  op: 'upsert',
  resourceVersion: '1',
  generation: 0,
  observedAt: '',
  ingestor: 'test',
  object: { apiVersion: 'getambassador.io/v3alpha1', kind: 'Mapping', metadata: { name: 'a.b' } },
};

test('envelope — decodes what it encodes', () => {
  assert.deepEqual(decodeEvent(encodeEvent(good)), good);
});

test('envelope — malformed fields are refused, not passed on', () => {
  const bad: Record<string, unknown>[] = [
    { op: 'explode' },
    { name: 5 },
    { namespace: null },
    { reason: 7 },
    { origin: { file: 7 } },
    { object: [1] },
    { object: { kind: 'Mapping' } },
    { object: { kind: 'Mapping', metadata: 'x' } },
    { object: undefined, objectZ: 'text' },
    { object: undefined, objectZ: new Uint8Array([1, 2, 3]) },
  ];
  for (const patch of bad)
    assert.throws(() => decodeEvent(packr.pack({ ...good, ...patch })), JSON.stringify(patch));
  assert.throws(() => decodeEvent(new Uint8Array([0xc3])));
});

test('envelope — an undecodable message is a reject of the object its subject names', () => {
  const e = undecodableEvent(subjectFor(good), 'sequence 9: event is not a map');
  assert.deepEqual(
    [e.op, e.cluster, e.kind, e.namespace, e.name],
    ['reject', 'c', 'Mapping', 'default', 'a.b'],
  );
  assert.match(e.reason ?? '', /not a valid envelope \(sequence 9: event is not a map\)/);
  const odd = undecodableEvent('attache.ev.c._resync._._', 'x');
  assert.deepEqual([odd.kind, odd.name], ['InvalidEvent', 'attache.ev.c._resync._._']);
});
