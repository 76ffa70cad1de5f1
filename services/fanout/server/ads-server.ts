/**
 * The ADS gRPC server of a fan-out node: binds, serves state-of-the-world ADS from a snapshot
 * source, and on close ends every stream (status OK, so clients reconnect) before shutting down.
 */
import * as grpc from '@grpc/grpc-js';
import type { Registry } from 'prom-client';
import type { Logger } from '../../../shared/runtime/logger.ts';
import type { Runner } from '../../../shared/runtime/runner.ts';
import type { SnapshotSource } from '../cache/group-snapshot.ts';
import type { AdsEvents } from './ads-events.ts';
import { AdsMetrics } from './ads-metrics.ts';
import { adsServiceDefinition } from './ads-service.ts';
import { SotwServer, type StreamStatus } from './sotw-server.ts';

export interface AdsServerRunnerOptions {
  cache: SnapshotSource;
  host: string;
  /** 0 picks a free port; read it back from {@link AdsServerRunner.port}. */
  port: number;
  log: Logger;
  registry: Registry;
  /** Group for nodes whose metadata names none (Emissary's `ambassador_id` default is `default`). */
  defaultGroup?: string;
  events?: AdsEvents;
  /** How long close() lets calls finish before forcing the shutdown. */
  shutdownGraceMs?: number;
}

export class AdsServerRunner implements Runner {
  readonly name = 'ads-server';
  private server?: grpc.Server;
  private sotw?: SotwServer;
  private boundPort = 0;
  private readonly log: Logger;

  constructor(private readonly opts: AdsServerRunnerOptions) {
    this.log = opts.log.child({ component: 'ads' });
  }

  /** The bound port once started (the configured one before). */
  get port(): number {
    return this.boundPort || this.opts.port;
  }

  /** Open ADS streams. */
  get streamCount(): number {
    return this.sotw?.streamCount ?? 0;
  }

  /** Open streams with their node, group and versions sent/acknowledged per type. */
  streams(): StreamStatus[] {
    return this.sotw?.status() ?? [];
  }

  async start(): Promise<void> {
    const sotw = new SotwServer({
      source: this.opts.cache,
      metrics: new AdsMetrics(this.opts.registry),
      log: this.log,
      defaultGroup: this.opts.defaultGroup ?? 'default',
      events: this.opts.events,
    });
    const server = new grpc.Server();
    server.addService(adsServiceDefinition, { StreamAggregatedResources: sotw.handle });
    const host = this.opts.host.includes(':') ? `[${this.opts.host}]` : this.opts.host;
    try {
      this.boundPort = await new Promise<number>((resolve, reject) => {
        server.bindAsync(`${host}:${this.opts.port}`, grpc.ServerCredentials.createInsecure(), (err, port) =>
          err ? reject(err) : resolve(port),
        );
      });
    } catch (err) {
      sotw.close();
      throw err;
    }
    this.server = server;
    this.sotw = sotw;
    this.log.info({ host: this.opts.host, port: this.boundPort }, 'ADS listening');
  }

  ready(): boolean {
    return this.server !== undefined;
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    this.sotw?.close();
    const grace = this.opts.shutdownGraceMs ?? 2000;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        server.forceShutdown();
        resolve();
      }, grace);
      server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}
