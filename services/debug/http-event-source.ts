/**
 * The event log of a running `attache dev` or `attache compile`, read over its admin port
 * (`/debug/events`), so every debugging command works the same against the embedded in-memory
 * log as against JetStream. Read-only; pages of at most {@link EVENTS_PAGE} events.
 */
import type { LoggedEvent, ReadOptions } from '../../shared/events/event-log.ts';
import { DependencyError, errorMessage } from '../../shared/runtime/errors.ts';
import type { EventSource } from './log-history.ts';

/** Largest page `/debug/events` returns. */
export const EVENTS_PAGE = 2_000;

/** Body of `/debug/events?from=F&to=T`. */
export interface EventsPage {
  first: number;
  last: number;
  events: LoggedEvent[];
}

export class HttpEventSource implements EventSource {
  constructor(private readonly adminUrl: string) {}

  private async page(from: number, to: number): Promise<EventsPage> {
    const url = new URL('/debug/events', this.adminUrl);
    url.searchParams.set('from', String(from));
    url.searchParams.set('to', String(to));
    let res: Response;
    try {
      res = await fetch(url);
    } catch (err) {
      throw new DependencyError(`cannot reach the admin port at ${this.adminUrl}: ${errorMessage(err)}`, {
        cause: err,
      });
    }
    if (!res.ok)
      throw new DependencyError(`${url.href} answered ${res.status}: ${(await res.text()).slice(0, 200)}`);
    return (await res.json()) as EventsPage;
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
