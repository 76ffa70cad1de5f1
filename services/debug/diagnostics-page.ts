/**
 * The diagnostics page on the admin port, server-rendered HTML with real links between objects,
 * versions and events:
 *
 *   /ui                         groups and their current versions
 *   /ui/group?g=G               route table per listener with the objects behind each route,
 *                               errors and warnings per object, snapshot history, fleet, explain box
 *   /ui/object?g=G&id=ID        one source object: what it produces, its diagnostics, its history
 *   /ui/diff?g=G&from=A&to=B    resource, field and routing changes with their causing events
 *   /ui/event?seq=N             one event with the field-level diff of its object
 *   /ui/explain?g=G&authority=H&path=P[&header=k=v][&method=M][&at=POINT]
 *
 * Everything is rebuilt from the event log and the store on each request (this is a debugging
 * page, not a dashboard).
 */

import { objectId } from '../../shared/snapshot/provenance.ts';
import type { SnapshotStore } from '../../shared/snapshot/snapshot-store.ts';
import { shortName } from '../../shared/xds/type-urls.ts';
import { aggregateStatus, describeObject } from '../fanout/fleet/convergence.ts';
import type { NackEvent } from '../fanout/fleet/fleet-messages.ts';
import type { FleetHeard } from '../fanout/fleet/fleet-watcher.ts';
import { EventDiffer } from './event-view.ts';
import { answerOf, explainRequest } from './explain.ts';
import { formatChanges } from './json-diff.ts';
import { type LogHistory, parsePoint } from './log-history.ts';
import { describeAction, routeTable } from './route-table.ts';
import { diffViews, type EventSummary } from './snapshot-diff.ts';
import { type SnapshotView, viewOfStore } from './snapshot-view.ts';

/** What the page reads. */
export interface PageSources {
  history(group: string): Promise<LogHistory>;
  store: Pick<SnapshotStore, 'getManifest' | 'getBlobs' | 'versions' | 'head' | 'getCommitRecord'>;
  groups: readonly string[];
  /**
   * The fleet: fan-out status reports (with their standing NACKs) and recent NACK events, from a
   * fan-out in this process (`attache dev`) or heard on NATS (`attache compile`, fleet-watcher.ts).
   */
  fleet?: () => FleetHeard;
}

export async function renderPage(url: URL, src: PageSources): Promise<string | null> {
  const g = url.searchParams.get('g') ?? src.groups[0] ?? 'default';
  switch (url.pathname) {
    case '/ui':
      return groupsPage(src);
    case '/ui/group':
      return groupPage(g, src);
    case '/ui/object':
      return objectPage(g, url.searchParams.get('id') ?? '', src);
    case '/ui/diff':
      return diffPage(
        g,
        Number(url.searchParams.get('from') ?? 0),
        Number(url.searchParams.get('to') ?? 0),
        src,
      );
    case '/ui/event':
      return eventPage(g, Number(url.searchParams.get('seq') ?? 0), src);
    case '/ui/explain':
      return explainPage(g, url, src);
    default:
      return null;
  }
}

async function groupsPage(src: PageSources): Promise<string> {
  const rows = await Promise.all(
    src.groups.map(
      async (g) =>
        `<li><a href="${groupHref(g)}">${esc(g)}</a> — version ${esc(String((await src.store.head(g)) ?? 'none'))}</li>`,
    ),
  );
  return layout('Attaché diagnostics', `<ul>${rows.join('')}</ul>`);
}

/** The committed view of a version, or the rebuilt one when the store no longer holds it. */
async function viewAt(
  g: string,
  version: number,
  src: PageSources,
  history: LogHistory,
): Promise<SnapshotView> {
  return (await viewOfStore(src.store, g, version)) ?? history.viewAt(version);
}

