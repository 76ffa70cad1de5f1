/**
 * The debugging routes a process with the event log and the store mounts on its admin port
 * (`attache dev`, `attache compile`):
 *
 *   /debug/events?from=F&to=T      the event log, for `attache log/diff/explain/... --admin`
 *   /debug/checkpoints[?seq=N]     the compiler checkpoints (list; one, base64), for `replay --admin`
 *   /snapshot?group=G[&version=V]  the whole snapshot with secrets (operators only)
 *   /snapshot-external?group=G     the scrubbed snapshot (no key material, invalid objects as
 *                                  identity + errors)
 *   /ui…                           the diagnostics page (diagnostics-page.ts)
 *
 * The admin server's access rule covers every one of them (loopback, or the admin bearer token
 * when the port binds beyond loopback), so /snapshot and the event log stay operator-only.
 */
import type { EventLog } from '../../shared/events/event-log.ts';
import { type DebugHandler, RawResponse } from '../../shared/runtime/admin-server.ts';
import type { CheckpointStore } from '../../shared/snapshot/checkpoint-store.ts';
import type { SnapshotStore } from '../../shared/snapshot/snapshot-store.ts';
import { type PageSources, renderPage } from './diagnostics-page.ts';
import { type CheckpointsBody, EVENTS_PAGE, type EventsPage } from './http-event-source.ts';
import { LogHistory } from './log-history.ts';
import { externalSnapshot, internalSnapshot } from './snapshot-export.ts';
import { viewOfStore } from './snapshot-view.ts';

export interface DebugRouteSources {
  events: Pick<EventLog, 'read' | 'lastSeq' | 'firstSeq'>;
  store: SnapshotStore;
  groups: readonly string[];
  fleet?: PageSources['fleet'];
  /** The compiler's checkpoints, served at /debug/checkpoints when given. */
  checkpoints?: CheckpointStore;
}

export function debugRoutes(src: DebugRouteSources): Record<string, DebugHandler> {
  // One history per group, refreshed on each request: the log is read once, then only its tail.
  const histories = new Map<string, Promise<LogHistory>>();
  const history = async (group: string) => {
    let h = histories.get(group);
    if (!h) {
      h = LogHistory.open(src.events, { group });
      histories.set(group, h);
      h.catch(() => histories.delete(group));
    }
    const opened = await h;
    await opened.refresh();
    return opened;
  };
  const pageSources: PageSources = {
    history,
    store: src.store,
    groups: src.groups,
    ...(src.fleet ? { fleet: src.fleet } : {}),
  };
  const snapshot =
    (scrub: boolean): DebugHandler =>
    async (url) => {
      const group = url.searchParams.get('group') ?? src.groups[0] ?? 'default';
      const version = Number(url.searchParams.get('version') ?? (await src.store.head(group)) ?? Number.NaN);
      if (!Number.isFinite(version)) return null;
      const view = await viewOfStore(src.store, group, version);
      if (!view) return null;
      return scrub ? externalSnapshot(view) : internalSnapshot(view);
    };
  const page: DebugHandler = async (url) => {
    const html = await renderPage(url, pageSources);
    return html === null ? null : new RawResponse(html);
  };
  const routes: Record<string, DebugHandler> = {
    '/debug/events': async (url): Promise<EventsPage> => {
      const [first, last] = await Promise.all([src.events.firstSeq(), src.events.lastSeq()]);
      const from = Math.max(first, Number(url.searchParams.get('from') ?? first));
      const to = Math.min(last, Number(url.searchParams.get('to') ?? last), from + EVENTS_PAGE - 1);
      const events = [];
      if (to >= from) for await (const e of src.events.read({ fromSeq: from, toSeq: to })) events.push(e);
      return { first, last, events };
    },
    '/debug/checkpoints': async (url): Promise<CheckpointsBody> => {
      const seq = url.searchParams.get('seq');
      if (seq === null) return { seqs: (await src.checkpoints?.list()) ?? [] };
      const bytes = await src.checkpoints?.get(Number(seq));
      return { seq: Number(seq), base64: bytes ? Buffer.from(bytes).toString('base64') : null };
    },
    '/snapshot': snapshot(false),
    '/snapshot-external': snapshot(true),
  };
  for (const p of ['/ui', '/ui/group', '/ui/object', '/ui/diff', '/ui/event', '/ui/explain'])
    routes[p] = page;
  return routes;
}
