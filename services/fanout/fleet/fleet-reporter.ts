/**
 * Turns stream events into fleet reports. As {@link AdsEvents} it sees every connect, ACK, NACK
 * and disconnect; it publishes each NACK as a {@link NackEvent}, and per group a
 * {@link StatusEvent} (which version each connected node has ACKed, per type) every
 * `intervalMs` and shortly after a change, coalesced to at most one per `coalesceMs` per group.
 * The same summaries back the `/debug/fleet` admin route. Publishing is optional: without a
 * publisher the reporter only answers `/debug/fleet`.
 *
 * Each status also carries the NACKs that still stand: per node and type, the last NACK, until that
 * node ACKs the type or disconnects. A NACK event is a moment (a reader who was not listening misses
 * it); the status says who is rejecting what now, with the error and the objects behind it.
 */
import type { Logger } from '../../../shared/runtime/logger.ts';
import type { Runner } from '../../../shared/runtime/runner.ts';
import { shortName, type TypeUrl } from '../../../shared/xds/type-urls.ts';
import type { AdsEvents, NackInfo, StreamPeer } from '../server/ads-events.ts';
import type { GroupSummary } from '../server/stream-hub.ts';
import { fleetSubject, type NackEvent, type StatusEvent } from './fleet-messages.ts';
import type { RejectedResource } from './nack-sources.ts';

/** Where summaries come from: the ADS server. */
export interface FleetSource {
  groups(): string[];
  summary(group: string): GroupSummary;
}

export interface FleetReporterOptions {
  /** This fan-out node's id in reports. */
  fanoutId: string;
  source: FleetSource;
  /**
   * The snapshot version a group is served at and the source objects behind rejected resources
   * (NackSources); absent: NACK events name resources only.
   */
  nackSources?: {
    version(group: string): number | undefined;
    lookup(
      group: string,
      version: number,
      typeUrl: string,
      names: readonly string[],
    ): Promise<RejectedResource[]>;
  };
  /** Where events go (e.g. FleetEventPublisher.publish); absent: not published. */
  publish?: (subject: string, body: unknown) => void;
  log: Logger;
  /** Periodic status (default 2000 ms). */
  intervalMs?: number;
  /** Delay that coalesces changes into one status (default 250 ms). */
  coalesceMs?: number;
}

/** Standing NACKs kept (and reported) per group: the newest ones. */
const MAX_STANDING = 20;

function standingKey(node: string, type: string): string {
  return `${node}\u0000${type}`;
}

export class FleetReporter implements AdsEvents, Runner {
  readonly name = 'fleet-reporter';
  /** NACKs since start per group and short type. */
  private readonly nackTotals = new Map<string, Map<string, number>>();
  /** Groups changed since their last status, and groups that had streams at the last report. */
  private readonly dirty = new Set<string>();
  private readonly reported = new Set<string>();
  /** NACK events published so far, newest last, at most 100 (the diagnostics page shows them). */
  readonly recentNacks: NackEvent[] = [];
  /** Per group, per node and type (`node\0type`): the last NACK, while it stands. */
  private readonly standing = new Map<string, Map<string, NackEvent>>();
  private periodic?: NodeJS.Timeout;
  private pending?: NodeJS.Timeout;
  private running = false;

  constructor(private readonly opts: FleetReporterOptions) {}

  async start(): Promise<void> {
    this.running = true;
    this.periodic = setInterval(() => this.publishAll(), this.opts.intervalMs ?? 2000);
    this.periodic.unref();
  }

  ready(): boolean {
    return this.running;
  }

  async close(): Promise<void> {
    this.running = false;
    clearInterval(this.periodic);
    clearTimeout(this.pending);
    this.pending = undefined;
  }

  onConnect(peer: StreamPeer): void {
    this.changed(peer.group);
  }

  onAck(peer: StreamPeer, ack: { typeUrl: TypeUrl }): void {
    this.standing.get(peer.group)?.delete(standingKey(peer.nodeId, shortName(ack.typeUrl)));
    this.changed(peer.group);
  }

  onDisconnect(peer: StreamPeer): void {
    const standing = this.standing.get(peer.group);
    for (const [key, n] of standing ?? []) if (n.node === peer.nodeId) standing?.delete(key);
    if (standing?.size === 0) this.standing.delete(peer.group);
    this.changed(peer.group);
  }

