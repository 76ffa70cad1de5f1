/**
 * Debugging with the log, end to end through the real NATS JetStream + Redis path: a sequence of
 * YAML changes is ingested and committed, then
 * - `attache replay` rebuilds five committed versions and one point in time, byte-identical, both
 *   from the compiler's nearest checkpoint (in Redis) and from the first event (`--from-zero`);
 * - `attache diff` names the resource and routing change and the event behind it;
 * - `attache explain` names the Mapping behind the matching route and why an earlier route did
 *   not match;
 * - `attache plan` predicts the diff that applying a change then produces;
 * - `attache bisect` finds the breaking event in a 1,000-event log in NATS in about log2(1,000)
 *   rebuilds, each from the compiler's nearest checkpoint in Redis (and the same with --from-zero);
 * - on the embedded log of `attache dev`: `/snapshot-external` never contains the TLS key that
 *   `/snapshot` serves.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ENVELOPE_VERSION, type EventEnvelope } from '../../shared/events/envelope.ts';
import { startAttache } from '../harness/attache-process.ts';
import { settled, startTestDevPipeline } from '../harness/dev-pipeline.ts';
import { freePort } from '../harness/ports.ts';
import { startNats, startRedis, type TestServer } from '../harness/servers.ts';
import { writeAtomic } from '../harness/write-atomic.ts';

const TLS_SECRETS = fs.readFileSync(
  new URL('../../testdata/compiler/edge-host-tls/in/secrets.yaml', import.meta.url),
  'utf8',
);
/** The first Secret of the edge-host-tls case (example-cert) and its key, base64 as in the YAML. */
const SECRET_DOC = `${TLS_SECRETS.split('\n---\n')[0]}\n`;
const TLS_KEY_B64 = /tls\.key: (\S+)/.exec(SECRET_DOC)?.[1] ?? '';

function mapping(name: string, prefix: string, service: string, extra = ''): string {
  return `apiVersion: getambassador.io/v3alpha1
kind: Mapping
metadata: { name: ${name}, namespace: default }
spec:
  hostname: "*"
  prefix: ${prefix}
  service: ${service}
${extra}`;
}

async function run(args: string[], stdin?: string): Promise<{ code: number | null; out: string }> {
  const p = startAttache(args, {}, stdin === undefined ? {} : { stdin });
  const code = await p.wait(60_000);
  return { code, out: p.output() };
}