async function groupPage(g: string, src: PageSources): Promise<string> {
  const history = await src.history(g);
  const head = (await src.store.head(g)) ?? history.lastSeq;
  const view = await viewAt(g, head, src, history);
  const parts: string[] = [`<p>Version <b id="version">${head}</b> of group ${esc(g)}.</p>`];

  parts.push('<h2>Routes</h2>');
  const rows = routeTable(view);
  const byListener = new Map<string, typeof rows>();
  for (const r of rows) byListener.set(r.listener, [...(byListener.get(r.listener) ?? []), r]);
  for (const [listener, list] of byListener) {
    parts.push(
      `<h3>listener ${esc(listener)}</h3><table class="routes"><tr><th>route configuration / virtual host</th><th>#</th><th>match</th><th>action</th><th>from</th></tr>`,
    );
    for (const r of list) {
      const { runtime_fraction: _rf, ...match } = (r.route.match ?? {}) as Record<string, unknown>;
      parts.push(
        `<tr class="route"><td>${esc(r.routeConfig)} / ${esc(r.virtualHost)}</td><td>${r.index}</td><td><code>${esc(JSON.stringify(match))}</code></td><td>${esc(describeAction(r.route))}</td><td>${r.sources.map((o) => objectLink(g, o)).join(' ')}</td></tr>`,
      );
    }
    parts.push('</table>');
  }

  parts.push('<h2>Errors and warnings</h2><ul>');
  for (const d of view.diagnostics) {
    const s = d.source;
    parts.push(
      `<li class="${d.severity}">${d.severity}: ${objectLink(g, s)} ${esc(d.field ? `${d.field}: ` : '')}${esc(d.message)}</li>`,
    );
  }
  if (view.diagnostics.length === 0) parts.push('<li>none</li>');
  parts.push('</ul>');

  parts.push(
    '<h2>Snapshot history</h2><table class="history"><tr><th>version</th><th>events</th><th>compile</th><th>committed</th><th></th></tr>',
  );
  const versions = (await src.store.versions(g)).slice().reverse();
  for (const [i, v] of versions.entries()) {
    const rec = await src.store.getCommitRecord(g, v);
    const prev = versions[i + 1];
    parts.push(
      `<tr><td>${v}</td><td>${rec ? `${rec.fromSeq}..${rec.version}` : ''}</td><td>${rec ? `${rec.compileMs} ms, epoch ${rec.epoch}, ${rec.errors} errors, ${rec.warnings} warnings` : ''}</td><td>${esc(rec?.committedAt ?? '')}</td><td>${prev !== undefined ? `<a class="diff" href="${diffHref(g, prev, v)}">diff from ${prev}</a>` : ''}</td></tr>`,
    );
  }
  parts.push('</table>');

  if (src.fleet) parts.push(fleetSection(g, src.fleet()));

  parts.push(
    `<h2>Explain a request</h2><form action="/ui/explain" method="get"><input type="hidden" name="g" value="${esc(g)}">authority <input name="authority" value="*"> path <input name="path" value="/"> header <input name="header" placeholder="name=value"> at <input name="at" placeholder="seq, vN or time"> <button type="submit">explain</button></form>`,
  );
  return layout(`group ${g}`, parts.join('\n'));
}

async function objectPage(g: string, id: string, src: PageSources): Promise<string> {
  const history = await src.history(g);
  const head = (await src.store.head(g)) ?? history.lastSeq;
  const view = await viewAt(g, head, src, history);
  const o = view.provenance.objects[id];
  const parts = [
    `<p>Object <b>${esc(id)}</b>${o ? ` — resourceVersion ${esc(o.resourceVersion ?? '-')}${o.file ? `, ${esc(o.file)}#${o.document}` : ''}` : ' (produces nothing in the current snapshot)'}</p>`,
  ];
  parts.push('<h2>Produces</h2><ul>');
  for (const [typeUrl, names] of Object.entries(view.provenance.resources)) {
    for (const [name, ids] of Object.entries(names))
      if (ids.includes(id)) parts.push(`<li>${esc(shortName(typeUrl))} ${esc(name)}</li>`);
  }
  parts.push('</ul><h2>Diagnostics</h2><ul>');
  for (const d of view.diagnostics.filter((d) => objectId(d.source) === id))
    parts.push(
      `<li class="${d.severity}">${d.severity}: ${esc(d.field ? `${d.field}: ` : '')}${esc(d.message)}</li>`,
    );
  parts.push(
    '</ul><h2>Version history</h2><table class="object-history"><tr><th>event</th><th>change</th><th>snapshot</th></tr>',
  );
  const versions = await src.store.versions(g);
  for (const e of history.events.filter((x) => objectId(x.event) === id).reverse()) {
    const to = versions.find((v) => v >= e.seq) ?? e.seq;
    const from = [...versions].reverse().find((v) => v < e.seq) ?? 0;
    parts.push(
      `<tr><td><a class="event" href="/ui/event?g=${enc(g)}&seq=${e.seq}">#${e.seq}</a> ${esc(e.time ?? '')}</td><td>${esc(e.event.op)} rv ${esc(e.event.resourceVersion)}</td><td><a class="diff" href="${diffHref(g, from, to)}">diff ${from} → ${to}</a></td></tr>`,
    );
  }
  parts.push('</table>');
  return layout(`object ${id}`, parts.join('\n'));
}

