import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseServiceRef } from './service-ref.ts';

test('service ref — Kubernetes forms default the namespace and the port', () => {
  assert.deepEqual(parseServiceRef('quote', 'shop'), {
    ok: true,
    target: {
      kind: 'kubernetes',
      name: 'quote',
      namespace: 'shop',
      port: 80,
      portExplicit: false,
      tls: false,
    },
  });
  assert.deepEqual(parseServiceRef('quote.other:8080', 'shop'), {
    ok: true,
    target: {
      kind: 'kubernetes',
      name: 'quote',
      namespace: 'other',
      port: 8080,
      portExplicit: true,
      tls: false,
    },
  });
  assert.deepEqual(parseServiceRef('https://Quote.other.svc.cluster.local', 'shop'), {
    ok: true,
    target: {
      kind: 'kubernetes',
      name: 'quote',
      namespace: 'other',
      port: 443,
      portExplicit: false,
      tls: true,
    },
  });
});

test('service ref — IP literals, bracketed IPv6', () => {
  assert.deepEqual(parseServiceRef('127.0.0.1:9001', 'x'), {
    ok: true,
    target: { kind: 'ip', address: '127.0.0.1', port: 9001, tls: false },
  });
  assert.deepEqual(parseServiceRef('https://[::1]', 'x'), {
    ok: true,
    target: { kind: 'ip', address: '::1', port: 443, tls: true },
  });
});

test('service ref — malformed strings are rejected with a reason', () => {
  for (const bad of [
    'ftp://x',
    '::1',
    'svc:0',
    'svc:http',
    'svc/path',
    'api.example.com',
    'Bad_Name',
    'http://',
    '[::1',
  ]) {
    const r = parseServiceRef(bad, 'default');
    assert.equal(r.ok, false, bad);
  }
});
