/**
 * gRPC over HTTP/2 framing (https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-HTTP2.md) for
 * the fan-out's own server: length-prefixed messages, `grpc-timeout`, and `grpc-message`
 * percent-encoding. Pure functions and one small parser; nothing here knows HTTP/2 sessions.
 *
 * The write side never copies a response body: a response is the 5-byte prefix plus the
 * stream's own `nonce` field (a few dozen bytes, {@link responseHead}) followed by the shared,
 * already encoded body, written as a second buffer. Protobuf parsers accept fields in any order,
 * so putting field 5 (`nonce`) first yields the same message as appending it.
 */
import { gunzipSync, gzipSync, inflateSync, constants as zlibConstants } from 'node:zlib';

/** Field 5 (`nonce`, length-delimited) of DiscoveryResponse and DeltaDiscoveryResponse. */
const TAG_NONCE = (5 << 3) | 2;

function varintLength(n: number): number {
  let len = 1;
  while (n >= 0x80) {
    n >>>= 7;
    len++;
  }
  return len;
}

function writeVarint(buf: Buffer, pos: number, n: number): number {
  while (n >= 0x80) {
    buf[pos++] = (n & 0x7f) | 0x80;
    n >>>= 7;
  }
  buf[pos++] = n;
  return pos;
}

/**
 * The per-stream start of a response: the gRPC message prefix (uncompressed, length of nonce
 * field + body) and the encoded `nonce` field. The body follows as its own shared buffer.
 */
export function responseHead(nonce: string, bodyLength: number): Buffer {
  const nonceBytes = Buffer.byteLength(nonce);
  const fieldLength = 1 + varintLength(nonceBytes) + nonceBytes;
  const head = Buffer.allocUnsafe(5 + fieldLength);
  head[0] = 0;
  head.writeUInt32BE(fieldLength + bodyLength, 1);
  head[5] = TAG_NONCE;
  const at = writeVarint(head, 6, nonceBytes);
  head.write(nonce, at, 'utf8');
  return head;
}

/** Bodies smaller than this are never compressed (the gzip header alone costs ~20 bytes). */
const COMPRESS_MIN_BYTES = 1024;

interface SharedFrames {
  readonly nonce: string;
  plain?: Buffer;
  /** null: compressing did not make it smaller. */
  gzip?: Buffer | null;
}

/** Framed messages per shared body; they live exactly as long as the body does. */
const framesByBody = new WeakMap<Buffer, SharedFrames>();

/**
 * The complete gRPC message (prefix, nonce field, body) for a body every stream receives with the
 * same `nonce`, framed on first use and reused afterwards; gzip-compressed (flag 1) when `gzip`
 * is asked for and it helps. `onCopy` is told the bytes filled when a message is built (once per
 * body and encoding, never per stream). A body seen with another nonce gets new frames.
 */
export function sharedMessage(
  body: Buffer,
  nonce: string,
  gzip: boolean,
  onCopy: (bytes: number) => void,
): Buffer {
  let frames = framesByBody.get(body);
  if (!frames || frames.nonce !== nonce) {
    frames = { nonce };
    framesByBody.set(body, frames);
  }
  if (gzip && frames.gzip === undefined) {
    frames.gzip = null;
    if (body.length >= COMPRESS_MIN_BYTES) {
      const head = responseHead(nonce, body.length).subarray(5);
      const packed = gzipSync(Buffer.concat([head, body]));
      if (packed.length < head.length + body.length) {
        const framed = Buffer.allocUnsafe(5 + packed.length);
        framed[0] = 1;
        framed.writeUInt32BE(packed.length, 1);
        packed.copy(framed, 5);
        frames.gzip = framed;
        onCopy(framed.length + head.length + body.length);
      }
    }
  }
  if (gzip && frames.gzip) return frames.gzip;
  if (!frames.plain) {
    const head = responseHead(nonce, body.length);
    frames.plain = Buffer.concat([head, body], head.length + body.length);
    onCopy(frames.plain.length);
  }
  return frames.plain;
}

/** A whole gRPC message (prefix + payload) in one buffer: for small, per-stream messages only. */
export function frameMessage(payload: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(5 + payload.length);
  out[0] = 0;
  out.writeUInt32BE(payload.length, 1);
  out.set(payload, 5);
  return out;
}