async function diffPage(g: string, from: number, to: number, src: PageSources): Promise<string> {
  const history = await src.history(g);
  const d = diffViews(
    await viewAt(g, from, src, history),
    await viewAt(g, to, src, history),
    history.between(from, to),
  );
  const parts = [`<p>Group ${esc(g)}: version ${from} → ${to}</p><h2>Routing</h2><ul>`];
  for (const r of d.routing) {
    parts.push(
      `<li class="routing">${esc(r.routeConfig)} / ${esc(r.virtualHost)} <code>${esc(r.match)}</code>: ${esc(r.before ?? '(none)')} → ${esc(r.after ?? '(none)')} ${causes(g, r.causes)}</li>`,
    );
  }
  parts.push('</ul><h2>Resources</h2><ul>');
  for (const r of d.resources) {
    parts.push(
      `<li class="resource">${r.change} ${esc(shortName(r.typeUrl))} ${esc(r.name)} ${causes(g, r.causes)}<pre>${esc(formatChanges(r.fields, '').join('\n'))}</pre></li>`,
    );
  }
  parts.push('</ul><h2>Events</h2><ul>');
  for (const e of d.events) parts.push(`<li>${eventLink(g, e)}</li>`);
  parts.push('</ul>');
  return layout(`diff ${from} → ${to}`, parts.join('\n'));
}

async function eventPage(g: string, seq: number, src: PageSources): Promise<string> {
  const history = await src.history(g);
  const differ = new EventDiffer();
  let entry: ReturnType<EventDiffer['entry']> | undefined;
  for (const e of history.events) {
    const x = differ.entry(e);
    if (e.seq === seq) {
      entry = x;
      break;
    }
  }
  if (!entry) return layout(`event ${seq}`, '<p>No such event in the retained log.</p>');
  const id = objectId(entry);
  return layout(
    `event ${seq}`,
    `<p id="event-summary">#${seq} ${esc(entry.time ?? '')}: ${esc(entry.op)} ${objectLink(g, { ...entry })} resourceVersion ${esc(entry.resourceVersion)} by ${esc(entry.ingestor)}${entry.managedBy ? `, managed by ${esc(entry.managedBy)}` : ''}</p><h2>Changes</h2><pre class="changes">${esc(formatChanges(entry.changes, '').join('\n'))}</pre><p><a href="/ui/object?g=${enc(g)}&id=${enc(id)}">object history</a></p>`,
  );
}

async function explainPage(g: string, url: URL, src: PageSources): Promise<string> {
  const history = await src.history(g);
  const at = url.searchParams.get('at');
  const seq = at ? history.resolve(parsePoint(at)) : ((await src.store.head(g)) ?? history.lastSeq);
  const view = await viewAt(g, seq, src, history);
  const headers: Record<string, string> = {};
  for (const h of url.searchParams.getAll('header')) {
    const i = h.indexOf('=');
    if (i > 0) headers[h.slice(0, i).toLowerCase()] = h.slice(i + 1);
  }
  const req = {
    authority: url.searchParams.get('authority') ?? '*',
    path: url.searchParams.get('path') ?? '/',
    method: (url.searchParams.get('method') ?? 'GET').toUpperCase(),
    headers,
  };
  const e = explainRequest(view, req, url.searchParams.get('listener') ?? 'ambassador-listener-8080');
  const parts = [
    `<p>${esc(req.method)} ${esc(req.authority)}${esc(req.path)} at version ${seq}: <b id="answer">${esc(answerOf(e))}</b></p>`,
    `<p>${esc(e.routeConfig)} ${esc(e.virtualHost ?? '')}: ${esc(e.verdict.domainMatch)}</p><ol start="0">`,
  ];
  e.verdict.routes.forEach((v, i) => {
    const verdict =
      v.mismatch.length > 0
        ? `no match: ${v.mismatch.join('; ')}`
        : v.share > 0
          ? `MATCH (${v.share}%) → ${describeAction(v.route)}`
          : 'matches, already taken';
    parts.push(`<li>${esc(verdict)} ${(e.sources[i] ?? []).map((o) => objectLink(g, o)).join(' ')}</li>`);
  });
  parts.push('</ol>');
  return layout('explain', parts.join('\n'));
}

/**
 * Fleet convergence of the group (per type, which versions how many client nodes ACKed), the
 * NACKs that stand now and recent NACK events, each with the client's error and links to the
 * source objects behind the rejected resources.
 */
