/**
 * The physical floor of a push: how long a plain loopback TCP socket takes to move the same bytes
 * on this machine, at the same moment. A child process (like the fan-out) writes `bytes` in
 * `chunk`-sized writes of one shared buffer, honouring back-pressure, to a sink in this process
 * (like the simulator) that only counts; the time is from the first byte received to the last.
 */
import { spawn } from 'node:child_process';
import net from 'node:net';

const WRITER = `
const net = require('node:net');
const [port, total, chunk] = process.argv.slice(1).map(Number);
const buf = Buffer.alloc(chunk, 7);
const sock = net.connect(port, '127.0.0.1', () => {
  let left = total;
  const pump = () => {
    while (left > 0) {
      const n = Math.min(chunk, left);
      left -= n;
      if (!sock.write(n === chunk ? buf : buf.subarray(0, n))) return sock.once('drain', pump);
    }
    sock.end();
  };
  pump();
});
sock.on('close', () => process.exit(0));
`;

/** Milliseconds to move `bytes` over loopback (null if it could not be measured in `timeoutMs`). */
export async function loopbackFloorMs(
  bytes: number,
  chunk: number,
  timeoutMs = 60_000,
): Promise<number | null> {
  if (bytes <= 0) return null;
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  try {
    const done = new Promise<number | null>((resolve) => {
      const timer = setTimeout(() => resolve(null), timeoutMs);
      server.once('connection', (sock) => {
        let first = 0;
        let got = 0;
        sock.on('data', (d: Buffer) => {
          if (got === 0) first = performance.now();
          got += d.length;
        });
        sock.on('end', () => {
          clearTimeout(timer);
          resolve(got === bytes ? performance.now() - first : null);
        });
        sock.on('error', () => resolve(null));
      });
    });
    const child = spawn(
      process.execPath,
      ['-e', WRITER, String(port), String(bytes), String(Math.max(1, chunk))],
      {
        stdio: 'ignore',
      },
    );
    const ms = await done;
    child.kill('SIGKILL');
    return ms === null ? null : Math.round(ms * 10) / 10;
  } finally {
    server.close();
  }
}
