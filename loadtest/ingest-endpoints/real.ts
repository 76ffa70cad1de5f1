/**
 * bench:ingest against a REAL kube-apiserver (../shared/envtest, test/harness/kube-apiserver.ts):
 * the compiled `attache ingest kubernetes` as its own process, exactly as deployed (every kind
 * watched, status write-back on, k8s/crds.yaml installed), publishing into a real `nats-server -js`.
 *
 *   npm run bench:ingest -- --kube real --services 10000 [--churn-s 60] [--churn-rate 200] [--json]
 *
 * 1. Setup (not timed as ingest): N Services and N EndpointSlices (one endpoint each) created
 *    through the API with 32 requests in flight.
 * 2. Initial sync: the ingestor starts; timed from spawn to its resync marker in the log, and from
 *    its first logged event to the marker (list + publish, without process start-up). Events/s
 *    over the latter. RSS of the ingestor process sampled every 100 ms (peak = VmHWM).
 * 3. Sustained churn: EndpointSlices rewritten (a new endpoint IP) at a fixed rate for a fixed
 *    time, round-robin over all slices; per change, the lag from sending the update request to the
 *    event's JetStream timestamp (API server write + watch + ingestor + JetStream; p50/p99/max;
 *    rapid changes to one slice may coalesce, so only changes with their own event are timed). At
 *    the end every slice's final resourceVersion must be the newest in the log.
 *
 * The writer and the benchmark run in this process, the ingestor, nats-server, etcd and the API
 * server in their own; all share this machine's cores (state its load with the figures).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type KubernetesObject, KubernetesObjectApi } from '@kubernetes/client-node';
import { endpointSlice, service } from '../../services/ingestor/kubernetes/testing.ts';
import type { LoggedEvent } from '../../shared/events/event-log.ts';
import { JetStreamEventLog } from '../../shared/events/jetstream-event-log.ts';
import { silentLogger } from '../../shared/runtime/logger.ts';
import { kubeApiServerMissing, RealKube } from '../../test/harness/kube-apiserver.ts';
import { freePort } from '../../test/harness/ports.ts';
import { startNats } from '../../test/harness/servers.ts';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const NS = 'bench';
const CLUSTER = 'bench';
const ipOf = (svc: number, round: number) => `10.${(svc >> 8) & 255}.${svc & 255}.${(round % 250) + 1}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface RealBenchOptions {
  services: number;
  churnSeconds: number;
  churnRate: number;
  timeoutMs: number;
  json: boolean;
}

/** Runs `fn` over `items` with at most `width` in flight. */
async function pool<T>(items: readonly T[], width: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) {
        const item = items[next++] as T;
        await fn(item);
      }
    }),
  );
}

/** Resident set size and its peak (kB) of a process, from /proc. */
function memoryOf(pid: number): { rssKb: number; hwmKb: number } | undefined {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
    return { rssKb: kb('VmRSS'), hwmKb: kb('VmHWM') };
  } catch {
    return undefined;
  }
}

const percentile = (sorted: readonly number[], p: number) =>
  sorted.length === 0
    ? Number.NaN
    : (sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number);

