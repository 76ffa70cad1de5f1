/**
 * Echo backends for end-to-end routing tests: real grpc-js servers on free loopback ports serving
 * `attache.echo.v1.Echo` from proto/echo.proto, each answering with its own name.
 */
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

export const ECHO_PROTO_PATH = fileURLToPath(new URL('../../proto/echo.proto', import.meta.url));

export interface EchoRequest {
  message: string;
}

export interface EchoReply {
  message: string;
  backend: string;
}

let loaded: grpc.GrpcObject | undefined;

/** The `attache.echo.v1.Echo` client constructor (with its `service` definition). */
export function echoServiceClient(): grpc.ServiceClientConstructor {
  if (!loaded) {
    const def = protoLoader.loadSync(ECHO_PROTO_PATH, { keepCase: true, defaults: true });
    loaded = grpc.loadPackageDefinition(def);
  }
  const pkg = ((loaded.attache as grpc.GrpcObject).echo as grpc.GrpcObject).v1 as grpc.GrpcObject;
  return pkg.Echo as grpc.ServiceClientConstructor;
}

export interface EchoBackend {
  readonly port: number;
  readonly name: string;
  /** Calls answered so far. */
  readonly calls: number;
  stop(): Promise<void>;
}

/** Starts an echo backend named `name` on 127.0.0.1 and `port` (a free one by default). */
export async function startEchoBackend(name: string, port = 0): Promise<EchoBackend> {
  const server = new grpc.Server();
  let calls = 0;
  server.addService(echoServiceClient().service, {
    Echo: (call: grpc.ServerUnaryCall<EchoRequest, EchoReply>, cb: grpc.sendUnaryData<EchoReply>) => {
      calls++;
      cb(null, { message: call.request.message, backend: name });
    },
  });
  const bound = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  let stopped = false;
  return {
    port: bound,
    name,
    get calls() {
      return calls;
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      server.forceShutdown();
    },
  };
}