describe('debugging — through NATS and Redis', () => {
  let nats: TestServer;
  let redis: TestServer;
  before(async () => {
    [nats, redis] = await Promise.all([startNats(), startRedis()]);
  });
  after(async () => {
    await Promise.all([nats?.dispose(), redis?.dispose()]);
  });

  test('debugging — replay, diff, explain, plan and the scrubbed snapshot agree with what was committed', async (t) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'attache-debug-'));
    const proposedDir = fs.mkdtempSync(path.join(os.tmpdir(), 'attache-plan-'));
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'attache-debug-out-'));
    const [xdsPort, adminPort] = await Promise.all([freePort(), freePort()]);
    const prefix = `debug-${xdsPort}:`;
    const p = await startTestDevPipeline({
      configDirs: [dir],
      cluster: 'site',
      groups: ['default'],
      bind: '127.0.0.1',
      xdsPort,
      adminPort,
      natsUrl: nats.url,
      redisUrl: redis.url,
      redisPrefix: prefix,
      // A checkpoint after every compile that folded two events or more: replays have several
      // to start from, at and before their points.
      checkpointPolicy: { everyEvents: 2, everyMs: 0, keep: 20 },
    });
    const source = ['--nats', nats.url];
    try {
      writeAtomic(path.join(dir, 'api.yaml'), mapping('api', '/api/', 'api-v1'));
      writeAtomic(path.join(dir, 'web.yaml'), mapping('web', '/', 'web'));
      const v1 = await settled(p);
      writeAtomic(
        path.join(dir, 'admin.yaml'),
        mapping('api-admin', '/api/admin/', 'admin', '  headers: { x-team: ops }\n'),
      );
      const v2 = await settled(p);
      const beforeBreak = new Date().toISOString();
      await new Promise((r) => setTimeout(r, 20));
      writeAtomic(path.join(dir, 'api.yaml'), mapping('api', '/api/', 'api-v2'));
      const v3 = await settled(p);
      writeAtomic(path.join(dir, 'docs.yaml'), mapping('docs', '/docs/', 'docs'));
      const v4 = await settled(p);
      writeAtomic(path.join(dir, 'web.yaml'), mapping('web', '/', 'web', '  timeout_ms: 9000\n'));
      const v5 = await settled(p);
      const versions = [v1, v2, v3, v4, v5];
      assert.deepEqual(
        (await p.store.versions('default')).filter((v) => versions.includes(v)),
        versions,
      );

      // Replay: five committed versions and the state at a wall-clock time, each byte-identical to
      // what was committed there, from the nearest checkpoint and from the first event.
      const checkpoints = await p.checkpoints.list();
      const starts: { point: string; checkpoint: number; seq: number }[] = [];
      const replay = async (point: string[], name: string, fromZero: boolean) => {
        const r = await run([
          'replay',
          ...source,
          '--redis',
          redis.url,
          '--redis-prefix',
          prefix,
          ...point,
          ...(fromZero ? ['--from-zero'] : []),
          '--out',
          path.join(out, `${name}${fromZero ? '-zero' : ''}`),
        ]);
        assert.equal(r.code, 0, r.out);
        assert.match(r.out, /identical to the committed manifest/);
        const seq = Number(/at event sequence (\d+)/.exec(r.out)?.[1]);
        if (fromZero) assert.match(r.out, /from the start of the log/);
        else {
          const c = /from the checkpoint at sequence (\d+)/.exec(r.out);
          assert.ok(
            c,
            `replay of ${name} started from a checkpoint (stored: ${checkpoints.join(', ')}):\n${r.out}`,
          );
          const checkpoint = Number(c[1]);
          assert.equal(
            checkpoint,
            Math.max(...checkpoints.filter((x) => x <= seq)),
            'the nearest checkpoint at or before the point',
          );
          starts.push({ point: name, checkpoint, seq });
        }
        return { ...r, seq };
      };
      for (const v of versions) {
        for (const fromZero of [false, true]) {
          const r = await replay(['--version', String(v)], String(v), fromZero);
          assert.equal(r.seq, v);
          assert.ok(fs.existsSync(path.join(out, `${v}${fromZero ? '-zero' : ''}`, 'provenance.json')));
        }
        assert.deepEqual(
          fs.readFileSync(path.join(out, String(v), 'manifest.json')),
          fs.readFileSync(path.join(out, `${v}-zero`, 'manifest.json')),
        );
      }
      for (const fromZero of [false, true]) {
        const atTime = await replay(['--at', beforeBreak], 'at', fromZero);
        assert.equal(atTime.seq, v2, 'the time before the break resolves to v2');
      }
      assert.ok(
        starts.some((s) => s.checkpoint < s.seq),
        `some replays folded a tail after their checkpoint: ${JSON.stringify(starts)}`,
      );
      t.diagnostic(
        `replays from checkpoints: ${starts.map((s) => `${s.point}: ${s.checkpoint}+${s.seq - s.checkpoint}`).join(', ')}`,
      );

      // Diff v2 → v3 (positional versions): the api route moved from api-v1 to api-v2 because of the api Mapping event.
      const diff = await run(['diff', `v${v2}`, `v${v3}`, ...source, '--json']);
      assert.equal(diff.code, 0, diff.out);
      const d = JSON.parse(diff.out) as {
        routing: {
          match: string;
          before?: string;
          after?: string;
          causes: { seq: number; name: string }[];
        }[];
        resources: {
          name: string;
          change: string;
          fields: { path: string }[];
          causes: { seq: number; name: string }[];
        }[];
      };
      const apiRoute = d.routing.filter((r) => r.match.includes('"/api/"'));
      assert.ok(apiRoute.length > 0, JSON.stringify(d.routing));
      for (const r of apiRoute) {
        assert.match(r.before ?? '', /cluster_api_v1_default/);
        assert.match(r.after ?? '', /cluster_api_v2_default/);
        assert.deepEqual(
          r.causes.map((c) => [c.seq, c.name]),
          [[v3, 'api']],
        );
      }
      assert.deepEqual(
        d.resources
          .filter((r) => r.change !== 'changed')
          .map((r) => `${r.change} ${r.name}`)
          .sort(),
        [
          'added cluster_api_v2_default',
          'added k8s/default/api-v2/80',
          'removed cluster_api_v1_default',
          'removed k8s/default/api-v1/80',
        ],
      );
      // The changed resource is the route configuration, changed exactly where the api route
      // points (and its traffic-shift key), caused by the same event.
      const changed = d.resources.filter((r) => r.change === 'changed');
      assert.deepEqual(
        changed.map((r) => [r.name, r.fields.map((f) => f.path.replace(/routes\[\d+\]/, 'routes[i]'))]),
        [
          [
            'ambassador-listener-8080-routes',
            [
              'virtual_hosts[0].routes[i].match.runtime_fraction.runtime_key',
              'virtual_hosts[0].routes[i].route.cluster',
            ],
          ],
        ],
      );
      for (const r of changed)
        assert.deepEqual(
          r.causes.map((c) => [c.seq, c.name]),
          [[v3, 'api']],
        );
      t.diagnostic(
        `diff v${v2}→v${v3}: ${d.resources.length} resources, ${d.routing.length} routing changes`,
      );

      // Explain: the api Mapping takes /api/users; the admin route before it wants x-team.
      const ex = await run([
        'explain',
        ...source,
        '--authority',
        'shop.test',
        '--path',
        '/api/admin/users',
        '--at',
        `v${v3}`,
      ]);
      assert.equal(ex.code, 0, ex.out);
      assert.match(ex.out, /no match — header x-team is absent/);
      assert.match(ex.out, /MATCH, takes 100% → cluster_api_v2_default/);
      assert.match(ex.out, /from Mapping default\/api \(site, api\.yaml#0/);
      // Explain by name: a cluster and a listener, with the objects behind them.
      const cluster = await run(['explain', ...source, '--name', 'cluster_api_v2_default', '--at', `v${v3}`]);
      assert.equal(cluster.code, 0, cluster.out);
      assert.match(cluster.out, /^CDS cluster_api_v2_default /m);
      assert.match(cluster.out, /^ {2}from Mapping default\/api \(site, api\.yaml#0/m);
      const listener = await run(['explain', ...source, '--name', 'ambassador-listener-8080']);
      assert.equal(listener.code, 0, listener.out);
      assert.match(listener.out, /^LDS ambassador-listener-8080 /m);
      const gone = await run(['explain', ...source, '--name', 'cluster_api_v1_default', '--at', `v${v3}`]);
      assert.equal(gone.code, 1, `a cluster the snapshot no longer holds: ${gone.out}`);
      assert.match(gone.out, /no resource named cluster_api_v1_default/);

      // Plan: move /api/ to api-v3, predict, apply, and compare with what the compiler committed.
      writeAtomic(path.join(proposedDir, 'api.yaml'), mapping('api', '/api/', 'api-v3'));
      const planned = await run(['plan', ...source, '--cluster', 'site', '--config', proposedDir, '--json']);
      assert.equal(planned.code, 2, planned.out);
      const pd = JSON.parse(planned.out) as typeof d;
      // The same proposal as a Kubernetes manifest on stdin (a List, as kubectl get -o yaml prints).
      const manifest = `apiVersion: v1\nkind: List\nitems:\n${mapping('api', '/api/', 'api-v3')
        .split('\n')
        .filter(Boolean)
        .map((l, i) => `${i === 0 ? '- ' : '  '}${l}`)
        .join('\n')}\n`;
      const fromStdin = await run(['plan', ...source, '--cluster', 'site', '--json'], manifest);
      assert.equal(fromStdin.code, 2, fromStdin.out);
      writeAtomic(path.join(dir, 'api.yaml'), mapping('api', '/api/', 'api-v3'));
      const v6 = await settled(p);
      const applied = JSON.parse(
        (await run(['diff', String(v5), String(v6), ...source, '--json'])).out,
      ) as typeof d;
      const shape = (x: typeof d) => ({
        resources: x.resources.map((r) => [r.change, r.name, r.fields.map((f) => f.path)]),
        routing: x.routing.map((r) => [r.match, r.before, r.after]),
      });
      assert.deepEqual(shape(pd), shape(applied), 'plan predicted exactly the applied diff');
      assert.deepEqual(
        shape(JSON.parse(fromStdin.out) as typeof d),
        shape(applied),
        'plan from a manifest on stdin predicted it too',
      );
      const again = await run(['plan', ...source, '--cluster', 'site', '--config', proposedDir]);
      assert.equal(again.code, 0, `nothing left to change:\n${again.out}`);
    } finally {
      await p.close();
      for (const d of [dir, proposedDir, out]) fs.rmSync(d, { recursive: true, force: true });
    }
  });
});

