/**
 * The Kubernetes ingestion pipeline for end-to-end tests, on real servers: `attache dev`'s
 * runners (compiler, snapshot cache, ADS server) on a JetStream event log and a Redis snapshot
 * store, with no directory ingestors — the test adds Kubernetes ingestors against fake API
 * servers. Plus the two ways a test observes the pipeline without trusting it:
 *
 * - the log: wait until given object changes are stored ({@link waitLogged});
 * - the committed snapshot in Redis: the head manifest's resources, decoded
 *   ({@link readHeadSnapshot}), once the head includes a given sequence ({@link waitCommitted}).
 */
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { type DevOptions, startDevPipeline } from '../../services/cli/dev.ts';
import type { EventLog, LoggedEvent } from '../../shared/events/event-log.ts';
import { createLogger } from '../../shared/runtime/logger.ts';
import type { KeyRing } from '../../shared/runtime/secret-keys.ts';
import { loadResources } from '../../shared/snapshot/resource-chunks.ts';
import { openSecretBlob } from '../../shared/snapshot/sealed-blobs.ts';
import type { SnapshotStore } from '../../shared/snapshot/snapshot-store.ts';
import { decodeResource } from '../../shared/xds/encoding.ts';
import type { TypeUrl } from '../../shared/xds/type-urls.ts';
import { eventually } from '../harness/eventually.ts';

export const GROUP = 'default';

export type KubePipeline = Awaited<ReturnType<typeof startDevPipeline>>;

/** Starts the compiler, cache and ADS server (free port) on NATS and Redis. */
export async function startKubePipeline(o: {
  natsUrl: string;
  redisUrl: string;
  onCommit?: DevOptions['onCommit'];
  /** Keys that open Secrets sealed by ingestor processes (ATTACHE_SECRET_KEYS). */
  secretKeys?: DevOptions['secretKeys'];
}): Promise<KubePipeline> {
  const log = createLogger('e2e-kube', process.env.ATTACHE_LOG_LEVEL ?? 'warn');
  return startDevPipeline({
    configDirs: [],
    cluster: 'unused',
    groups: [GROUP],
    bind: '127.0.0.1',
    // Loopback, as `attache dev` defaults to; these tests are not about authentication.
    auth: { allowUnauthenticated: true },
    xdsPort: 0,
    adminPort: 0,
    natsUrl: o.natsUrl,
    redisUrl: o.redisUrl,
    redisPrefix: `e2e-kube-${process.pid}-${Date.now()}:`,
    debounceMs: 20,
    maxDelayMs: 200,
    log,
    registry: new Registry(),
    onFatal: (err) => log.error({ err }, 'fatal'),
    ...(o.onCommit ? { onCommit: o.onCommit } : {}),
    ...(o.secretKeys ? { secretKeys: o.secretKeys } : {}),
  });
}

/** A committed snapshot, decoded: per type URL, resource name → message (proto field names). */
export interface DecodedSnapshot {
  version: number;
  of(type: TypeUrl): Map<string, Record<string, unknown>>;
}

/** The group's head snapshot as committed in the store, every resource decoded. */
export async function readHeadSnapshot(
  store: SnapshotStore,
  group = GROUP,
  keys?: KeyRing,
): Promise<DecodedSnapshot> {
  const version = await store.head(group);
  assert.ok(version !== null, `group ${group} has no committed snapshot`);
  return readSnapshot(store, group, version, keys);
}

/** One committed version of the group's snapshot, every resource decoded (SDS blobs opened with `keys`). */
export async function readSnapshot(
  store: SnapshotStore,
  group: string,
  version: number,
  keys?: KeyRing,
): Promise<DecodedSnapshot> {
  const manifest = await store.getManifest(group, version);
  assert.ok(manifest, `manifest ${group}@${version} is missing`);
  const byType = new Map<string, Map<string, Record<string, unknown>>>();
  for (const [type, entries] of Object.entries(manifest.types)) {
    const list = entries?.resources ?? [];
    const blobs = await loadResources(list, (hashes) => store.getBlobs(hashes));
    const decoded = new Map<string, Record<string, unknown>>();
    for (const e of list) {
      const bytes = blobs.get(e.hash);
      assert.ok(bytes, `blob ${e.hash} of ${e.name} is missing`);
      decoded.set(e.name, decodeResource(type, openSecretBlob(e.hash, bytes, keys)));
    }
    byType.set(type, decoded);
  }
  return { version, of: (type) => byType.get(type) ?? new Map() };
}

/** Waits until the group's head snapshot includes the event at `seq`. */
export async function waitCommitted(store: SnapshotStore, seq: number, group = GROUP): Promise<void> {
  await eventually(async () => {
    const head = await store.head(group);
    assert.ok(head !== null && head >= seq, `head ${head} has not reached seq ${seq}`);
  });
}

