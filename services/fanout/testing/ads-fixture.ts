/**
 * One fan-out for protocol tests: a memory snapshot store, a snapshot cache following it and one
 * or more ADS servers on free loopback ports, with helpers to commit a group's snapshot and wait
 * until the cache holds it, and to open raw SotW and delta clients that are closed at the end.
 */
import { Registry } from 'prom-client';
import { silentLogger } from '../../../shared/runtime/logger.ts';
import { MemorySnapshotStore } from '../../../shared/snapshot/memory-snapshot-store.ts';
import { SnapshotCache } from '../cache/snapshot-cache.ts';
import { AdsServerRunner, type AdsServerRunnerOptions } from '../server/ads-server.ts';
import { RawAdsClient } from './raw-ads-client.ts';
import { RawDeltaClient } from './raw-delta-client.ts';
import type { RawClientOptions } from './raw-stream.ts';
import { TestCommitter, type TestResource } from './test-snapshots.ts';

export type ServerOverrides = Partial<Omit<AdsServerRunnerOptions, 'cache' | 'registry'>>;

export class AdsFixture {
  readonly log = silentLogger();
  readonly store = new MemorySnapshotStore();
  readonly cache: SnapshotCache;
  readonly servers: AdsServerRunner[] = [];
  readonly registries: Registry[] = [];
  private readonly committers = new Map<string, TestCommitter>();
  private readonly clients: Array<{ close(): void }> = [];

  constructor() {
    this.cache = new SnapshotCache({ store: this.store, log: this.log, registry: new Registry() });
  }

  /** The first server. */
  get ads(): AdsServerRunner {
    const s = this.servers[0];
    if (!s) throw new Error('fixture has no server');
    return s;
  }

  /** The first server's registry (its metrics). */
  get registry(): Registry {
    return this.registries[0] as Registry;
  }

  async start(overrides: ServerOverrides = {}): Promise<this> {
    await this.cache.start();
    await this.addServer(overrides);
    return this;
  }

  /** Another fan-out server on the same cache (each with its own registry). */
  async addServer(overrides: ServerOverrides = {}): Promise<AdsServerRunner> {
    const registry = new Registry();
    const ads = new AdsServerRunner({
      cache: this.cache,
      host: '127.0.0.1',
      port: 0,
      log: this.log,
      registry,
      defaultGroup: 'default',
      ...overrides,
      // Protocol tests are not about authentication: anonymous unless the test says otherwise.
      auth: overrides.auth ?? { allowUnauthenticated: true },
      // Test clients share one loopback connection (grpc-js pools subchannels): no stream-count
      // limits unless the test sets them.
      limits: { maxStreamsPerConnection: 0, maxStreamsPerPeer: 0, ...overrides.limits },
    });
    await ads.start();
    this.servers.push(ads);
    this.registries.push(registry);
    return ads;
  }

  /** Commits `resources` to `group` at `version` and waits until the cache holds it. */
  async publish(group: string, version: number, resources: readonly TestResource[]): Promise<void> {
    let c = this.committers.get(group);
    if (!c) {
      c = new TestCommitter(this.store, group);
      this.committers.set(group, c);
    }
    await c.commit(version, resources);
    const deadline = Date.now() + 3000;
    while ((this.cache.current(group)?.version ?? 0) < version) {
      if (Date.now() > deadline) throw new Error(`cache never reached ${group}@${version}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  sotw(server = this.ads, opts: RawClientOptions = {}): RawAdsClient {
    const c = new RawAdsClient(server.port, opts);
    this.clients.push(c);
    return c;
  }

  delta(server = this.ads, opts: RawClientOptions = {}): RawDeltaClient {
    const c = new RawDeltaClient(server.port, opts);
    this.clients.push(c);
    return c;
  }

  /** A metric value of server `i` whose labels include `labels` (0 when absent). */
  async metric(name: string, labels: Record<string, string> = {}, i = 0): Promise<number> {
    const m = await this.registries[i]?.getSingleMetric(name)?.get();
    return m?.values.find((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val))?.value ?? 0;
  }

  async close(): Promise<void> {
    for (const s of this.servers) await s.close();
    for (const c of this.clients) c.close();
    await this.cache.close();
  }
}

/** A node whose metadata puts it in `group`. */
export function nodeIn(group: string, id = `${group}-node`) {
  return { id, cluster: 'test', metadata: { fields: { ambassador_id: { stringValue: group } } } };
}

/** Polls `cond` until true or fails after `timeoutMs`. */
export async function until(
  cond: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 3000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
