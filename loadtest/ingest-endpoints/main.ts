/**
 * Benchmark: EndpointSlice ingestion through one Kubernetes ingestor, end to end from the API
 * server's watch to JetStream's acknowledgement.
 *
 *   npm run bench:ingest -- [--kube real|fake] --services 10000 [--churn-s 60] [--churn-rate 200] [--json]
 *
 * `--kube real` (the default when ../shared/envtest is present): a real kube-apiserver + etcd and
 * the compiled `attache ingest kubernetes` as its own process — initial sync time, events/s,
 * ingestor RSS and sustained churn at a fixed rate with per-change lag (see real.ts).
 *
 * `--kube fake` [--rounds 5] [--window 64]: the fake API server (test/fake-kube) and an in-process
 * ingestor watching Services and EndpointSlices. Phases:
 *   1. initial sync — start() lists 2N objects and publishes them (acknowledged) plus a marker;
 *   2. churn — every slice is rewritten `rounds` times (a new endpoint IP each time), as fast as
 *      the writer can go; the clock stops at the last acknowledged publish once all is drained.
 * The result counts changes written, events published (fewer when rapid changes to one slice
 * coalesce in the outbox) and checks that the log ends with every slice's final resourceVersion.
 * Caveat: the fake API server, the writer and the ingestor share one Node process (one event
 * loop), so the fake's JSON encoding competes with the ingestor; nats-server is its own process.
 */
import os from 'node:os';
import { parseArgs } from 'node:util';
import { Registry } from 'prom-client';
import { ENDPOINT_SLICE, SERVICE } from '../../services/ingestor/kubernetes/kinds.ts';
import { KubernetesIngestor } from '../../services/ingestor/kubernetes/kubernetes-ingestor.ts';
import {
  endpointSlice,
  finalStates,
  metricValue,
  readAll,
  service,
} from '../../services/ingestor/kubernetes/testing.ts';
import { JetStreamEventLog } from '../../shared/events/jetstream-event-log.ts';
import { silentLogger } from '../../shared/runtime/logger.ts';
import { startFakeKube } from '../../test/fake-kube/fake-kube.ts';
import { kubeApiServerMissing } from '../../test/harness/kube-apiserver.ts';
import { startNats } from '../../test/harness/servers.ts';
import { runRealBench } from './real.ts';

const { values } = parseArgs({
  options: {
    kube: { type: 'string' },
    services: { type: 'string' },
    'churn-s': { type: 'string', default: '60' },
    'churn-rate': { type: 'string', default: '200' },
    rounds: { type: 'string', default: '5' },
    window: { type: 'string', default: '64' },
    'timeout-s': { type: 'string', default: '120' },
    json: { type: 'boolean', default: false },
  },
});
const kube = values.kube ?? (kubeApiServerMissing() ? 'fake' : 'real');
if (kube !== 'real' && kube !== 'fake')
  throw new Error(`--kube takes real or fake, got ${JSON.stringify(kube)}`);
const services = Number(values.services ?? (kube === 'real' ? 10_000 : 1000));
const rounds = Number(values.rounds);
const window = Number(values.window);
const timeoutMs = Number(values['timeout-s']) * 1000;
const NS = 'bench';