function fleetSection(g: string, heard: FleetHeard): string {
  const parts = ['<h2 id="fleet">Fleet</h2>'];
  if (heard.problem) parts.push(`<p class="warning">${esc(heard.problem)}</p>`);
  const conv = aggregateStatus(heard.statuses.filter((s) => s.group === g))[0];
  if (!conv) parts.push('<p>No fan-out node reports this group.</p>');
  else {
    parts.push(
      `<p>${conv.streams} streams on ${conv.fanouts.length} fan-out node(s): ${esc(conv.fanouts.join(', '))}</p>`,
      '<table class="fleet"><tr><th>type</th><th>version</th><th>nodes</th><th>share</th><th>nacking now</th><th>NACKs</th></tr>',
    );
    for (const [type, t] of Object.entries(conv.types)) {
      const rows = t.versions.length > 0 ? t.versions : [undefined];
      rows.forEach((v, i) => {
        parts.push(
          `<tr><td>${i === 0 ? esc(type) : ''}</td><td><code>${esc(v?.version ?? '(no ACK yet)')}</code></td><td>${v?.nodes ?? 0}</td><td>${v ? `${(v.share * 100).toFixed(1)}%` : ''}</td><td>${i === 0 ? t.nacking : ''}</td><td>${i === 0 ? t.nacksTotal : ''}</td></tr>`,
        );
      });
    }
    parts.push('</table>');
  }
  const standing = conv?.nacks ?? [];
  parts.push('<h3>Standing NACKs</h3><ul class="standing-nacks">');
  for (const n of standing) parts.push(nackItem(g, n));
  if (standing.length === 0) parts.push('<li>none</li>');
  parts.push('</ul><h3>Recent NACK events</h3><ul class="nack-events">');
  const recent = heard.nacks
    .filter((n) => n.group === g)
    .slice(-20)
    .reverse();
  for (const n of recent) parts.push(nackItem(g, n));
  if (recent.length === 0) parts.push('<li>none</li>');
  parts.push('</ul>');
  return parts.join('\n');
}

function nackItem(g: string, n: NackEvent): string {
  const named = (n.sources ?? []).filter((s) => s.objects.length > 0);
  const objects = named
    .map(
      (s) =>
        `<li>${esc(s.resource)} ← ${s.objects.map((o) => `${objectLink(g, o)} <span class="where">${esc(describeObject(o).replace(/^.*? \(/, '('))}</span>`).join('; ')}</li>`,
    )
    .join('');
  const version = n.snapshotVersion !== undefined ? ` (snapshot version ${n.snapshotVersion})` : '';
  return `<li class="nack">${esc(n.at)} node <b>${esc(n.node)}</b> (fan-out ${esc(n.fanout)}) rejected ${esc(n.type)} ${esc(n.rejectedVersion)}${esc(version)}: <span class="nack-error">${esc(n.errorDetail.message)}</span><ul>${objects || `<li>resources ${esc(n.resources.join(', '))}, source objects unknown</li>`}</ul></li>`;
}

function causes(g: string, events: readonly EventSummary[]): string {
  return events.length === 0 ? '' : `— caused by ${events.map((e) => eventLink(g, e)).join(', ')}`;
}

function eventLink(g: string, e: EventSummary): string {
  return `<a class="event" href="/ui/event?g=${enc(g)}&seq=${e.seq}">#${e.seq} ${esc(e.op)} ${esc(e.kind)} ${esc(e.namespace)}/${esc(e.name)}</a>`;
}

function objectLink(
  g: string,
  o: { cluster: string; kind: string; namespace: string; name: string },
): string {
  return `<a class="object" href="/ui/object?g=${enc(g)}&id=${enc(objectId(o))}">${esc(o.kind)} ${esc(o.namespace ? `${o.namespace}/` : '')}${esc(o.name)}</a>`;
}

function groupHref(g: string): string {
  return `/ui/group?g=${enc(g)}`;
}

function diffHref(g: string, from: number, to: number): string {
  return `/ui/diff?g=${enc(g)}&from=${from}&to=${to}`;
}

function layout(title: string, body: string): string {
  return `<!doctype html><html><head><meta charset="utf-8"><title>${esc(title)} — Attaché</title><style>
body{font:14px system-ui,sans-serif;margin:1.5em;color:#222}table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.25em .5em;text-align:left;vertical-align:top}
code,pre{font:12px ui-monospace,monospace}.error{color:#b00}.warning{color:#a60}.nack{color:#b00}nav a{margin-right:1em}
</style></head><body><nav><a href="/ui">groups</a></nav><h1>${esc(title)}</h1>${body}</body></html>`;
}

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function enc(s: string): string {
  return encodeURIComponent(s);
}