describe("debugging — bisect over a 1,000-event log in NATS, with the compiler's checkpoints in Redis", () => {
  let nats: TestServer;
  let redis: TestServer;
  before(async () => {
    [nats, redis] = await Promise.all([startNats(), startRedis()]);
  });
  after(async () => {
    await Promise.all([nats?.dispose(), redis?.dispose()]);
  });

  test('debugging — attache bisect names the breaking event in O(log n) rebuilds from checkpoints', {
    timeout: 300_000,
  }, async (t) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'attache-bisect-'));
    const [xdsPort, adminPort] = await Promise.all([freePort(), freePort()]);
    const prefix = `bisect-${xdsPort}:`;
    // The compiler follows NATS and commits to Redis, writing a checkpoint every 100 events folded.
    const p = await startTestDevPipeline({
      configDirs: [dir],
      cluster: 'site',
      groups: ['default'],
      bind: '127.0.0.1',
      xdsPort,
      adminPort,
      natsUrl: nats.url,
      redisUrl: redis.url,
      redisPrefix: prefix,
      checkpointPolicy: { everyEvents: 100, everyMs: 0, keep: 20 },
    });
    const upsert = (name: string, prefix: string, service: string, i: number): EventEnvelope => ({
      v: ENVELOPE_VERSION,
      cluster: 'bulk',
      kind: 'Mapping',
      namespace: 'default',
      name,
      op: 'upsert',
      resourceVersion: String(i),
      generation: 1,
      observedAt: new Date().toISOString(),
      ingestor: 'bulk-test',
      object: {
        apiVersion: 'getambassador.io/v3alpha1',
        kind: 'Mapping',
        metadata: { name, namespace: 'default', resourceVersion: String(i) },
        spec: { hostname: '*', prefix, service },
      },
    });
    try {
      // 1,000 events published to JetStream as an ingestor publishes them, in batches the compiler
      // commits as they come: the api Mapping, then 40 others changing their backend over and
      // over, and at one point the api Mapping moving to api-v2.
      const first = (await p.events.lastSeq()) + 1;
      const breaking = first + 636;
      for (let batch = 0; batch < 20; batch++) {
        for (let k = 0; k < 50; k++) {
          const seq = first + batch * 50 + k;
          const i = seq - first + 1;
          await p.events.publish(
            i === 1
              ? upsert('api', '/api/', 'api-v1', i)
              : seq === breaking
                ? upsert('api', '/api/', 'api-v2', i)
                : upsert(`noise-${i % 40}`, `/noise-${i % 40}/`, `svc-${i}`, i),
            { msgId: `bulk-${i}` },
          );
        }
        await settled(p);
      }
      const last = await p.events.lastSeq();
      assert.equal(last, first + 999, '1,000 events in the log');
      const checkpoints = await p.checkpoints.list();
      assert.ok(checkpoints.length >= 5, `the compiler wrote checkpoints: ${checkpoints.join(', ')}`);

      const request = ['--authority', 'shop.test', '--path', '/api/orders'];
      const bisectRun = async (extra: string[]) => {
        const started = Date.now();
        const r = await run([
          'bisect',
          '--nats',
          nats.url,
          '--redis',
          redis.url,
          '--redis-prefix',
          prefix,
          ...request,
          '--expect-cluster',
          'cluster_api_v1_default',
          '--good',
          String(first),
          '--json',
          ...extra,
        ]);
        assert.equal(r.code, 0, r.out);
        const body = JSON.parse(r.out.slice(r.out.indexOf('{'))) as {
          bad: number;
          badAnswer: string;
          culprit?: { seq: number; kind: string; name: string };
          probes: number[];
          starts: (number | null)[];
          eventsFolded: number;
          ms: number;
        };
        return { ...body, wallMs: Date.now() - started };
      };
      const fromCheckpoints = await bisectRun([]);
      const fromZero = await bisectRun(['--from-zero']);
      for (const r of [fromCheckpoints, fromZero]) {
        assert.equal(r.bad, breaking, 'the first bad event is the api Mapping change');
        assert.deepEqual([r.culprit?.kind, r.culprit?.name, r.culprit?.seq], ['Mapping', 'api', breaking]);
        assert.match(r.badAnswer, /cluster_api_v2_default/);
        assert.ok(r.probes.length <= 12, `binary search: ${r.probes.length} rebuilds for 1,000 events`);
      }
      // From checkpoints: every probe at or after the first checkpoint started from the nearest one.
      fromCheckpoints.probes.forEach((seq, i) => {
        const nearest = Math.max(...checkpoints.filter((c) => c <= seq));
        assert.equal(fromCheckpoints.starts[i], Number.isFinite(nearest) ? nearest : null, `probe ${seq}`);
      });
      assert.ok(fromZero.starts.every((s) => s === null));
      assert.ok(
        fromCheckpoints.eventsFolded * 4 < fromZero.eventsFolded,
        `checkpoints cut the folding: ${fromCheckpoints.eventsFolded} vs ${fromZero.eventsFolded} events`,
      );
      t.diagnostic(
        `bisect over 1,000 events: ${fromCheckpoints.probes.length} rebuilds, ${fromCheckpoints.eventsFolded} events folded, ` +
          `search ${fromCheckpoints.ms} ms, command ${fromCheckpoints.wallMs} ms (from zero: ${fromZero.eventsFolded} events, ` +
          `search ${fromZero.ms} ms, command ${fromZero.wallMs} ms); checkpoints at ${checkpoints.join(', ')}`,
      );
    } finally {
      await p.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

test('debugging — /snapshot-external never contains the key material /snapshot serves (attache dev)', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'attache-scrub-'));
  const [xdsPort, adminPort] = await Promise.all([freePort(), freePort()]);
  const p = await startTestDevPipeline({
    configDirs: [dir],
    cluster: 'site',
    groups: ['default'],
    bind: '127.0.0.1',
    xdsPort,
    adminPort,
    redisPrefix: 'scrub:',
  });
  try {
    writeAtomic(
      path.join(dir, 'tls.yaml'),
      `${SECRET_DOC}---\napiVersion: getambassador.io/v3alpha1\nkind: Host\nmetadata: { name: example, namespace: default }\nspec:\n  hostname: example.test\n  tlsSecret: { name: example-cert }\n  requestPolicy: { insecure: { action: Route } }\n`,
    );
    writeAtomic(path.join(dir, 'api.yaml'), mapping('api', '/api/', 'api-v1'));
    await settled(p);
    // The scrubbed snapshot never holds key material; the operators' one does.
    const admin = `http://127.0.0.1:${adminPort}`;
    const internal = await (await fetch(`${admin}/snapshot?group=default`)).text();
    const external = await (await fetch(`${admin}/snapshot-external?group=default`)).text();
    const pemKey = Buffer.from(TLS_KEY_B64, 'base64').toString('utf8');
    const keyBody = pemKey.split('\n')[1] ?? '';
    assert.ok(keyBody.length > 20, 'the test key has a body');
    const keyAsServed = Buffer.from(pemKey).toString('base64');
    assert.ok(internal.includes(keyAsServed), '/snapshot serves the key to operators');
    for (const needle of [keyAsServed, TLS_KEY_B64, keyBody, 'PRIVATE KEY'])
      assert.ok(!external.includes(needle), `/snapshot-external leaks ${needle.slice(0, 16)}…`);
    assert.match(external, /redacted: \d+ bytes/);
  } finally {
    await p.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
