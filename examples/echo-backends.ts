/**
 * Two gRPC echo backends for the quick start: `stable` on 127.0.0.1:9001 and `canary` on
 * 127.0.0.1:9002, matching examples/quickstart/backends.yaml. Ctrl-C stops them.
 */
import { startEchoBackend } from '../test/harness/grpc-echo.ts';

const backends = await Promise.all([startEchoBackend('stable', 9001), startEchoBackend('canary', 9002)]);
for (const b of backends) process.stdout.write(`echo backend '${b.name}' listening on 127.0.0.1:${b.port}\n`);
process.once('SIGINT', async () => {
  await Promise.all(backends.map((b) => b.stop()));
  process.exit(0);
});
