/** The human-readable side of a result: a short stdout summary and the Markdown report. */
import type { CoreShare } from './proc-stats.ts';
import {
  type ChangeResult,
  type FleetResult,
  GRPC_PHASES,
  type GrpcClientsResult,
  type GrpcPhase,
  type GrpcPhaseStats,
  type WireAccounting,
} from './result.ts';
import type { Dist } from './stats.ts';

const d = (x: Dist | null): string =>
  x ? `p50 ${fmt(x.p50)} · p99 ${fmt(x.p99)} · max ${fmt(x.max)} ms (n=${x.count})` : 'n/a';
const fmt = (v: number): string => (v >= 100 ? v.toFixed(0) : v.toFixed(1));
const v = (x: number | null | undefined, unit = ''): string =>
  x === null || x === undefined ? 'n/a' : `${x}${unit}`;

export function summaryLines(r: FleetResult): string[] {
  const o = r.options;
  const lines = [
    `fleet benchmark — ${o.mode}, ${o.streams} streams, ${r.streams.processes} worker(s), ${r.streams.channels} HTTP/2 connection(s) — ${r.ok ? 'OK' : 'FAILED'}`,
    `  streams: configured ${r.streams.configured}/${o.streams}, held after ${o.holdS}s ${r.streams.heldAfterHold}, server gauge ${v(r.streams.serverGauge)}${r.grpcClients ? ` (counts the ${r.grpcClients.clients} gRPC clients too)` : ''}`,
    `  time to first config: ${d(r.timeToFirstConfigMs)}; ramp ${v(r.rampMs, ' ms')} at ${o.connectRatePerS || '∞'} streams/s`,
    `  fan-out RSS: ${v(r.fanout.rssMb.beforeStreams)} → ${v(r.fanout.rssMb.afterConnect)} → ${v(r.fanout.rssMb.afterHold)} MiB; ${v(r.fanout.perStreamKb)} KiB/stream`,
    `  fan-out CPU: connect ${v(r.fanout.cpuS.connect, ' s')} (${v(r.fanout.connectCpuPerStreamMs, ' ms/stream')}), idle hold ${v(r.fanout.holdCpuPercent, '%')}`,
    `  connect phase: ${coresText(r.fanout.connectCores)}`,
  ];
  for (const [name, c] of Object.entries(r.changes) as Array<[string, ChangeResult | null]>) {
    if (!c) continue;
    lines.push(
      `  ${name} change (${c.changedTypes.join('+') || 'no type'} changed; ${c.received}/${c.of} received): commit→ACK ${d(c.fromCommitMs)}; write→commit ${c.writeToCommitMs} ms`,
    );
    lines.push(`    ${coresText(c.cores)}`);
    if (c.wire) lines.push(`    ${wireText(c.wire)}`);
  }
  const s = r.reconnectStorm;
  if (s) {
    lines.push(
      `  reconnect storm: outage ${s.outageMs} ms; ${s.served}/${s.of} served; all served ${v(s.allServedFromKillMs, ' ms')} after kill; from ready ${d(s.fromReadyMs)}; regressions ${s.regression.regressions}/${s.regression.compared}`,
    );
    lines.push(`    ${coresText(s.cores)}`);
  }
  if (r.grpcClients) lines.push(...grpcSummary(r.grpcClients));
  lines.push(
    `  simulator CPU ${v(r.simulator.cpuS, ' s')}, worker RSS max ${v(r.simulator.maxRssMb, ' MiB')}`,
  );
  for (const e of r.errors) lines.push(`  error: ${e}`);
  return lines;
}

const PHASE_TITLE: Record<GrpcPhase, string> = {
  connect: 'connect (client start → routing)',
  hold: 'hold',
  endpointChange: 'endpoint change',
  routeChange: 'route change',
  stormOutage: 'storm: outage (kill → replacement ready)',
  stormReconnect: 'storm: reconnect (ready → fleet served)',
  after: 'after the storm',
};

