/**
 * Compiler high availability, every part real: `nats-server -js`, `redis-server`, the ingestor,
 * two `attache compile` replicas (one leader by lease, one warm standby) and a fan-out as
 * separate processes; a @grpc/grpc-js-xds client sends RPCs throughout and a raw ADS watcher
 * checks that what is served never goes back and never loses a change.
 *
 *   1. Redis loses its data (FLUSHALL): the leader re-commits every group without a restart.
 *   2. The leader is killed (SIGKILL): the standby commits the next change.
 *   3. The leader is paused (SIGSTOP): the standby takes over; the old leader, resumed
 *      (SIGCONT), cannot overwrite newer snapshots and rejoins as a standby instead of exiting.
 *
 * Recovery times are reported as diagnostics, not asserted. ATTACHE_HA_MAPPINGS sets how many
 * filler Mappings the world holds (default 200); every other one belongs to a second group
 * (`ambassador_id: blue`), so store loss is recovered for several groups at once.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { type AttacheProcess, startAttache } from '../harness/attache-process.ts';
import { eventually } from '../harness/eventually.ts';
import {
  type GenerationWatch,
  generationMappingYaml,
  watchGenerations,
} from '../harness/generation-watch.ts';
import { type EchoBackend, startEchoBackend } from '../harness/grpc-echo.ts';
import { freePort } from '../harness/ports.ts';
import { type RpcLoop, rpcLoop } from '../harness/rpc-loop.ts';
import { startNats, startRedis, type TestServer } from '../harness/servers.ts';
import { compileArgs, fanoutArgs, ingestFsArgs } from '../harness/tier-args.ts';
import { createXdsEchoClient, FAILED, type XdsEchoClient } from '../harness/xds-client.ts';
import { backendsYaml, baseMappingYaml, fillerYaml, HOST, writeAtomic } from './canary-scenario.ts';

/** Mappings besides the echo route, so a recommit has real work to do. */
const FILLER = Number(process.env.ATTACHE_HA_MAPPINGS ?? 200);
const LEASE_TTL_MS = 2000;
const GROUPS = ['default', 'blue'];

interface Replica {
  admin: number;
  proc: AttacheProcess;
}

