/**
 * gRPC framing of the h2 transport: a response written as head + shared body, or as one shared
 * (optionally gzip-compressed) message, decodes to the same DiscoveryResponse; request messages
 * split anywhere across chunks are reassembled; an oversize one is refused before buffering.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { gunzipSync, gzipSync } from 'node:zlib';
import protobuf from 'protobufjs';
import { decodeDiscoveryResponse, encodeResponseBody, withNonce } from './discovery-codec.ts';
import { FrameError, MessageReader, parseGrpcTimeout, responseHead, sharedMessage } from './grpc-wire.ts';

const any = (value: Buffer) =>
  protobuf.Writer.create().uint32(10).string('type.googleapis.com/x').uint32(18).bytes(value).finish();
const body = encodeResponseBody('v1', 'type.googleapis.com/x', [
  any(Buffer.alloc(4000, 1)),
  any(Buffer.alloc(10, 2)),
]);

function unframe(message: Buffer): { compressed: boolean; payload: Buffer } {
  const length = message.readUInt32BE(1);
  assert.equal(message.length, 5 + length, 'prefix length matches the message');
  return { compressed: message[0] === 1, payload: message.subarray(5) };
}

describe('gRPC wire framing', () => {
  test('wire — head + body, the shared message and its gzip form all decode to the same response', () => {
    const expected = decodeDiscoveryResponse(withNonce(body, 'n-7'));
    const head = responseHead('n-7', body.length);
    const split = unframe(Buffer.concat([head, body]));
    assert.deepEqual(decodeDiscoveryResponse(split.payload), expected);
    let copied = 0;
    const plain = sharedMessage(body, 'n-7', false, (n) => {
      copied += n;
    });
    assert.equal(
      sharedMessage(body, 'n-7', false, () => assert.fail('framed twice')),
      plain,
      'framed once',
    );
    assert.equal(copied, plain.length);
    assert.deepEqual(decodeDiscoveryResponse(unframe(plain).payload), expected);
    const gz = sharedMessage(body, 'n-7', true, () => {});
    const packed = unframe(gz);
    assert.equal(packed.compressed, true);
    assert.ok(gz.length < plain.length / 4, `${gz.length} B compressed vs ${plain.length} B`);
    assert.deepEqual(decodeDiscoveryResponse(gunzipSync(packed.payload)), expected);
    const other = sharedMessage(body, 'n-8', false, () => {});
    assert.equal(decodeDiscoveryResponse(unframe(other).payload).nonce, 'n-8', 'another nonce, other frames');
  });

  test('wire — requests split anywhere are reassembled; gzip requests are inflated; oversize is refused', () => {
    const msgs = [Buffer.from('first'), Buffer.alloc(300, 9), Buffer.alloc(0)];
    const stream = Buffer.concat(
      msgs.map((m) => {
        const f = Buffer.alloc(5 + m.length);
        f.writeUInt32BE(m.length, 1);
        m.copy(f, 5);
        return f;
      }),
    );
    for (const step of [1, 3, 7, 64, stream.length]) {
      const r = new MessageReader(1000, 'identity');
      const got: Buffer[] = [];
      for (let i = 0; i < stream.length; i += step) got.push(...r.push(stream.subarray(i, i + step)));
      assert.deepEqual(got, msgs, `chunks of ${step}`);
    }
    const z = gzipSync(Buffer.from('hello'));
    const zf = Buffer.alloc(5 + z.length);
    zf[0] = 1;
    zf.writeUInt32BE(z.length, 1);
    z.copy(zf, 5);
    assert.deepEqual(new MessageReader(1000, 'gzip').push(zf), [Buffer.from('hello')]);
    assert.throws(() => new MessageReader(1000, 'identity').push(zf), FrameError);
    const big = Buffer.from([0, 0, 0, 0x10, 0]);
    assert.throws(
      () => new MessageReader(1000, 'identity').push(big),
      (e: unknown) => e instanceof FrameError && e.code === 8,
    );
  });

  test('wire — grpc-timeout units', () => {
    assert.equal(parseGrpcTimeout('2S'), 2000);
    assert.equal(parseGrpcTimeout('250m'), 250);
    assert.equal(parseGrpcTimeout('1H'), 3_600_000);
    assert.equal(parseGrpcTimeout('bogus'), undefined);
  });
});
