import { FAILED, type XdsEchoClient } from './xds-client.ts';

/** One RPC outcome: the backend that answered (or {@link FAILED}) and when the RPC completed. */
export interface RpcSample {
  at: number;
  backend: string;
}

export interface RpcLoop {
  /** Outcomes so far, in completion order; grows until {@link RpcLoop.stop}. */
  readonly samples: RpcSample[];
  /** Stops after the RPC in flight and resolves once it has been recorded. */
  stop(): Promise<void>;
}

/** Sends echo RPCs (1 s deadline each) back to back until stopped, recording each outcome. */
export function rpcLoop(client: XdsEchoClient): RpcLoop {
  const samples: RpcSample[] = [];
  let running = true;
  const done = (async () => {
    while (running) {
      let backend: string;
      try {
        backend = (await client.echo('ping', 1000)).backend;
      } catch {
        backend = FAILED;
      }
      samples.push({ at: Date.now(), backend });
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
