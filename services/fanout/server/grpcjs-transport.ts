/**
 * The xDS services on a grpc-js server (`--xds-transport grpc-js`): the fallback transport.
 * grpc-js serializes every response into a new framed buffer per stream (it copies the whole
 * message, see h2-transport.ts for the transport that does not), so here each response is the
 * body with the nonce appended, then copied again by grpc-js.
 *
 * Memory: a call carries its stream under a symbol and every call shares the same five event
 * listeners (module functions reading the stream from `this`), so a stream costs its own small
 * state object, one adapter, and nothing per resource.
 */
import * as grpc from '@grpc/grpc-js';
import type { TypeUrl } from '../../../shared/xds/type-urls.ts';
import { adsServiceDefinition, TYPE_SERVICES, typeServiceDefinition } from './ads-service.ts';
import { withNonce } from './discovery-codec.ts';
import type { StreamHub } from './stream-hub.ts';
import type { Outgoing, StreamCall, WriteCounters, XdsStream } from './xds-stream.ts';

type Call = grpc.ServerDuplexStream<unknown, Buffer>;
type Carrier = Call & { [STREAM]?: XdsStream };

const STREAM = Symbol('xds-stream');

function onData(this: Carrier, req: unknown): void {
  this[STREAM]?.receive(req);
}
function onEnd(this: Carrier): void {
  this[STREAM]?.halfClosed();
}
function onCancelled(this: Carrier): void {
  this[STREAM]?.close('cancelled');
}
function onError(this: Carrier, err: unknown): void {
  this[STREAM]?.close('error', err);
}
function onClose(this: Carrier): void {
  this[STREAM]?.close('closed');
}

class GrpcJsCall implements StreamCall {
  constructor(
    private readonly call: Call,
    private readonly counters: WriteCounters,
  ) {}

  send(out: Outgoing, cb: () => void): void {
    const message = withNonce(out.body, out.nonce);
    // Two copies of the whole message: ours (appending the nonce) and grpc-js's framing.
    this.counters.messages++;
    this.counters.bytes += 5 + message.length;
    this.counters.copied += message.length + 5 + message.length;
    this.call.write(message, () => cb());
  }

  end(): void {
    this.call.end();
  }

  fail(code: grpc.status, details: string): void {
    this.call.emit('error', { code, details });
  }
}

function handler(
  hub: StreamHub,
  counters: WriteCounters,
  protocol: 'sotw' | 'delta',
  onlyType?: TypeUrl,
): grpc.handleBidiStreamingCall<unknown, Buffer> {
  return (call) => {
    const stream = hub.open(
      {
        metadata: call.metadata,
        peerCertificate: call.getAuthContext()?.sslPeerCertificate,
        peer: call.getPeer(),
        out: new GrpcJsCall(call, counters),
      },
      protocol,
      onlyType,
    );
    if (!stream) return;
    const carrier = call as Carrier;
    carrier[STREAM] = stream;
    call.on('data', onData);
    call.on('end', onEnd);
    call.on('cancelled', onCancelled);
    call.on('error', onError);
    call.on('close', onClose);
  };
}

/** Adds ADS and the per-type services (Fetch answered UNIMPLEMENTED) to a grpc-js server. */
export function addXdsServices(server: grpc.Server, hub: StreamHub, counters: WriteCounters): void {
  server.addService(adsServiceDefinition, {
    StreamAggregatedResources: handler(hub, counters, 'sotw'),
    DeltaAggregatedResources: handler(hub, counters, 'delta'),
  });
  for (const spec of TYPE_SERVICES) {
    server.addService(typeServiceDefinition(spec), {
      [`Stream${spec.suffix}`]: handler(hub, counters, 'sotw', spec.typeUrl),
      [`Delta${spec.suffix}`]: handler(hub, counters, 'delta', spec.typeUrl),
      [`Fetch${spec.suffix}`]: (_call: unknown, callback: grpc.sendUnaryData<Buffer>) =>
        callback({ code: grpc.status.UNIMPLEMENTED, details: 'Fetch is not served; use Stream or Delta' }),
    });
  }
}