  onNack(peer: StreamPeer, nack: NackInfo): void {
    const type = shortName(nack.typeUrl);
    let perType = this.nackTotals.get(peer.group);
    if (!perType) {
      perType = new Map();
      this.nackTotals.set(peer.group, perType);
    }
    perType.set(type, (perType.get(type) ?? 0) + 1);
    const event: NackEvent = {
      kind: 'nack',
      fanout: this.opts.fanoutId,
      group: peer.group,
      node: peer.nodeId,
      cluster: peer.cluster,
      type,
      typeUrl: nack.typeUrl,
      protocol: nack.protocol,
      rejectedVersion: nack.rejectedVersion,
      clientVersion: nack.clientVersion,
      errorDetail: { code: nack.code, message: nack.message },
      resources: nack.resourceNames,
      at: new Date().toISOString(),
    };
    let standing = this.standing.get(peer.group);
    if (!standing) {
      standing = new Map();
      this.standing.set(peer.group, standing);
    }
    const key = standingKey(peer.nodeId, type);
    // Newest last, at most MAX_STANDING per group: a NACK storm stays bounded in every status.
    standing.delete(key);
    standing.set(key, event);
    if (standing.size > MAX_STANDING) standing.delete(standing.keys().next().value as string);
    this.changed(peer.group);
    const sources = this.opts.nackSources;
    const version = sources?.version(peer.group);
    if (!sources || version === undefined) {
      this.publishNack(event);
      return;
    }
    sources
      .lookup(peer.group, version, nack.typeUrl, nack.resourceNames)
      .catch(() => [])
      .then((found) => {
        const sourced: NackEvent = { ...event, snapshotVersion: version, sources: found };
        // Still the standing NACK (no ACK or newer NACK since): the status names its objects too.
        const now = this.standing.get(peer.group);
        if (now?.get(key) === event) {
          now.set(key, sourced);
          this.changed(peer.group);
        }
        this.publishNack(sourced);
      });
  }

  private publishNack(event: NackEvent): void {
    this.recentNacks.push(event);
    if (this.recentNacks.length > 100) this.recentNacks.shift();
    this.opts.publish?.(fleetSubject(event.group, 'nack'), event);
  }

  /** This node's status of every group it serves (or reported on last), for `/debug/fleet`. */
  statuses(): StatusEvent[] {
    const groups = new Set([...this.opts.source.groups(), ...this.nackTotals.keys()]);
    return [...groups].sort().map((g) => this.statusOf(g));
  }

  statusOf(group: string): StatusEvent {
    const summary = this.opts.source.summary(group);
    const totals = this.nackTotals.get(group);
    const types: StatusEvent['types'] = {};
    for (const [type, t] of Object.entries(summary.types)) {
      types[type] = { acked: t.acked, nacking: t.nacking, nacksTotal: totals?.get(type) ?? 0 };
    }
    for (const [type, n] of totals ?? []) types[type] ??= { acked: {}, nacking: 0, nacksTotal: n };
    const standing = [...(this.standing.get(group)?.values() ?? [])];
    return {
      kind: 'status',
      fanout: this.opts.fanoutId,
      group,
      streams: summary.streams,
      types,
      ...(standing.length > 0 ? { nacks: standing } : {}),
      at: new Date().toISOString(),
    };
  }

  private changed(group: string): void {
    this.dirty.add(group);
    if (this.pending || !this.running) return;
    this.pending = setTimeout(() => {
      this.pending = undefined;
      const groups = [...this.dirty];
      this.dirty.clear();
      for (const g of groups) this.publishStatus(g);
    }, this.opts.coalesceMs ?? 250);
    this.pending.unref();
  }

  /** Every group with streams, plus those that had some at the last report (their last word is 0). */
  private publishAll(): void {
    const groups = new Set([...this.opts.source.groups(), ...this.reported]);
    this.reported.clear();
    for (const g of groups) this.publishStatus(g);
  }

  private publishStatus(group: string): void {
    const status = this.statusOf(group);
    if (status.streams > 0) this.reported.add(group);
    this.opts.publish?.(fleetSubject(group, 'status'), status);
  }
}
