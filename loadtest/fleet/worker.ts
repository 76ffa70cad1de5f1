/**
 * A simulator worker process (forked by the driver): holds a share of the fleet's streams and
 * answers the driver's requests (see worker-protocol.ts). It exits when the driver goes away, so
 * a killed benchmark never leaves clients behind.
 */
import { envoyRoot } from '../../proto/root.ts';
import { errorMessage } from '../../shared/runtime/errors.ts';
import { StreamFleet } from './stream-fleet.ts';
import {
  PROGRESS_INTERVAL_MS,
  type RequestEnvelope,
  type WorkerMessage,
  type WorkerRequest,
} from './worker-protocol.ts';

if (!process.send) {
  process.stderr.write('loadtest/fleet/worker.ts runs only as a forked child of the fleet benchmark\n');
  process.exit(2);
}

// Load the Envoy proto root before the first stream opens, so its load time is not in the numbers.
envoyRoot();

let fleet: StreamFleet | undefined;
let progressTimer: NodeJS.Timeout | undefined;
let fatalSent = false;

function send(msg: WorkerMessage): void {
  if (process.connected) process.send?.(msg);
}

function handle(req: WorkerRequest): unknown {
  switch (req.op) {
    case 'start': {
      if (fleet) throw new Error('worker already started');
      fleet = new StreamFleet(req.arg, (code, message) => {
        if (fatalSent) return;
        fatalSent = true;
        send({ t: 'fatal', code, message });
      });
      fleet.start();
      progressTimer = setInterval(() => {
        if (fleet) send({ t: 'progress', p: fleet.progress() });
      }, PROGRESS_INTERVAL_MS);
      return null;
    }
    case 'arm':
      need().arm(req.arg);
      return null;
    case 'probe':
      return need().probeReport(req.arg.id);
    case 'ttfc':
      return need().ttfc();
    case 'mark':
      return need().mark();
    case 'compare':
      return need().compare();
    case 'stop':
      shutdown();
      return null;
  }
}

function need(): StreamFleet {
  if (!fleet) throw new Error('worker not started');
  return fleet;
}

function shutdown(): void {
  if (progressTimer) clearInterval(progressTimer);
  fleet?.close();
  // Let the answer reach the driver, then go, whatever grpc-js still holds open.
  setTimeout(() => process.exit(0), 200).unref();
}

process.on('message', (msg: RequestEnvelope) => {
  if (msg?.t !== 'req') return;
  try {
    send({ t: 'res', id: msg.id, ok: true, value: handle(msg.req) });
  } catch (err) {
    send({ t: 'res', id: msg.id, ok: false, error: errorMessage(err) });
  }
});
process.on('disconnect', () => {
  fleet?.close();
  process.exit(0);
});
