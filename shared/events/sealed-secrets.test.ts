import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { createLogger } from '../runtime/logger.ts';
import { KeyRing, parseKeyList, SealError } from '../runtime/secret-keys.ts';
import type { EventEnvelope } from './envelope.ts';
import { MemoryEventLog } from './memory-event-log.ts';
import { REFUSED_ANNOTATION, SEALED_FIELD, SecretSealingEventLog } from './sealed-secrets.ts';

const KEY_PEM =
  '-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n-----END PRIVATE KEY-----\n';
const k1 = { id: 'k1', key: randomBytes(32) };
const k2 = { id: 'k2', key: randomBytes(32) };
const log = createLogger('test');

function secretEvent(): EventEnvelope {
  return {
    v: 1,
    cluster: 'east',
    kind: 'Secret',
    namespace: 'team-a',
    name: 'a-cert',
    op: 'upsert',
    resourceVersion: '7',
    generation: 0,
    observedAt: new Date(0).toISOString(),
    ingestor: 'test',
    object: {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: {
        name: 'a-cert',
        namespace: 'team-a',
        annotations: {
          'attache.io/groups': 'a',
          'kubectl.kubernetes.io/last-applied-configuration': JSON.stringify({
            data: { 'tls.key': KEY_PEM },
          }),
        },
      },
      type: 'kubernetes.io/tls',
      data: { 'tls.key': Buffer.from(KEY_PEM).toString('base64') },
    },
  };
}

async function all(events: MemoryEventLog | SecretSealingEventLog): Promise<EventEnvelope[]> {
  const out: EventEnvelope[] = [];
  for await (const e of events.read({ fromSeq: 1 })) out.push(e.event);
  return out;
}

const rawText = (e: EventEnvelope) => JSON.stringify(e) + Buffer.from(JSON.stringify(e)).toString('base64');

describe('sealed secrets', () => {
  test('sealed secrets — AES-256-GCM seal/open is deterministic, bound to its context, and rotates by key id', () => {
    const old = new KeyRing([k1]);
    const rotated = new KeyRing([k2, k1]);
    const plain = Buffer.from(KEY_PEM);
    const a = old.seal(plain, 'ctx');
    assert.deepEqual(old.seal(plain, 'ctx'), a, 'same content, same bytes');
    assert.notDeepEqual(old.seal(plain, 'other'), a);
    assert.ok(!Buffer.from(a).includes(plain));
    assert.deepEqual(rotated.open(a, 'ctx'), plain, 'old data opens after rotation');
    assert.equal(rotated.primaryId, 'k2');
    assert.throws(
      () => old.open(rotated.seal(plain, 'ctx'), 'ctx'),
      SealError,
      'k2 is unknown to the old ring',
    );
    assert.throws(() => old.open(a, 'moved'), SealError, 'context is authenticated');
    const tampered = Buffer.from(a);
    tampered[tampered.length - 1] = (tampered.at(-1) ?? 0) ^ 1;
    assert.throws(() => old.open(tampered, 'ctx'), SealError);
    assert.equal(parseKeyList(`# keys\nk2:${k2.key.toString('base64')}\n`, 'f').length, 1);
    assert.throws(() => new KeyRing([{ id: 'short', key: randomBytes(16) }]), /32 bytes/);
  });

  test('sealed secrets — the log holds no Secret material; readers with the key get the object back unchanged', async () => {
    const inner = new MemoryEventLog();
    const keys = new KeyRing([k1]);
    await new SecretSealingEventLog(inner, { keys, plaintext: 'refuse', log }).publish(secretEvent());
    const [stored] = await all(inner);
    assert.ok(stored?.object?.[SEALED_FIELD] instanceof Uint8Array);
    assert.equal(stored?.object?.data, undefined);
    assert.ok(!rawText(stored!).includes('PRIVATE KEY'), 'no PEM in the stored event');
    assert.ok(!rawText(stored!).includes(Buffer.from(KEY_PEM).toString('base64')), 'no base64 PEM');
    assert.equal(
      ((stored?.object?.metadata.annotations ?? {}) as Record<string, string>)['attache.io/groups'],
      'a',
      'annotations other than last-applied stay readable',
    );
    const reader = new SecretSealingEventLog(inner, {
      keys: new KeyRing([k2, k1]),
      plaintext: 'refuse',
      log,
    });
    assert.deepEqual((await all(reader))[0], secretEvent());
  });

  test('sealed secrets — without keys production refuses to carry material, dev carries it', async () => {
    const inner = new MemoryEventLog();
    await new SecretSealingEventLog(inner, { plaintext: 'refuse', log }).publish(secretEvent());
    const [refused] = await all(inner);
    assert.equal(refused?.object?.data, undefined);
    assert.match(
      ((refused?.object?.metadata.annotations ?? {}) as Record<string, string>)[REFUSED_ANNOTATION] ?? '',
      /no secret keys/,
    );
    assert.ok(!rawText(refused!).includes('PRIVATE KEY'));

    const dev = new MemoryEventLog();
    await new SecretSealingEventLog(dev, { plaintext: 'allow', log }).publish(secretEvent());
    assert.deepEqual((await all(dev))[0], secretEvent(), 'attache dev keeps plaintext');
    const [unusable] = await all(new SecretSealingEventLog(dev, { plaintext: 'refuse', log }));
    assert.equal(unusable?.object?.data, undefined, 'a keyless production reader does not use plaintext');
    const sealed = new MemoryEventLog();
    await new SecretSealingEventLog(sealed, { keys: new KeyRing([k1]), plaintext: 'refuse', log }).publish(
      secretEvent(),
    );
    const [wrongKey] = await all(
      new SecretSealingEventLog(sealed, { keys: new KeyRing([k2]), plaintext: 'refuse', log }),
    );
    assert.match(
      ((wrongKey?.object?.metadata.annotations ?? {}) as Record<string, string>)[REFUSED_ANNOTATION] ?? '',
      /key id k1/,
    );
  });
});