const codes = (p: GrpcPhaseStats): string =>
  Object.entries(p.failedByCode)
    .map(([c, k]) => `${c} ${k}`)
    .join(', ');

const list = (xs: ReadonlyArray<number | null>, unit = ' ms'): string => xs.map((x) => v(x, unit)).join(', ');

function grpcSummary(g: GrpcClientsResult): string[] {
  const lines = [
    `  gRPC clients: ${g.clients} × grpc-js-xds (SotW) on ${g.target}, 1 RPC per ${g.rpcIntervalMs} ms each, deadline ${g.deadlineMs} ms; first OK ${list(g.firstOkMs)} after start`,
  ];
  for (const name of GRPC_PHASES) {
    const p = g.phases[name];
    if (!p) continue;
    lines.push(
      `    ${PHASE_TITLE[name]} (${p.wallMs} ms): ${p.clientsRouting}/${g.clients} routing, ok ${p.ok}, failed ${p.failed}${p.failed ? ` (${codes(p)})` : ''}, longest failure run ${p.maxFailureStreakMs} ms, client CPU ${v(p.clientCpuS, ' s')}`,
    );
  }
  if (g.storm)
    lines.push(
      `    recovered after the storm ${g.storm.recovered}/${g.storm.of}: on the outage's endpoint ${list(g.storm.newEndpointFromReadyMs)} after ready (${list(g.storm.newEndpointFromKillMs)} after kill)`,
    );
  return lines;
}

/** "machine 1.95 cores busy: fan-out 0.62, simulator 0.70, others 0.63 over 12.1 s". */
export function coresText(c: CoreShare): string {
  const ours = (c.fanoutCores ?? 0) + c.simulatorCores;
  return `machine ${c.machineBusyCores} cores busy: fan-out ${v(c.fanoutCores)}, simulator ${c.simulatorCores}, everything else ${Math.max(0, Math.round((c.machineBusyCores - ours) * 100) / 100)} (over ${c.wallS} s)`;
}

function grpcSection(g: GrpcClientsResult): string[] {
  const out = ['## Proxyless gRPC clients', ''];
  out.push(
    `${g.clients} real @grpc/grpc-js-xds clients (one process each, fresh per run, SotW ADS) dial \`${g.target}\` on the fan-out under test and send one RPC every ${g.rpcIntervalMs} ms each, without waiting for the previous one, with a ${g.deadlineMs} ms deadline. ` +
      'Backend echo-a serves from the start; echo-b joins the Service only in the commit made during the storm outage. ' +
      'An RPC counts in the phase it was sent in; a failure run is one client’s consecutive failed RPCs (first failure sent → next success sent).',
    '',
  );
  out.push(`First successful RPC after client start: ${list(g.firstOkMs)}.`, '');
  out.push(
    '| phase | wall ms | clients routing | ok | failed | failures by code | longest failure run ms | answered by | ok latency p50 / p99 / max ms | client CPU s |',
    '|---|---|---|---|---|---|---|---|---|---|',
  );
  for (const name of GRPC_PHASES) {
    const p = g.phases[name];
    if (!p) continue;
    const by = Object.entries(p.byBackend)
      .map(([b, k]) => `${b} ${k}`)
      .join(', ');
    const lat = p.okLatencyMs
      ? `${fmt(p.okLatencyMs.p50)} / ${fmt(p.okLatencyMs.p99)} / ${fmt(p.okLatencyMs.max)}`
      : 'n/a';
    out.push(
      `| ${PHASE_TITLE[name]} | ${p.wallMs} | ${p.clientsRouting}/${g.clients} | ${p.ok} | ${p.failed} | ${codes(p) || '—'} | ${p.maxFailureStreakMs} | ${by || '—'} | ${lat} | ${v(p.clientCpuS)} |`,
    );
  }
  out.push('');
  const examples = GRPC_PHASES.flatMap((n) => (g.phases[n]?.failureExamples ?? []).map((e) => `${n}: ${e}`));
  if (examples.length) out.push('Failure examples:', '', ...examples.map((e) => `- ${e}`), '');
  if (g.storm) {
    out.push(
      `After the storm ${g.storm.recovered}/${g.storm.of} clients routed on the configuration committed during the outage (answered by echo-b).`,
      '',
      `- replacement ready → first successful RPC: ${list(g.storm.firstOkFromReadyMs)}`,
      `- replacement ready → first RPC answered by echo-b: ${list(g.storm.newEndpointFromReadyMs)}`,
      `- kill -9 → first RPC answered by echo-b: ${list(g.storm.newEndpointFromKillMs)}`,
      '',
    );
  }
  return out;
}

