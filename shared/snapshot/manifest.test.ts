import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { prng } from '../../services/compiler/test-prng.ts';
import {
  canonicalJson,
  encodeManifest,
  MANIFEST_SCHEMA,
  type Manifest,
  type ManifestEntry,
  typeManifest,
  typeVersion,
} from './manifest.ts';

const NAMES = ['a', 'k8s/ns/svc/80', 'é"\\\n', 'z\u2028', '', 'api:x.example.com'];

test('encodeManifest — byte for byte the canonical JSON, including reused type manifests, chunk lists and odd names', () => {
  const r = prng(3);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(r() * xs.length)] as T;
  let previous: Manifest | undefined;
  for (let i = 0; i < 200; i++) {
    const types: Manifest['types'] = {};
    for (const t of ['type.googleapis.com/b.Cluster', 'type.googleapis.com/a.Listener', 'x']) {
      if (r() < 0.1) continue;
      const old = previous?.types[t as keyof Manifest['types']];
      if (old && r() < 0.5) {
        types[t as keyof Manifest['types']] = old;
        continue;
      }
      const entries = Array.from({ length: Math.floor(r() * 5) }, (_, k) => ({
        name: `${pick(NAMES)}${k}`,
        hash: `${Math.floor(r() * 1e9)}`,
        ...(r() < 0.2 ? { chunks: Array.from({ length: Math.floor(r() * 3) }, (_, c) => `c${c}"`) } : {}),
        ...(r() < 0.2 ? { onDemand: true as const } : {}),
      }));
      types[t as keyof Manifest['types']] = typeManifest(entries);
    }
    const m: Manifest = {
      schema: MANIFEST_SCHEMA,
      group: pick(NAMES),
      version: Math.floor(r() * 1e6),
      types,
      diagnostics: 'd'.repeat(Math.floor(r() * 3)),
      ...(r() < 0.4 ? { provenance: 'p' } : {}),
      ...(r() < 0.4
        ? { provenancePieces: Array.from({ length: Math.floor(r() * 4) }, (_, k) => `h${k}"\\`) }
        : {}),
    };
    assert.equal(Buffer.from(encodeManifest(m)).toString('utf8'), canonicalJson(m), `manifest ${i}`);
    previous = m;
  }
  const odd = { ...(previous as Manifest), extra: { b: 1, a: [2] } } as unknown as Manifest;
  assert.equal(Buffer.from(encodeManifest(odd)).toString('utf8'), canonicalJson(odd), 'unknown keys');
});

test('typeVersion — the sha256 of the joined `name hash` lines, for odd names, long lists and names longer than its buffer', () => {
  const r = prng(5);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(r() * xs.length)] as T;
  const odd = [...NAMES, '\ud800', 'x\udc00y', '😀', 'ü'.repeat(40_000)];
  const joined = (entries: readonly ManifestEntry[]) =>
    createHash('sha256')
      .update(entries.map((e) => `${e.name} ${e.hash}${e.onDemand ? ' d' : ''}`).join('\n'))
      .digest('hex')
      .slice(0, 16);
  for (let i = 0; i < 60; i++) {
    const entries: ManifestEntry[] = Array.from(
      { length: i === 0 ? 0 : Math.floor(r() * (i % 10 === 0 ? 5000 : 50)) },
      (_, k) => ({
        name: `${pick(odd)}${k}`,
        hash: `${Math.floor(r() * 1e12).toString(16)}`,
        ...(r() < 0.2 ? { onDemand: true as const } : {}),
      }),
    );
    assert.equal(typeVersion(entries), joined(entries), `list ${i}`);
  }
});
