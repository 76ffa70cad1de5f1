/**
 * The shared decoded requests of request-memo.ts: identical bytes without a node decode once;
 * requests naming a node, oversized or malformed ones are decoded every time; what is kept stays
 * within its byte budget.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CLUSTER_TYPE, ENDPOINT_TYPE } from '../../../shared/xds/type-urls.ts';
import { declaredIn } from './delta-diff.ts';
import {
  decodeDeltaDiscoveryRequest,
  decodeDiscoveryRequest,
  encodeDeltaDiscoveryRequest,
  encodeDiscoveryRequest,
} from './discovery-codec.ts';
import { MAX_KEPT_BYTES, RequestMemo } from './request-memo.ts';

const versions = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`cluster-${i}`, `v${i}`]));

describe('fan-out request memo', () => {
  test('request memo — identical delta requests without a node share one decoded request and one declaration', () => {
    const memo = new RequestMemo(decodeDeltaDiscoveryRequest, 1);
    const bytes = encodeDeltaDiscoveryRequest({
      type_url: ENDPOINT_TYPE,
      initial_resource_versions: versions,
    });
    const a = memo.decode(Buffer.from(bytes));
    const b = memo.decode(Buffer.from(bytes));
    assert.equal(b, a);
    assert.equal(memo.hits, 1);
    assert.deepEqual({ ...a.initial_resource_versions }, versions);
    assert.equal(declaredIn(b.initial_resource_versions), declaredIn(a.initial_resource_versions));
    const other = memo.decode(
      encodeDeltaDiscoveryRequest({
        type_url: ENDPOINT_TYPE,
        initial_resource_versions: { ...versions, x: 'y' },
      }),
    );
    assert.notEqual(other, a);
    assert.equal(other.initial_resource_versions.x, 'y');
  });

  test('request memo — a request naming a node, an oversized or a malformed one is decoded every time', () => {
    const delta = new RequestMemo(decodeDeltaDiscoveryRequest, 1);
    const withNode = encodeDeltaDiscoveryRequest({ node: { id: 'n1' }, type_url: CLUSTER_TYPE });
    assert.notEqual(delta.decode(withNode), delta.decode(withNode));
    const sotw = new RequestMemo(decodeDiscoveryRequest, 2);
    // SotW's node is field 2, after version_info: found wherever it is.
    const resumed = encodeDiscoveryRequest({
      version_info: 'v1',
      node: { id: 'n2' },
      type_url: CLUSTER_TYPE,
    });
    assert.equal(sotw.decode(resumed).node?.id, 'n2');
    assert.notEqual(sotw.decode(resumed), sotw.decode(resumed));
    const big = encodeDiscoveryRequest({
      type_url: ENDPOINT_TYPE,
      resource_names: Array.from({ length: 2000 }, (_, i) => `cluster-${i}`),
    });
    assert.ok(big.length > MAX_KEPT_BYTES);
    assert.notEqual(sotw.decode(big), sotw.decode(big));
    assert.equal(sotw.hits + delta.hits, 0);
    const malformed = Buffer.from([0x0a, 0xff]);
    assert.throws(() => sotw.decode(malformed), RangeError);
    assert.throws(() => sotw.decode(malformed), RangeError);
  });

  test('request memo — what is kept stays within the byte budget, the least recently used going first', () => {
    const memo = new RequestMemo(decodeDiscoveryRequest, 2, 64 * 1024);
    const req = (i: number) =>
      Buffer.from(
        encodeDiscoveryRequest({
          type_url: ENDPOINT_TYPE,
          version_info: `v${i}`,
          resource_names: ['a'.repeat(1000)],
        }),
      );
    const first = memo.decode(req(0));
    for (let i = 1; i < 100; i++) memo.decode(req(i));
    assert.notEqual(memo.decode(req(0)), first, 'evicted');
    const last = memo.decode(req(99));
    assert.equal(memo.decode(req(99)), last, 'recent ones kept');
  });
});