/** Why a request stream cannot be read further; the call ends with this status. */
export class FrameError extends Error {
  override readonly name = 'FrameError';
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

const STATUS_RESOURCE_EXHAUSTED = 8;
const STATUS_INTERNAL = 13;
const STATUS_UNIMPLEMENTED = 12;

/**
 * Splits a request byte stream into messages. Contract: `push` returns every message completed
 * by the chunk (payloads, decompressed when flagged), or throws {@link FrameError} for a message
 * over `maxBytes` (RESOURCE_EXHAUSTED, before it is buffered), a compressed message without a
 * known `grpc-encoding`, or a decompression failure. It buffers at most one partial message.
 */
export class MessageReader {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** Length of the message being read (payload), or -1 while reading a prefix. */
  private want = -1;
  private compressed = false;

  constructor(
    private readonly maxBytes: number,
    private readonly encoding: string,
  ) {}

  push(chunk: Buffer): Buffer[] {
    const out: Buffer[] = [];
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    for (;;) {
      if (this.want < 0) {
        if (this.pendingBytes < 5) return out;
        const prefix = this.take(5);
        this.compressed = prefix[0] === 1;
        this.want = prefix.readUInt32BE(1);
        if (this.maxBytes > 0 && this.want > this.maxBytes) {
          throw new FrameError(
            STATUS_RESOURCE_EXHAUSTED,
            `Received message larger than max (${this.want} vs. ${this.maxBytes})`,
          );
        }
      }
      if (this.pendingBytes < this.want) return out;
      const payload = this.take(this.want);
      this.want = -1;
      out.push(this.compressed ? this.inflate(payload) : payload);
    }
  }

  private inflate(payload: Buffer): Buffer {
    const limit = this.maxBytes > 0 ? { maxOutputLength: this.maxBytes } : {};
    try {
      if (this.encoding === 'gzip') return gunzipSync(payload, limit);
      if (this.encoding === 'deflate') return inflateSync(payload, limit);
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === 'ERR_BUFFER_TOO_LARGE' || code === String(zlibConstants.Z_BUF_ERROR)) {
        throw new FrameError(
          STATUS_RESOURCE_EXHAUSTED,
          'Received message larger than max after decompression',
        );
      }
      throw new FrameError(STATUS_INTERNAL, 'Received a message that could not be decompressed');
    }
    throw new FrameError(
      STATUS_UNIMPLEMENTED,
      `Received a compressed message with grpc-encoding "${this.encoding}"`,
    );
  }

  /** Removes the first `n` buffered bytes (n <= pendingBytes), copying only across chunk edges. */
  private take(n: number): Buffer {
    if (n === 0) return Buffer.alloc(0);
    const first = this.pending[0] as Buffer;
    if (first.length >= n) {
      const out = first.subarray(0, n);
      if (first.length === n) this.pending.shift();
      else this.pending[0] = first.subarray(n);
      this.pendingBytes -= n;
      return out;
    }
    const out = Buffer.allocUnsafe(n);
    let at = 0;
    while (at < n) {
      const b = this.pending[0] as Buffer;
      const part = Math.min(b.length, n - at);
      b.copy(out, at, 0, part);
      at += part;
      if (part === b.length) this.pending.shift();
      else this.pending[0] = b.subarray(part);
    }
    this.pendingBytes -= n;
    return out;
  }
}

const TIMEOUT_UNITS: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 1e-3, n: 1e-6 };

/** Milliseconds of a `grpc-timeout` header value (`1S`, `250m`, …), or undefined if absent/invalid. */
export function parseGrpcTimeout(value: string | undefined): number | undefined {
  if (!value) return undefined;
  const m = /^(\d{1,8})([HMSmun])$/.exec(value);
  if (!m) return undefined;
  return Number(m[1]) * (TIMEOUT_UNITS[m[2] as string] as number);
}

/** `grpc-message` encoding: percent-encode everything outside printable ASCII and `%`. */
export function encodeGrpcMessage(message: string): string {
  let out = '';
  for (const byte of Buffer.from(message, 'utf8')) {
    out +=
      byte >= 0x20 && byte <= 0x7e && byte !== 0x25
        ? String.fromCharCode(byte)
        : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}