const ipOf = (svc: number, round: number) => `10.${(svc >> 8) & 255}.${svc & 255}.${round + 1}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function published(registry: Registry): Promise<number> {
  return metricValue(registry, 'attache_ingestor_events_published_total', { op: 'upsert' });
}

/** Polls the published counter until the outbox is empty and the count has not moved for `quietMs`; returns when the last increase happened. */
async function waitDrained(
  ingestor: KubernetesIngestor,
  registry: Registry,
  deadline: number,
  quietMs = 500,
) {
  let last = await published(registry);
  let lastChange = performance.now();
  for (;;) {
    await sleep(10);
    const now = await published(registry);
    if (now !== last) {
      last = now;
      lastChange = performance.now();
    } else if (ingestor.buffered === 0 && performance.now() - lastChange > quietMs)
      return { count: last, at: lastChange };
    if (Date.now() > deadline) throw new Error(`timed out with ${ingestor.buffered} objects unpublished`);
  }
}

async function main(): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const nats = await startNats();
  const fake = await startFakeKube();
  const events = await JetStreamEventLog.connect({
    url: nats.url,
    log: silentLogger(),
    streamName: 'BENCH_INGEST',
  });
  const registry = new Registry();
  const ingestor = new KubernetesIngestor({
    cluster: 'bench',
    kubeConfig: fake.kubeconfig(),
    events,
    log: silentLogger(),
    registry,
    kinds: [SERVICE, ENDPOINT_SLICE],
    publishWindow: window,
    maxBufferedObjects: Math.max(10_000, services * 2),
  });
  try {
    for (let i = 0; i < services; i++) {
      fake.apply(service(`svc-${i}`, NS));
      fake.apply(endpointSlice(`svc-${i}-abc`, `svc-${i}`, [ipOf(i, 0)], NS));
    }
    const t0 = performance.now();
    await ingestor.start();
    const initialMs = performance.now() - t0;
    const initialEvents = await published(registry);

    const t1 = performance.now();
    let changes = 0;
    for (let r = 1; r <= rounds && Date.now() < deadline; r++) {
      for (let i = 0; i < services; i++) {
        fake.apply(endpointSlice(`svc-${i}-abc`, `svc-${i}`, [ipOf(i, r)], NS));
        changes++;
        if (changes % 100 === 0) await new Promise((res) => setImmediate(res));
      }
    }
    const writeMs = performance.now() - t1;
    const drained = await waitDrained(ingestor, registry, deadline);
    const churnMs = drained.at - t1;
    const churnEvents = drained.count - initialEvents;

    const finals = finalStates(await readAll(events));
    let stale = 0;
    for (let i = 0; i < services; i++) {
      const want = fake.get({ apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice' }, NS, `svc-${i}-abc`)
        ?.metadata.resourceVersion;
      if (finals.get(`EndpointSlice ${NS}/svc-${i}-abc`)?.event.resourceVersion !== want) stale++;
    }
    const result = {
      benchmark: 'ingest-endpoints',
      services,
      rounds,
      publishWindow: window,
      initialSync: {
        objects: services * 2,
        eventsPublished: initialEvents,
        ms: Math.round(initialMs),
        eventsPerSec: Math.round(initialEvents / (initialMs / 1000)),
      },
      churn: {
        changesWritten: changes,
        writeMs: Math.round(writeMs),
        eventsPublished: churnEvents,
        coalesced: changes - churnEvents,
        ms: Math.round(churnMs),
        eventsPerSec: Math.round(churnEvents / (churnMs / 1000)),
        changesPerSec: Math.round(changes / (churnMs / 1000)),
      },
      verify: { slices: services, staleFinalStates: stale, ok: stale === 0 },
      publishFailures: await metricValue(registry, 'attache_ingestor_publish_failures_total'),
      env: { node: process.version, cpus: os.cpus().length, cpu: os.cpus()[0]?.model ?? '' },
    };
    if (values.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    const c = result.churn;
    process.stderr.write(
      [
        `ingest-endpoints: ${services} services, ${rounds} rounds of EndpointSlice churn, window ${window}`,
        `  initial sync : ${result.initialSync.objects} objects → ${initialEvents} events in ${result.initialSync.ms} ms (${result.initialSync.eventsPerSec} events/s)`,
        `  churn        : ${c.changesWritten} changes written in ${c.writeMs} ms; ${c.eventsPublished} events acknowledged by JetStream in ${c.ms} ms`,
        `                 → ${c.eventsPerSec} events/s end to end (${c.changesPerSec} changes/s absorbed, ${c.coalesced} coalesced)`,
        `  verify       : ${stale === 0 ? 'every slice has its final resourceVersion in the log' : `${stale} slices STALE`}`,
        '',
      ].join('\n'),
    );
    if (stale > 0) process.exitCode = 1;
  } finally {
    await ingestor.close();
    await events.close();
    await fake.close();
    await nats.dispose();
  }
}

const run =
  kube === 'real'
    ? () =>
        runRealBench({
          services,
          churnSeconds: Number(values['churn-s']),
          churnRate: Number(values['churn-rate']),
          timeoutMs: Math.max(timeoutMs, 1_800_000),
          json: values.json,
        })
    : main;
if (kube === 'fake' && !values.kube) process.stderr.write(`--kube fake: ${kubeApiServerMissing()}\n`);
run().catch((err) => {
  process.stderr.write(`ingest-endpoints failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
