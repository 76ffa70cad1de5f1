import { FAILED, type XdsEchoClient } from './xds-client.ts';

/** One RPC outcome: the backend that answered (or {@link FAILED}) and when the RPC completed. */
export interface RpcSample {
  at: number;
  backend: string;
  /** Why the RPC failed (gRPC code and details), for failed ones. */
  error?: string;
}

export interface RpcLoop {
  /** Outcomes so far, in completion order; grows until {@link RpcLoop.stop}. */
  readonly samples: RpcSample[];
  /** Stops after the RPC in flight and resolves once it has been recorded. */
  stop(): Promise<void>;
}

/**
 * Sends echo RPCs back to back until stopped, recording each outcome; `deadlineMs` per RPC
 * (default 1 s).
 */
export function rpcLoop(client: XdsEchoClient, deadlineMs = 1000): RpcLoop {
  const samples: RpcSample[] = [];
  let running = true;
  const done = (async () => {
    while (running) {
      try {
        const { backend } = await client.echo('ping', deadlineMs);
        samples.push({ at: Date.now(), backend });
      } catch (err) {
        samples.push({ at: Date.now(), backend: FAILED, error: String(err) });
      }
    }
  })();
  return {
    samples,
    async stop() {
      running = false;
      await done;
    },
  };
}
