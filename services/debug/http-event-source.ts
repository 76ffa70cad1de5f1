/**
 * The event log of a running `attache dev` or `attache compile`, read over its admin port
 * (`/debug/events`), so every debugging command works the same against the embedded in-memory
 * log as against JetStream. Read-only; pages of at most {@link EVENTS_PAGE} events. Its compiler
 * checkpoints likewise (`/debug/checkpoints`), for replay.
 */
import type { LoggedEvent, ReadOptions } from '../../shared/events/event-log.ts';
import { type AdminEndpoint, getAdminJson } from '../../shared/runtime/admin-client.ts';
import type { CheckpointStore } from '../../shared/snapshot/checkpoint-store.ts';
import type { EventSource } from './log-history.ts';

/** Largest page `/debug/events` returns. */
export const EVENTS_PAGE = 2_000;

/** Body of `/debug/events?from=F&to=T`. */
export interface EventsPage {
  first: number;
  last: number;
  events: LoggedEvent[];
}

/** Body of `/debug/checkpoints` (the list) and `/debug/checkpoints?seq=N` (one, base64). */
export interface CheckpointsBody {
  seqs?: number[];
  seq?: number;
  base64?: string | null;
}

/** The compiler checkpoints of a running `attache dev` / `attache compile`, over its admin port. */
export class HttpCheckpointSource implements Pick<CheckpointStore, 'list' | 'get'> {
  constructor(private readonly admin: AdminEndpoint) {}

  async list(): Promise<number[]> {
    const url = new URL('/debug/checkpoints', this.admin.url);
    return (await getAdminJson<CheckpointsBody>(this.admin, url)).seqs ?? [];
  }

  async get(seq: number): Promise<Uint8Array | null> {
    const url = new URL('/debug/checkpoints', this.admin.url);
    url.searchParams.set('seq', String(seq));
    const body = await getAdminJson<CheckpointsBody>(this.admin, url);
    return typeof body.base64 === 'string' ? Buffer.from(body.base64, 'base64') : null;
  }
}

export class HttpEventSource implements EventSource {
  constructor(private readonly admin: AdminEndpoint) {}

  private async page(from: number, to: number): Promise<EventsPage> {
    const url = new URL('/debug/events', this.admin.url);
    url.searchParams.set('from', String(from));
    url.searchParams.set('to', String(to));
    return getAdminJson<EventsPage>(this.admin, url);
  }

  async firstSeq(): Promise<number> {
    return (await this.page(1, 0)).first;
  }

  async lastSeq(): Promise<number> {
    return (await this.page(1, 0)).last;
  }

  async *read(opts: ReadOptions): AsyncIterable<LoggedEvent> {
    let from = opts.fromSeq;
    const to = opts.toSeq ?? (await this.lastSeq());
    while (from <= to) {
      const page = await this.page(from, Math.min(to, from + EVENTS_PAGE - 1));
      if (page.events.length === 0) return;
      for (const e of page.events) yield e;
      from = (page.events.at(-1)?.seq ?? to) + 1;
    }
  }
}
