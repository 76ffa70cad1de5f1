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
  /** Calls answered so far (scripted failures included). */
  readonly calls: number;
  /** Calls answered with a scripted failure. */
  readonly failures: number;
  stop(): Promise<void>;
}

/** What a failure script sees of one incoming call. */
export interface EchoCallInfo {
  /** 0-based index of the call among all calls this backend received. */
  index: number;
  /** Attempts of the same RPC before this one (gRPC's `grpc-previous-rpc-attempts`; 0 on the first). */
  previousAttempts: number;
  /** Request metadata, first value per key. */
  metadata: Record<string, string>;
}

export interface EchoBackendOptions {
  /** Port on 127.0.0.1; a free one by default. */
  port?: number;
  /** Scripted failures: return a status to fail the call with it, or undefined to answer normally. */
  fail?: (call: EchoCallInfo) => { code: grpc.status; details?: string } | undefined;
}

/**
 * Starts an echo backend named `name` on 127.0.0.1 and `port` (a free one by default), or with
 * options such as scripted failures.
 */
export async function startEchoBackend(
  name: string,
  portOrOptions: number | EchoBackendOptions = 0,
): Promise<EchoBackend> {
  const options = typeof portOrOptions === 'number' ? { port: portOrOptions } : portOrOptions;
  const port = options.port ?? 0;
  const server = new grpc.Server();
  let calls = 0;
  let failures = 0;
  server.addService(echoServiceClient().service, {
    Echo: (call: grpc.ServerUnaryCall<EchoRequest, EchoReply>, cb: grpc.sendUnaryData<EchoReply>) => {
      const index = calls++;
      const failure = options.fail?.(callInfo(index, call.metadata));
      if (failure) {
        failures++;
        cb({ code: failure.code, details: failure.details ?? `scripted failure on ${name}` });
        return;
      }
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
    get failures() {
      return failures;
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      server.forceShutdown();
    },
  };
}

function callInfo(index: number, metadata: grpc.Metadata): EchoCallInfo {
  const flat: Record<string, string> = {};
  for (const [key, values] of Object.entries(metadata.getMap())) flat[key] = String(values);
  return { index, previousAttempts: Number(flat['grpc-previous-rpc-attempts'] ?? 0), metadata: flat };
}