describe('compiler HA — store loss, leader kill, leader pause', () => {
  let nats: TestServer;
  let redis: TestServer;
  let backend: EchoBackend;
  let configDir: string;
  let xdsPort: number;
  let fanoutAdmin: number;
  const processes: AttacheProcess[] = [];
  const replicas: Replica[] = [];
  let client: XdsEchoClient;
  let rpcs: RpcLoop;
  let watch: GenerationWatch;
  let generation = 0;
  let redisClient: Redis;

  const startCompiler = async (admin: number): Promise<Replica> => {
    const proc = startAttache([
      ...compileArgs({ natsUrl: nats.url, redisUrl: redis.url, adminPort: admin }),
      '--lease-ttl-ms',
      String(LEASE_TTL_MS),
      ...GROUPS.flatMap((g) => ['--group', g]),
    ]);
    processes.push(proc);
    await proc.waitReady(admin, 120_000);
    return { admin, proc };
  };

  const isLeader = async (r: Replica): Promise<boolean> => {
    const metrics = await (await fetch(`http://127.0.0.1:${r.admin}/metrics`)).text();
    return /^attache_compiler_leader(\{[^}]*\})? 1$/m.test(metrics);
  };

  /** The one replica that leads, once exactly one does. */
  const leader = async (): Promise<Replica> =>
    eventually(
      async () => {
        const live = replicas.filter((r) => !r.proc.exited);
        const flags = await Promise.all(live.map(isLeader));
        const leaders = live.filter((_, i) => flags[i]);
        assert.equal(leaders.length, 1, `expected one leader, got ${leaders.length}`);
        return leaders[0] as Replica;
      },
      { timeoutMs: 30_000, intervalMs: 100 },
    );

  /** Publishes the next generation; returns its number. */
  const nextGeneration = (): number => {
    generation++;
    writeAtomic(path.join(configDir, `gen-${generation}.yaml`), generationMappingYaml(generation, HOST));
    return generation;
  };

  const head = async (group = 'default'): Promise<number | null> => {
    const v = await redisClient.get(`attache:g:{${group}}:head`);
    return v === null ? null : Number(v);
  };

  before(async () => {
    [nats, redis, backend] = await Promise.all([startNats(), startRedis(), startEchoBackend('stable')]);
    redisClient = new Redis(redis.url, { maxRetriesPerRequest: 1 });
    configDir = fs.mkdtempSync(path.join(os.tmpdir(), 'attache-ha-'));
    writeAtomic(path.join(configDir, 'services.yaml'), backendsYaml(backend.port, backend.port));
    writeAtomic(path.join(configDir, 'echo.yaml'), baseMappingYaml());
    writeAtomic(path.join(configDir, 'filler.yaml'), fillerYaml(FILLER, 'blue'));
    const [ingestAdmin, a, b] = await Promise.all([freePort(), freePort(), freePort()]);
    [fanoutAdmin, xdsPort] = await Promise.all([freePort(), freePort()]);
    const ingest = startAttache(
      ingestFsArgs({
        dir: configDir,
        cluster: 'ha',
        natsUrl: nats.url,
        adminPort: ingestAdmin,
        extra: ['--poll-interval-ms', '300'],
      }),
    );
    const fanout = startAttache(fanoutArgs({ redisUrl: redis.url, xdsPort, adminPort: fanoutAdmin }));
    processes.push(ingest, fanout);
    const started = await Promise.all([
      startCompiler(a),
      startCompiler(b),
      ingest.waitReady(ingestAdmin, 120_000),
      fanout.waitReady(fanoutAdmin, 120_000),
    ]);
    replicas.push(started[0], started[1]);
    client = createXdsEchoClient({ serverPort: xdsPort, nodeId: 'ha-client', target: `xds:///${HOST}` });
    await eventually(() => client.echo('warm-up', 5000), { timeoutMs: 90_000 });
    watch = watchGenerations(xdsPort, 'ha-watcher');
    await watch.waitFor(nextGeneration(), 90_000);
    rpcs = rpcLoop(client);
  });

  after(async () => {
    await rpcs?.stop();
    watch?.close();
    client?.close();
    redisClient?.disconnect();
    await Promise.all(processes.map((p) => p.stop()));
    await Promise.all([nats?.dispose(), redis?.dispose(), backend?.stop()]);
    if (configDir) fs.rmSync(configDir, { recursive: true, force: true });
  });

  const assertClean = () => {
    assert.deepEqual(watch.regressions, [], 'no client saw a version go back');
    assert.deepEqual(watch.holes, [], 'no client lost a change');
    const failed = rpcs.samples.filter((s) => s.backend === FAILED).length;
    assert.equal(failed, 0, `failed RPCs: ${failed} of ${rpcs.samples.length}`);
  };

  test('exactly one replica leads; the other is a ready standby', async () => {
    const l = await leader();
    const standby = replicas.find((r) => r !== l) as Replica;
    assert.equal(await isLeader(standby), false);
    assert.equal(standby.proc.exited, false);
  });

  test('store loss — after FLUSHALL the leader re-commits without a restart; clients never go back', async (t) => {
    const before = await Promise.all(GROUPS.map((g) => head(g)));
    for (const b of before) assert.ok(b !== null && b > 0);
    const flushedAt = Date.now();
    await redisClient.flushall();
    const back = await eventually(
      async () => {
        const heads = await Promise.all(GROUPS.map((g) => head(g)));
        GROUPS.forEach((g, i) => {
          const h = heads[i];
          assert.ok(h != null && h >= (before[i] as number), `${g}: head ${h} not back to ${before[i]}`);
        });
        return Date.now();
      },
      { timeoutMs: 60_000, intervalMs: 20 },
    );
    t.diagnostic(
      `every group's head (${GROUPS.join(', ')}) back ${back - flushedAt} ms after FLUSHALL (${FILLER + 2} Mappings)`,
    );
    const gen = nextGeneration();
    await watch.waitFor(gen, 60_000);
    for (const r of replicas) assert.equal(r.proc.exited, false, 'no compiler exited');
    assertClean();
  });

  test('leader killed (SIGKILL) — the standby commits the next change', async (t) => {
    const old = await leader();
    old.proc.signal('SIGKILL');
    const killedAt = Date.now();
    const gen = nextGeneration();
    const servedAt = await watch.waitFor(gen, 60_000);
    t.diagnostic(`change served ${servedAt - killedAt} ms after the leader was killed`);
    await old.proc.wait(10_000);
    replicas.splice(replicas.indexOf(old), 1);
    replicas.push(await startCompiler(old.admin));
    await leader();
    assertClean();
  });

  test('leader paused (SIGSTOP) — the standby takes over; resumed, the old leader rejoins as a standby', async (t) => {
    const old = await leader();
    const standby = replicas.find((r) => r !== old) as Replica;
    old.proc.signal('SIGSTOP');
    const pausedAt = Date.now();
    try {
      const gen = nextGeneration();
      const servedAt = await watch.waitFor(gen, 60_000);
      t.diagnostic(`change served ${servedAt - pausedAt} ms after the leader was paused`);
      assert.equal(await isLeader(standby), true, 'the standby leads');
    } finally {
      old.proc.signal('SIGCONT');
    }
    const headAtResume = await head();
    await eventually(async () => assert.equal(await isLeader(old), false), { timeoutMs: 10_000 });
    assert.equal((await leader()) === standby, true, 'the new leader keeps leading');
    const gen = nextGeneration();
    await watch.waitFor(gen, 60_000);
    const h = await head();
    assert.ok(h !== null && headAtResume !== null && h > headAtResume, 'the head moved forward only');
    assert.equal(old.proc.exited, false, 'the old leader did not exit');
    assert.match(old.proc.output(), /continuing as a standby|rejoins as a standby/);
    assertClean();
  });
});
