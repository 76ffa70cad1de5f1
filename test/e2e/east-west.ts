/**
 * The two-cluster setup the multi-cluster tests share: real nats-server -js and redis-server, one
 * gRPC echo backend per cluster (`east`, `west`), and the multi-cluster pipeline with east local
 * and remote endpoints `prefer-local`. How the clusters' objects reach the event log (published
 * directly or through ingestors) is the test's own business.
 */
import assert from 'node:assert/strict';
import { eventually } from '../harness/eventually.ts';
import { type EchoBackend, startEchoBackend } from '../harness/grpc-echo.ts';
import { startNats, startRedis, type TestServer } from '../harness/servers.ts';
import { createXdsEchoClient, type XdsEchoClient } from '../harness/xds-client.ts';
import { ECHO_HOST, type MulticlusterPipeline, startMulticlusterPipeline } from './multicluster-pipeline.ts';

export interface EastWest {
  nats: TestServer;
  redis: TestServer;
  /** East's backend; a test that restarts it assigns the new one here so close() stops it. */
  east: EchoBackend;
  west: EchoBackend;
  pipeline: MulticlusterPipeline;
  /** Stops everything started here, the pipeline first. */
  close(): Promise<void>;
}

/** Starts the servers, both backends and the pipeline; on failure stops what had started. */
export async function startEastWest(): Promise<EastWest> {
  const started: Partial<Omit<EastWest, 'close'>> = {};
  const close = async () => {
    await started.pipeline?.close();
    await started.east?.stop();
    await started.west?.stop();
    await started.nats?.dispose();
    await started.redis?.dispose();
  };
  try {
    started.nats = await startNats();
    started.redis = await startRedis();
    started.east = await startEchoBackend('east');
    started.west = await startEchoBackend('west');
    started.pipeline = await startMulticlusterPipeline({
      natsUrl: started.nats.url,
      redisUrl: started.redis.url,
      policy: { localClusters: ['east'], remoteEndpoints: 'prefer-local' },
    });
  } catch (err) {
    await close();
    throw err;
  }
  // `started` is the rig itself, so close() stops the backend a test put in `east`.
  return Object.assign(started as Omit<EastWest, 'close'>, { close });
}

/** An xDS echo client for {@link ECHO_HOST} on the rig's ADS server. */
export function echoClient(rig: EastWest, nodeId: string): XdsEchoClient {
  return createXdsEchoClient({ serverPort: rig.pipeline.ads.port, nodeId, target: `xds:///${ECHO_HOST}` });
}

/** Waits until the client is configured and every one of 20 RPCs is answered by east. */
export async function untilAllOnEast(client: XdsEchoClient): Promise<void> {
  await eventually(() => client.echo('warm-up', 5000), { timeoutMs: 30_000 });
  await eventually(async () => assert.deepEqual([...(await client.countBackends(20))], [['east', 20]]));
}
