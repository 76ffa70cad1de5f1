/**
 * Publishes fleet events to NATS with plain core publish: fire-and-forget, never awaited by the
 * xDS path. While the connection is down (not yet up, or reconnecting) events wait in a bounded
 * queue; when it is full the oldest are dropped and counted. Without NATS the fan-out serves xDS
 * as usual: this runner is always ready.
 */

import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Counter, type Registry } from 'prom-client';
import { type NatsSecurity, natsServers } from '../../../shared/runtime/connection-flags.ts';
import { errorMessage } from '../../../shared/runtime/errors.ts';
import type { Logger } from '../../../shared/runtime/logger.ts';
import { RetryBackoff } from '../../../shared/runtime/retry.ts';
import type { Runner } from '../../../shared/runtime/runner.ts';

export interface FleetEventPublisherOptions {
  /** NATS URL(s), comma-separated. */
  servers: string;
  /** Credentials and TLS. */
  security?: NatsSecurity;
  log: Logger;
  registry: Registry;
  /** Events held while disconnected (default 10,000). */
  maxQueue?: number;
  /** Connection name shown by the NATS server. */
  name?: string;
}

export class FleetEventPublisher implements Runner {
  readonly name = 'fleet-events';
  private nc?: NatsConnection;
  private up = false;
  private closing = false;
  private readonly queue: Array<[string, Uint8Array]> = [];
  private readonly maxQueue: number;
  private readonly log: Logger;
  private readonly published: Counter<'kind'>;
  private readonly dropped: Counter;
  private connecting?: Promise<void>;
  private retryWake?: () => void;

  constructor(private readonly opts: FleetEventPublisherOptions) {
    this.log = opts.log.child({ component: 'fleet-events' });
    this.maxQueue = opts.maxQueue ?? 10_000;
    this.published = new Counter({
      name: 'attache_fanout_fleet_events_published_total',
      help: 'Fleet events handed to NATS, by kind',
      labelNames: ['kind'],
      registers: [opts.registry],
    });
    this.dropped = new Counter({
      name: 'attache_fanout_fleet_events_dropped_total',
      help: 'Fleet events dropped because the queue was full while NATS was unreachable',
      registers: [opts.registry],
    });
  }

  /** Starts connecting in the background; never blocks the service on NATS. */
  async start(): Promise<void> {
    this.connecting = this.connectLoop();
  }

  ready(): boolean {
    return true;
  }

  /** True while connected (events go straight out). */
  get connected(): boolean {
    return this.up;
  }

  /** Events waiting for a connection. */
  get queued(): number {
    return this.queue.length;
  }

  /** Publishes `body` as JSON on `subject`, or queues it while disconnected. Never throws. */
  publish(subject: string, body: unknown): void {
    if (this.closing) return;
    const bytes = Buffer.from(JSON.stringify(body));
    const kind = subject.slice(subject.lastIndexOf('.') + 1);
    if (this.up && this.nc) {
      try {
        this.nc.publish(subject, bytes);
        this.published.inc({ kind });
        return;
      } catch (err) {
        this.log.debug({ err: errorMessage(err) }, 'publish failed; queueing');
      }
    }
    if (this.queue.length >= this.maxQueue) {
      this.queue.shift();
      this.dropped.inc();
    }
    this.queue.push([subject, bytes]);
  }

  async close(): Promise<void> {
    this.closing = true;
    this.retryWake?.();
    const nc = this.nc;
    this.nc = undefined;
    this.up = false;
    if (nc) {
      try {
        await nc.drain();
      } catch {
        await nc.close().catch(() => {});
      }
    }
    await this.connecting;
  }

  private async connectLoop(): Promise<void> {
    let nc: NatsConnection | undefined;
    // First connection: retried here (not with waitOnFirstConnect) so close() can stop it.
    // Reconnecting: every second (jittered), or at once when an event is queued meanwhile.
    const retry = new RetryBackoff({ initialMs: 1000, maxMs: 1000, factor: 1 });
    for (let attempt = 0; !nc; attempt++) {
      if (this.closing) return;
      try {
        nc = await connect({
          ...this.opts.security,
          servers: natsServers(this.opts.servers),
          name: this.opts.name ?? 'attache-fanout-fleet-events',
          maxReconnectAttempts: -1,
          reconnectTimeWait: 1000,
        });
      } catch (err) {
        if (attempt === 0) {
          this.log.warn({ err: errorMessage(err) }, 'fleet events: NATS unreachable; queueing and retrying');
        }
        await new Promise<void>((resolve) => {
          this.retryWake = resolve;
          setTimeout(resolve, retry.next()).unref();
        });
      }
    }
    if (this.closing) {
      await nc.close().catch(() => {});
      return;
    }
    this.nc = nc;
    this.up = true;
    this.log.info({ server: nc.getServer() }, 'fleet events: connected to NATS');
    this.flush();
    for await (const s of nc.status()) {
      if (s.type === 'disconnect') this.up = false;
      else if (s.type === 'reconnect') {
        this.up = true;
        this.flush();
      }
    }
  }

  private flush(): void {
    const nc = this.nc;
    if (!nc) return;
    while (this.up && this.queue.length > 0) {
      const [subject, bytes] = this.queue.shift() as [string, Uint8Array];
      try {
        nc.publish(subject, bytes);
        this.published.inc({ kind: subject.slice(subject.lastIndexOf('.') + 1) });
      } catch {
        this.queue.unshift([subject, bytes]);
        return;
      }
    }
  }
}