function distRow(name: string, x: Dist | null): string {
  if (!x) return `| ${name} | n/a | | | | |`;
  return `| ${name} | ${x.count} | ${fmt(x.p50)} | ${fmt(x.p90)} | ${fmt(x.p99)} | ${fmt(x.max)} |`;
}

export function markdownReport(r: FleetResult): string {
  const o = r.options;
  const m = r.machine;
  const out: string[] = [];
  out.push(`# Fleet benchmark: ${o.mode}, ${o.streams} streams — ${r.ok ? 'OK' : 'FAILED'}`, '');
  out.push(
    `${r.startedAt} · ${r.durationS} s · ${m.cpus} × ${m.cpuModel} · ${m.totalMemMb} MiB · Node ${m.node} · load ${m.loadAvgStart.join('/')} → ${m.loadAvgEnd.join('/')}`,
    '',
  );
  out.push(
    `Setup: ${r.streams.processes} simulator worker process(es), ${r.streams.channels} HTTP/2 connection(s) (${o.streamsPerChannel} streams each), ramp ${o.connectRatePerS || 'unpaced'} streams/s, hold ${o.holdS} s. ` +
      `Configuration: ${o.services} services (+1 endpoint-change target), ${o.routes} Mappings over ${o.hosts ?? 1} Host(s)${o.vhds ? ', Envoys on VHDS' : ''}. ` +
      `Average response sizes during the ramp: ${Object.entries(r.responseBytes)
        .map(([t, b]) => `${t} ${b} B`)
        .join(', ')}.`,
    '',
  );
  if (r.errors.length) out.push('## Errors', '', ...r.errors.map((e) => `- ${e}`), '');
  out.push('## Streams and fan-out resources', '');
  out.push('| metric | value |', '|---|---|');
  out.push(`| streams configured / requested | ${r.streams.configured} / ${o.streams} |`);
  out.push(
    `| held after hold (client) / server gauge | ${r.streams.heldAfterHold} / ${v(r.streams.serverGauge)} |`,
  );
  out.push(`| ramp (first open → last configured) | ${v(r.rampMs, ' ms')} |`);
  out.push(
    `| fan-out RSS before / after connect / after hold | ${v(r.fanout.rssMb.beforeStreams)} / ${v(r.fanout.rssMb.afterConnect)} / ${v(r.fanout.rssMb.afterHold)} MiB |`,
  );
  out.push(`| memory per stream (RSS delta / streams) | ${v(r.fanout.perStreamKb, ' KiB')} |`);
  out.push(
    `| fan-out CPU, connect phase | ${v(r.fanout.cpuS.connect, ' s')} (${v(r.fanout.connectCpuPerStreamMs, ' ms per stream')}) |`,
  );
  out.push(`| cores during connect | ${coresText(r.fanout.connectCores)} |`);
  out.push(`| fan-out CPU, idle hold | ${v(r.fanout.holdCpuPercent, '% of a core')} |`);
  out.push(
    `| simulator CPU (all workers, whole run) / max worker RSS | ${v(r.simulator.cpuS, ' s')} / ${v(r.simulator.maxRssMb, ' MiB')} |`,
    '',
  );
  out.push('## Latencies (ms)', '', '| measure | n | p50 | p90 | p99 | max |', '|---|---|---|---|---|---|');
  out.push(distRow('time to first config (stream open → all types ACKed)', r.timeToFirstConfigMs));
  for (const [name, c] of Object.entries(r.changes) as Array<[string, ChangeResult | null]>) {
    if (!c) continue;
    out.push(distRow(`${name} change: commit → ACK`, c.fromCommitMs));
    out.push(distRow(`${name} change: file written → ACK`, c.fromWriteMs));
  }
  if (r.reconnectStorm)
    out.push(distRow('reconnect storm: replacement ready → ACK', r.reconnectStorm.fromReadyMs));
  out.push('');
  for (const [name, c] of Object.entries(r.changes) as Array<[string, ChangeResult | null]>) {
    if (!c) continue;
    out.push(`## ${name} change`, '');
    out.push(`- ${c.description}; marker carried by ${c.markerType}`);
    out.push(
      `- committed as version ${c.committedVersion} (${c.commits} commit(s) after the write; types changed: ${c.changedTypes.join(', ') || 'none'}); write → commit ${c.writeToCommitMs} ms`,
    );
    out.push(`- received by ${c.received}/${c.of} streams`);
    out.push(
      `- responses per stream: ${Object.entries(c.responsesPerStream)
        .map(([t, k]) => `${t} ${k}`)
        .join(', ')}; ${c.bytesPerStream} bytes per stream`,
    );
    out.push(
      `- fan-out CPU: ${v(c.fanoutCpuS, ' s')} (${v(c.fanoutCpuPerStreamMs, ' ms per stream')}); simulator CPU over the same interval ${c.simulatorCpuS} s`,
    );
    out.push(`- ${coresText(c.cores)}`);
    if (c.wire) out.push(`- ${wireText(c.wire)}`);
    out.push('');
  }
  const s = r.reconnectStorm;
  if (s) {
    out.push('## Reconnect storm', '');
    out.push(`- ${s.description}`);
    out.push(
      `- outage (kill → replacement ready) ${s.outageMs} ms, of which replacement start → ready ${s.restartToReadyMs} ms; change committed during the outage as version ${s.changeDuringOutage.committedVersion}`,
    );
    out.push(
      `- served again: ${s.served}/${s.of}; the last one ${v(s.allServedFromKillMs, ' ms')} after the kill`,
    );
    out.push(
      `- stream endings seen by clients: ${s.streamEndings}; server gauge afterwards ${v(s.serverStreamsAfter)}`,
    );
    out.push(
      `- version regression check: ${s.regression.regressions} regression(s) over ${s.regression.compared} (stream, type) holdings${s.regression.examples.length ? `: ${s.regression.examples.join('; ')}` : ''}`,
    );
    out.push(
      `- replacement fan-out CPU during the storm ${v(s.fanoutCpuS, ' s')}, RSS after ${v(s.fanoutRssAfterMb, ' MiB')}`,
      '',
    );
  }
  if (r.grpcClients) out.push(...grpcSection(r.grpcClients));
  out.push(`Process logs: \`${r.logDir}\``, '');
  return out.join('\n');
}

function wireText(w: WireAccounting): string {
  const mib = (b: number) => Math.round((b / (1024 * 1024)) * 10) / 10;
  return (
    `fan-out wrote ${w.messages} messages, ${mib(w.bytesWritten)} MiB; copied ${mib(w.bytesCopied)} MiB ` +
    `(${w.messages > 0 ? Math.round(w.bytesCopied / w.messages) : 0} B per message); transient heap+buffers ` +
    `${v(w.heapPeakMib, ' MiB')}, RSS ${v(w.rssPeakMib, ' MiB')}; loopback floor for the same bytes ` +
    `${v(w.loopbackFloorMs, ' ms')} → commit→ACK p99 ${v(w.p99ToFloor, '×')} / max ${v(w.maxToFloor, '×')} the floor`
  );
}