export async function runRealBench(o: RealBenchOptions): Promise<void> {
  const missing = kubeApiServerMissing();
  if (missing) throw new Error(`--kube real: ${missing}`);
  const dist = path.join(REPO, 'dist');
  if (!fs.existsSync(dist))
    throw new Error('no dist/: run `npm run build` first (npm run bench:ingest does)');
  const deadline = Date.now() + o.timeoutMs;
  const load = () => os.loadavg().map((l) => l.toFixed(2));
  const loadAtStart = load();
  const [nats, kube] = await Promise.all([startNats(), RealKube.start()]);
  let child: ChildProcess | undefined;
  let events: JetStreamEventLog | undefined;
  let output = '';
  try {
    await kube.kubectl('apply', '-f', path.join(REPO, 'k8s/crds.yaml'));
    const api = KubernetesObjectApi.makeApiClient(kube.kubeconfig());
    for (const ns of [NS, 'attache'])
      await api.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } } as KubernetesObject);

    // 1. The cluster as the ingestor will find it.
    const indexes = Array.from({ length: o.services }, (_, i) => i);
    const setupStart = performance.now();
    await pool(indexes, 32, async (i) => {
      await api.create(service(`svc-${i}`, NS) as KubernetesObject);
      await api.create(endpointSlice(`svc-${i}-abc`, `svc-${i}`, [ipOf(i, 0)], NS) as KubernetesObject);
    });
    const setupMs = performance.now() - setupStart;
    process.stderr.write(
      `setup: ${o.services} Services + ${o.services} EndpointSlices created in ${Math.round(setupMs)} ms\n`,
    );

    events = await JetStreamEventLog.connect({ url: nats.url, log: silentLogger() });
    const startSeq = (await events.lastSeq()) + 1;

    // 2. Initial sync by the deployed binary.
    const adminPort = await freePort();
    const spawnedAt = Date.now();
    child = spawn(
      process.execPath,
      [
        path.join(REPO, 'bin/attache.js'),
        'ingest',
        'kubernetes',
        '--cluster',
        CLUSTER,
        '--kubeconfig',
        kube.kubeconfigFile,
        '--nats',
        nats.url,
        '--admin-host',
        '127.0.0.1',
        '--admin-port',
        String(adminPort),
        '--max-buffered-objects',
        String(Math.max(10_000, o.services * 2 + 100)),
      ],
      {
        env: {
          ...process.env,
          ATTACHE_FROM_SOURCE: '',
          ATTACHE_LOG_LEVEL: 'warn',
          ATTACHE_SECRET_KEYS: `k1:${randomBytes(32).toString('base64')}`,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const pid = child.pid ?? 0;
    const onData = (b: Buffer) => {
      output = (output + b.toString('utf8')).slice(-200_000);
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    const exited = new Promise<number | null>((r) => child?.once('exit', (code) => r(code)));
    const rssSamples: { at: number; rssKb: number }[] = [];
    const sampler = setInterval(() => {
      const m = memoryOf(pid);
      if (m) rssSamples.push({ at: Date.now(), rssKb: m.rssKb });
    }, 100);

    let marker: LoggedEvent | undefined;
    let first: LoggedEvent | undefined;
    let initialEvents = 0;
    let readFrom = startSeq;
    while (!marker) {
      if (Date.now() > deadline)
        throw new Error(`initial sync did not finish in time\n${output.slice(-4000)}`);
      if (child.exitCode !== null)
        throw new Error(`the ingestor exited (${child.exitCode})\n${output.slice(-4000)}`);
      for await (const e of events.read({ fromSeq: readFrom })) {
        readFrom = e.seq + 1;
        if (e.event.cluster !== CLUSTER) continue;
        if (e.event.op === 'resync') {
          marker = e;
          break;
        }
        first ??= e;
        initialEvents++;
      }
      if (!marker) await sleep(100);
    }
    const markerAt = Date.parse(marker.time ?? '');
    const firstAt = Date.parse(first?.time ?? marker.time ?? '');
    const syncMem = memoryOf(pid);
    const syncRss = rssSamples.filter((s) => s.at <= markerAt + 100);
    process.stderr.write(
      `initial sync: ${initialEvents} events, marker ${markerAt - spawnedAt} ms after spawn (${markerAt - firstAt} ms from the first event)\n`,
    );

    // Settle, then the steady idle footprint.
    await sleep(3_000);
    const idleMem = memoryOf(pid);

    // 3. Sustained churn at a fixed rate, round-robin over the slices.
    const churnStartSeq = readFrom;
    const writes = new Map<string, number>(); // `name rv` → when its update request was sent
    const lastRv = new Map<string, string>();
    const intervalMs = 1000 / o.churnRate;
    const churnStart = Date.now();
    const churnRssStart = rssSamples.length;
    let written = 0;
    let failed = 0;
    let maxBehindMs = 0;
    const inFlight = new Set<Promise<void>>();
    for (let k = 0; Date.now() - churnStart < o.churnSeconds * 1000; k++) {
      const due = churnStart + k * intervalMs;
      const wait = due - Date.now();
      if (wait > 1) await sleep(wait);
      else maxBehindMs = Math.max(maxBehindMs, -wait);
      const i = k % o.services;
      const round = Math.floor(k / o.services) + 1;
      const name = `svc-${i}-abc`;
      const p = (async () => {
        const sentAt = Date.now();
        try {
          const res = (await api.replace(
            endpointSlice(name, `svc-${i}`, [ipOf(i, round)], NS) as KubernetesObject,
          )) as KubernetesObject;
          const rv = res.metadata?.resourceVersion ?? '';
          writes.set(`${name} ${rv}`, sentAt);
          lastRv.set(name, rv);
          written++;
        } catch {
          failed++;
        }
      })();
      inFlight.add(p);
      void p.finally(() => inFlight.delete(p));
      if (inFlight.size >= 64) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
    const writeEnd = Date.now();

    // Drained: every slice's last write is in the log.
    const lags: number[] = [];
    const logged = new Map<string, string>(); // slice → newest rv logged
    let churnEvents = 0;
    let lastEventAt = 0;
    readFrom = churnStartSeq;
    for (;;) {
      for await (const e of events.read({ fromSeq: readFrom })) {
        readFrom = e.seq + 1;
        const ev = e.event;
        if (ev.cluster !== CLUSTER || ev.op !== 'upsert' || ev.kind !== 'EndpointSlice') continue;
        churnEvents++;
        const at = Date.parse(e.time ?? '');
        lastEventAt = Math.max(lastEventAt, at);
        logged.set(ev.name, ev.resourceVersion ?? '');
        const wroteAt = writes.get(`${ev.name} ${ev.resourceVersion}`);
        if (wroteAt !== undefined) lags.push(at - wroteAt);
      }
      const stale = [...lastRv].filter(([name, rv]) => logged.get(name) !== rv).length;
      if (stale === 0) break;
      if (Date.now() > deadline) throw new Error(`churn did not drain: ${stale} slices stale`);
      await sleep(200);
    }
    clearInterval(sampler);
    const churnRss = rssSamples.slice(churnRssStart).map((s) => s.rssKb);
    const finalMem = memoryOf(pid);
    lags.sort((a, b) => a - b);
    const churnSeconds = (writeEnd - churnStart) / 1000;
    const mb = (kb: number | undefined) => Math.round((kb ?? Number.NaN) / 102.4) / 10;
    const result = {
      benchmark: 'ingest-endpoints',
      kube: 'real kube-apiserver 1.20.2 + etcd (envtest)',
      services: o.services,
      setup: { objects: o.services * 2, ms: Math.round(setupMs) },
      initialSync: {
        objects: o.services * 2,
        eventsLogged: initialEvents,
        msFromSpawn: markerAt - spawnedAt,
        msFromFirstEvent: markerAt - firstAt,
        eventsPerSec: Math.round(initialEvents / ((markerAt - firstAt) / 1000)),
        rssPeakDuringSyncMb: mb(Math.max(...syncRss.map((s) => s.rssKb))),
        rssAfterSyncMb: mb(syncMem?.rssKb),
        rssIdleAfter3sMb: mb(idleMem?.rssKb),
      },
      churn: {
        targetRate: o.churnRate,
        seconds: Math.round(churnSeconds * 10) / 10,
        changesWritten: written,
        writeFailures: failed,
        // How far the writer fell behind its schedule (it cannot go faster than the API server answers).
        writerMaxBehindMs: Math.round(maxBehindMs),
        achievedRate: Math.round(written / churnSeconds),
        eventsLogged: churnEvents,
        coalesced: written - churnEvents,
        drainedMsAfterLastWrite: Math.max(0, lastEventAt - writeEnd),
        lagMs: {
          timed: lags.length,
          p50: percentile(lags, 50),
          p99: percentile(lags, 99),
          max: lags.at(-1) ?? Number.NaN,
        },
        rssMaxMb: mb(Math.max(...churnRss)),
        rssPeakProcessMb: mb(finalMem?.hwmKb),
      },
      verify: { slices: lastRv.size, ok: true },
      load: { atStart: loadAtStart, atEnd: load() },
      env: { node: process.version, cpus: os.cpus().length },
    };
    if (o.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    const s = result.initialSync;
    const c = result.churn;
    process.stderr.write(
      [
        `ingest-endpoints (real kube-apiserver): ${o.services} Services + ${o.services} EndpointSlices`,
        `  initial sync : ${s.eventsLogged} events; resync marker ${s.msFromSpawn} ms after spawn, ${s.msFromFirstEvent} ms after the first event (${s.eventsPerSec} events/s)`,
        `  ingestor RSS : peak ${s.rssPeakDuringSyncMb} MB during sync, ${s.rssIdleAfter3sMb} MB idle after it; ${c.rssMaxMb} MB max during churn (VmHWM ${c.rssPeakProcessMb} MB)`,
        `  churn        : ${c.changesWritten} EndpointSlice updates in ${c.seconds} s (${c.achievedRate}/s, target ${c.targetRate}/s, ${c.writeFailures} failed); ${c.eventsLogged} events, ${c.coalesced} coalesced`,
        `                 update sent → logged lag p50 ${c.lagMs.p50} ms, p99 ${c.lagMs.p99} ms, max ${c.lagMs.max} ms (${c.lagMs.timed} timed); drained ${c.drainedMsAfterLastWrite} ms after the last write`,
        `  verify       : every slice's last resourceVersion is the newest in the log`,
        `  load average : ${result.load.atStart.join(' ')} at start, ${result.load.atEnd.join(' ')} at end`,
        '',
      ].join('\n'),
    );
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      await Promise.race([exited, sleep(10_000)]);
    }
  } finally {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    await events?.close();
    await kube.close();
    await nats.dispose();
  }
}
