/**
 * Hears the fleet from a process that runs no fan-out (`attache compile`): subscribes to every
 * group's `attache.fleet.<group>.status` and `.nack` subjects and keeps the latest status of each
 * (group, fan-out node) and the newest NACK events, for the diagnostics page. A status older than
 * `staleMs` is dropped (its fan-out node stopped reporting). Connects in the background and never
 * blocks the service: without NATS, or without the right to subscribe (k8s/nats.conf grants the
 * compiler `attache.fleet.>`), the page says why it shows no fleet.
 */
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { type NatsSecurity, natsServers } from '../../../shared/runtime/connection-flags.ts';
import { errorMessage } from '../../../shared/runtime/errors.ts';
import type { Logger } from '../../../shared/runtime/logger.ts';
import { RetryBackoff } from '../../../shared/runtime/retry.ts';
import type { Runner } from '../../../shared/runtime/runner.ts';
import { fleetFilter, type NackEvent, type StatusEvent } from './fleet-messages.ts';

export interface FleetWatcherOptions {
  /** NATS URL(s), comma-separated. */
  servers: string;
  security?: NatsSecurity;
  log: Logger;
  /** A status not renewed for this long is dropped (default 10 s: five missed 2 s reports). */
  staleMs?: number;
  /** NACK events kept, newest last (default 100). */
  maxNacks?: number;
}

/** What the watcher has heard: live statuses, recent NACK events, and why it hears nothing. */
export interface FleetHeard {
  statuses: StatusEvent[];
  nacks: readonly NackEvent[];
  problem?: string;
}

export class FleetWatcher implements Runner {
  readonly name = 'fleet-watcher';
  private nc?: NatsConnection;
  private closing = false;
  private connecting?: Promise<void>;
  private retryWake?: () => void;
  private problem: string | undefined = 'not connected to NATS yet';
  private readonly latest = new Map<string, { status: StatusEvent; heardAt: number }>();
  private readonly nacks: NackEvent[] = [];
  private readonly log: Logger;

  constructor(private readonly opts: FleetWatcherOptions) {
    this.log = opts.log.child({ component: 'fleet-watcher' });
  }

  async start(): Promise<void> {
    this.connecting = this.connectLoop();
  }

  ready(): boolean {
    return true;
  }

  async close(): Promise<void> {
    this.closing = true;
    this.retryWake?.();
    const nc = this.nc;
    this.nc = undefined;
    await nc?.close().catch(() => {});
    await this.connecting;
  }

  heard(): FleetHeard {
    const now = Date.now();
    const staleMs = this.opts.staleMs ?? 10_000;
    for (const [key, s] of this.latest) if (now - s.heardAt > staleMs) this.latest.delete(key);
    return {
      statuses: [...this.latest.values()].map((s) => s.status),
      nacks: this.nacks,
      ...(this.problem ? { problem: this.problem } : {}),
    };
  }

  private onMessage(data: Uint8Array): void {
    let body: StatusEvent | NackEvent;
    try {
      body = JSON.parse(Buffer.from(data).toString('utf8')) as StatusEvent | NackEvent;
    } catch {
      return;
    }
    if (body.kind === 'status' && typeof body.group === 'string' && typeof body.fanout === 'string') {
      this.latest.set(`${body.group}\u0000${body.fanout}`, { status: body, heardAt: Date.now() });
    } else if (body.kind === 'nack' && typeof body.group === 'string') {
      this.nacks.push(body);
      if (this.nacks.length > (this.opts.maxNacks ?? 100)) this.nacks.shift();
    }
  }

  private async connectLoop(): Promise<void> {
    const retry = new RetryBackoff({ initialMs: 1000, maxMs: 5000, factor: 2 });
    for (let attempt = 0; !this.nc; attempt++) {
      if (this.closing) return;
      try {
        this.nc = await connect({
          ...this.opts.security,
          servers: natsServers(this.opts.servers),
          name: 'attache-fleet-watcher',
          maxReconnectAttempts: -1,
          reconnectTimeWait: 1000,
        });
      } catch (err) {
        this.problem = `NATS unreachable: ${errorMessage(err)}`;
        if (attempt === 0)
          this.log.warn({ err: errorMessage(err) }, 'fleet watcher: NATS unreachable; retrying');
        await new Promise<void>((resolve) => {
          this.retryWake = resolve;
          setTimeout(resolve, retry.next()).unref();
        });
      }
    }
    const nc = this.nc;
    if (!nc || this.closing) {
      await nc?.close().catch(() => {});
      return;
    }
    this.problem = undefined;
    for (const kind of ['status', 'nack'] as const) {
      nc.subscribe(fleetFilter(kind), {
        callback: (err, msg) => {
          if (err) {
            // A permissions violation ends the subscription: say so on the page, once in the log.
            if (this.problem === undefined)
              this.log.warn({ err: errorMessage(err) }, 'fleet watcher: cannot read fleet events');
            this.problem = `cannot read ${fleetFilter(kind)}: ${errorMessage(err)}`;
            return;
          }
          this.onMessage(msg.data);
        },
      });
    }
  }
}