/** One object change a test expects in the log. */
export interface ExpectedChange {
  cluster: string;
  /** Kind in the event envelope (an AmbassadorMapping is published as `Mapping`). */
  kind: string;
  namespace: string;
  name: string;
  op: 'upsert' | 'delete';
  /** For upserts: the resourceVersion the API server gave the change. */
  resourceVersion?: string;
}

/** Every event from `fromSeq` on, in order. */
export async function readEvents(events: EventLog, fromSeq: number): Promise<LoggedEvent[]> {
  const out: LoggedEvent[] = [];
  for await (const e of events.read({ fromSeq })) out.push(e);
  return out;
}

function matches(e: LoggedEvent, c: ExpectedChange): boolean {
  const ev = e.event;
  return (
    ev.cluster === c.cluster &&
    ev.kind === c.kind &&
    ev.namespace === c.namespace &&
    ev.name === c.name &&
    ev.op === c.op &&
    (c.resourceVersion === undefined || ev.resourceVersion === c.resourceVersion)
  );
}

/**
 * Waits until every expected change is stored at or after `fromSeq`; returns the highest
 * sequence among them.
 */
export async function waitLogged(
  events: EventLog,
  fromSeq: number,
  changes: readonly ExpectedChange[],
  timeoutMs = 20_000,
): Promise<number> {
  return eventually(
    async () => {
      const logged = await readEvents(events, fromSeq);
      let seq = 0;
      for (const c of changes) {
        const hit = logged.find((e) => matches(e, c));
        assert.ok(
          hit,
          `not in the log yet: ${c.op} ${c.kind} ${c.namespace}/${c.name} ${c.resourceVersion ?? ''}`,
        );
        seq = Math.max(seq, hit.seq);
      }
      return seq;
    },
    { timeoutMs, intervalMs: 50 },
  );
}

// ---- changing a cluster and waiting for the pipeline -------------------------------------------

/** The objects a change touches, as the kinds table writes them (test/e2e/kube-kind-cases.ts). */
export interface KubeChange {
  apply?: readonly TestObject[];
  /** Applied first, like `apply`, but the ingestor must not publish them: nothing wants them. */
  applyUnpublished?: readonly TestObject[];
  remove?: readonly TestObject[];
}

export interface TestObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; [k: string]: unknown };
  [k: string]: unknown;
}

/** Writes objects to one API server, the fake or the real one. */
export interface KubeWriter {
  /** Creates or updates the object; returns the resourceVersion the server gave it. */
  apply(o: TestObject): Promise<string>;
  /** Deletes it; false when it did not exist. */
  remove(o: TestObject): Promise<boolean>;
}

/** The kind an object's events carry (the kind itself; AmbassadorMappings keep theirs). */
export const eventKind = (o: TestObject) => o.kind;

export const keyOf = (kind: string, namespace: string, name: string) => `${kind} ${namespace}/${name}`;

export const objectKeyOf = (o: TestObject) =>
  keyOf(eventKind(o), o.metadata.namespace ?? '', o.metadata.name);

/** Events of one source cluster (no resync markers) by `kind namespace/name`. */
export function byObject(logged: readonly LoggedEvent[], cluster: string): Map<string, LoggedEvent[]> {
  const out = new Map<string, LoggedEvent[]>();
  for (const e of logged) {
    const ev = e.event;
    if (ev.cluster !== cluster || ev.op === 'resync') continue;
    const k = keyOf(ev.kind, ev.namespace, ev.name);
    out.set(k, [...(out.get(k) ?? []), e]);
  }
  return out;
}

/**
 * Applies and removes objects in an API server, then waits until each change the ingestor of
 * `cluster` must publish is in the log and the head snapshot includes it. Returns the first
 * sequence after the changes were made.
 */
export async function changeAndWait(
  pipeline: KubePipeline,
  kube: KubeWriter,
  cluster: string,
  step: KubeChange,
): Promise<number> {
  const fromSeq = (await pipeline.events.lastSeq()) + 1;
  const logged = byObject(await readEvents(pipeline.events, 1), cluster);
  const liveInLog = (o: TestObject) => logged.get(objectKeyOf(o))?.at(-1)?.event.op === 'upsert';
  const expected: ExpectedChange[] = [];
  for (const o of step.applyUnpublished ?? []) await kube.apply(o);
  for (const o of step.apply ?? [])
    expected.push({
      cluster,
      kind: eventKind(o),
      namespace: o.metadata.namespace ?? '',
      name: o.metadata.name,
      op: 'upsert',
      resourceVersion: await kube.apply(o),
    });
  for (const o of step.remove ?? []) {
    assert.ok(await kube.remove(o), `${objectKeyOf(o)} existed`);
    if (liveInLog(o))
      expected.push({
        cluster,
        kind: eventKind(o),
        namespace: o.metadata.namespace ?? '',
        name: o.metadata.name,
        op: 'delete',
      });
  }
  if (expected.length > 0)
    await waitCommitted(pipeline.store, await waitLogged(pipeline.events, fromSeq, expected));
  return fromSeq;
}
