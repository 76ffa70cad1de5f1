/**
 * A proxyless gRPC client (real @grpc/grpc-js-xds) for the quick start: dials xds:///echo.local
 * through `attache dev` on 127.0.0.1:18000 and prints how RPCs split across the backends.
 * Usage: npm run example:client -- [rpcs=200] [xds-port=18000] [host=echo.local]
 */
import { createXdsEchoClient, FAILED } from '../test/harness/xds-client.ts';

const [rpcs = '200', port = '18000', host = 'echo.local'] = process.argv.slice(2);
const client = createXdsEchoClient({
  serverPort: Number(port),
  nodeId: `example-client-${process.pid}`,
  target: `xds:///${host}`,
});
try {
  await client.echo('hello', 10_000);
  const counts = await client.countBackends(Number(rpcs));
  process.stdout.write(`${rpcs} RPCs to xds:///${host}:\n`);
  for (const [backend, n] of [...counts].sort()) {
    const label = backend === FAILED ? 'failed' : backend;
    process.stdout.write(
      `  ${label.padEnd(8)} ${String(n).padStart(5)}  (${((100 * n) / Number(rpcs)).toFixed(1)}%)\n`,
    );
  }
} catch (err) {
  process.stderr.write(`no answer through xds:///${host}: ${(err as Error).message}\n`);
  process.exitCode = 1;
} finally {
  client.close();
}
