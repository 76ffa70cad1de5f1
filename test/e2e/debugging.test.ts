/**
 * Debugging with the log, end to end through the real NATS JetStream + Redis path: a sequence of
 * YAML changes is ingested and committed, then
 * - `attache replay` rebuilds five committed versions and one point in time, byte-identical;
 * - `attache diff` names the resource and routing change and the event behind it;
 * - `attache explain` names the Mapping behind the matching route and why an earlier route did
 *   not match;
 * - `attache plan` predicts the diff that applying a change then produces;
 * - on the embedded log of `attache dev`: `/snapshot-external` never contains the TLS key that
 *   `/snapshot` serves, and `bisect` finds the breaking event in a 1,000-event log.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { bisect } from '../../services/debug/bisect.ts';
import { LogHistory } from '../../services/debug/log-history.ts';
import { ENVELOPE_VERSION, type EventEnvelope } from '../../shared/events/envelope.ts';
import { MemoryEventLog } from '../../shared/events/memory-event-log.ts';
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

async function run(args: string[]): Promise<{ code: number | null; out: string }> {
  const p = startAttache(args);
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

      // Replay: five committed versions, byte-identical, and the state at a wall-clock time.
      for (const v of versions) {
        const r = await run([
          'replay',
          ...source,
          '--redis',
          redis.url,
          '--redis-prefix',
          prefix,
          '--version',
          String(v),
          '--out',
          path.join(out, String(v)),
        ]);
        assert.equal(r.code, 0, r.out);
        assert.match(r.out, /identical to the committed manifest/);
        assert.ok(fs.existsSync(path.join(out, String(v), 'provenance.json')));
      }
      const atTime = await run([
        'replay',
        ...source,
        '--redis',
        redis.url,
        '--redis-prefix',
        prefix,
        '--at',
        beforeBreak,
        '--out',
        path.join(out, 'at'),
      ]);
      assert.equal(atTime.code, 0, atTime.out);
      assert.match(
        atTime.out,
        new RegExp(`at event sequence ${v2} `),
        'the time before the break resolves to v2',
      );
      assert.match(atTime.out, /identical to the committed manifest/);

      // Diff v2 → v3: the api route moved from api-v1 to api-v2 because of the api Mapping event.
      const diff = await run(['diff', ...source, '--from', `v${v2}`, '--to', `v${v3}`, '--json']);
      assert.equal(diff.code, 0, diff.out);
      const d = JSON.parse(diff.out) as {
        routing: {
          match: string;
          before?: string;
          after?: string;
          causes: { seq: number; name: string }[];
        }[];
        resources: { name: string; change: string; fields: { path: string }[] }[];
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

      // Plan: move /api/ to api-v3, predict, apply, and compare with what the compiler committed.
      writeAtomic(path.join(proposedDir, 'api.yaml'), mapping('api', '/api/', 'api-v3'));
      const planned = await run(['plan', ...source, '--cluster', 'site', '--config', proposedDir, '--json']);
      assert.equal(planned.code, 2, planned.out);
      const pd = JSON.parse(planned.out) as typeof d;
      writeAtomic(path.join(dir, 'api.yaml'), mapping('api', '/api/', 'api-v3'));
      const v6 = await settled(p);
      const applied = JSON.parse(
        (await run(['diff', ...source, '--from', `v${v5}`, '--to', `v${v6}`, '--json'])).out,
      ) as typeof d;
      const shape = (x: typeof d) => ({
        resources: x.resources.map((r) => [r.change, r.name, r.fields.map((f) => f.path)]),
        routing: x.routing.map((r) => [r.match, r.before, r.after]),
      });
      assert.deepEqual(shape(pd), shape(applied), 'plan predicted exactly the applied diff');
      const again = await run(['plan', ...source, '--cluster', 'site', '--config', proposedDir]);
      assert.equal(again.code, 0, `nothing left to change:\n${again.out}`);
    } finally {
      await p.close();
      for (const d of [dir, proposedDir, out]) fs.rmSync(d, { recursive: true, force: true });
    }
  });
});

test('debugging — bisect names the breaking event in a 1,000-event log', async () => {
  const events = new MemoryEventLog();
  const upsert = (name: string, prefix: string, service: string, i: number): EventEnvelope => ({
    v: ENVELOPE_VERSION,
    cluster: 'bulk',
    kind: 'Mapping',
    namespace: 'default',
    name,
    op: 'upsert',
    resourceVersion: String(i),
    generation: 1,
    observedAt: '',
    ingestor: 'test',
    object: {
      apiVersion: 'getambassador.io/v3alpha1',
      kind: 'Mapping',
      metadata: { name, namespace: 'default', resourceVersion: String(i) },
      spec: { hostname: '*', prefix, service },
    },
  });
  const breaking = 637;
  for (let i = 1; i <= 1000; i++) {
    const e =
      i === 1
        ? upsert('api', '/api/', 'api-v1', i)
        : i === breaking
          ? upsert('api', '/api/', 'api-v2', i)
          : upsert(`noise-${i % 40}`, `/noise-${i % 40}/`, `svc-${i}`, i);
    await events.publish(e, { msgId: String(i) });
  }
  const history = await LogHistory.open(events, { group: 'default' });
  const r = bisect(history, {
    request: { authority: 'any.test', path: '/api/orders', method: 'GET', headers: {} },
    listener: 'ambassador-listener-8080',
    expectCluster: 'cluster_api_v1_default',
    good: 1,
    bad: 1000,
  });
  assert.equal(r.bad, breaking);
  assert.equal(r.culprit?.event.name, 'api');
  assert.equal(r.badAnswer, 'cluster_api_v2_default');
  assert.ok(r.probes.length <= 12, `binary search: ${r.probes.length} rebuilds`);
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
