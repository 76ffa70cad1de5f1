/**
 * NATS and Redis locked down with the shipped configurations (k8s/nats.conf,
 * k8s/redis-acl.sh) on a real nats-server and redis-server: the three tiers run as
 * separate `attache` processes with their own users (passwords from the environment only), and
 * forged writes are refused — an ingestor publishing on another cluster's subjects, a fan-out
 * publishing an event, anyone deleting from the log, the fan-out writing to Redis, anonymous
 * clients anywhere. With a TLS Secret in the configuration and secret keys on every tier, every
 * NATS message and every Redis value is scanned afterwards: no PEM and no base64 private key,
 * while the fan-out still serves the certificate and key over SDS.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Redis } from 'ioredis';
import { parseAllDocuments } from 'yaml';
import { collectObjectErrors } from '../../services/fanout/status-command.ts';
import { nodeIn } from '../../services/fanout/testing/ads-fixture.ts';
import { RawAdsClient } from '../../services/fanout/testing/raw-ads-client.ts';
import { decodeEvent, type EventEnvelope, encodeEvent } from '../../shared/events/envelope.ts';
import { STATUS_BUCKET } from '../../shared/events/status-keys.ts';
import { STREAM_NAME, subjectFor } from '../../shared/events/subjects.ts';
import { CLUSTER_TYPE, SECRET_TYPE } from '../../shared/xds/type-urls.ts';
import { type AttacheProcess, startAttache } from '../harness/attache-process.ts';
import { eventually } from '../harness/eventually.ts';
import { freePort } from '../harness/ports.ts';
import { startNats, startRedis, type TestServer } from '../harness/servers.ts';
import { compileArgs, fanoutArgs, ingestFsArgs } from '../harness/tier-args.ts';
import { writeAtomic } from '../harness/write-atomic.ts';

const ROOT = path.join(path.dirname(new URL(import.meta.url).pathname), '../..');
/** nats-server parses a password variable's value: it must start with a letter (k8s/nats.conf). */
const pw = () => `p${randomBytes(12).toString('hex')}`;
const PASSWORDS = {
  ATTACHE_NATS_ADMIN_PASSWORD: pw(),
  ATTACHE_NATS_INGEST_LOCAL_PASSWORD: pw(),
  ATTACHE_NATS_INGEST_OTHER_PASSWORD: pw(),
  ATTACHE_NATS_COMPILER_PASSWORD: pw(),
  ATTACHE_NATS_FANOUT_PASSWORD: pw(),
  ATTACHE_NATS_STATUS_PASSWORD: pw(),
  ATTACHE_REDIS_COMPILER_PASSWORD: pw(),
  ATTACHE_REDIS_FANOUT_PASSWORD: pw(),
};

/**
 * The shipped NATS configuration plus a second cluster's ingestor, added the way its header says:
 * the `ingest-local` user copied with `local` replaced.
 */
function natsConfigWithSecondCluster(dir: string): string {
  const shipped = fs.readFileSync(path.join(ROOT, 'k8s/nats.conf'), 'utf8');
  const block = /\n {6}\{\n {8}user: ingest-local\n[\s\S]*?\n {6}\}\n/.exec(shipped)?.[0];
  assert.ok(block, 'nats.conf has an ingest-local user block');
  const other = block
    .replace(/ingest-local/g, 'ingest-other')
    .replace(/LOCAL/g, 'OTHER')
    .replace(/\.local\./g, '.other.');
  const file = path.join(dir, 'nats.conf');
  fs.writeFileSync(file, shipped.replace(block, block + other.slice(1)));
  return file;
}

/** A real certificate and key (the golden case's), as Secret data. */
function tlsData(): { 'tls.crt': string; 'tls.key': string } {
  const text = fs.readFileSync(
    path.join(ROOT, 'testdata/compiler/edge-secret-groups/in/secrets.yaml'),
    'utf8',
  );
  const own = parseAllDocuments(text)
    .map((d) => d.toJS() as { metadata?: { name?: string }; data?: { 'tls.crt': string; 'tls.key': string } })
    .find((d) => d?.metadata?.name === 'own-cert');
  assert.ok(own?.data);
  return own.data;
}
const TLS = tlsData();
const KEY_PEM = Buffer.from(TLS['tls.key'], 'base64');
const SECRET_KEYS = `k1:${randomBytes(32).toString('base64')}`;
/** The fan-out's bearer tokens, one per group. */
const TOKENS = {
  default: randomBytes(24).toString('hex'),
  a: randomBytes(24).toString('hex'),
  b: randomBytes(24).toString('hex'),
};

/**
 * Two more groups: team a's Host with its own Secret (annotated for group a), and team b's Host
 * reaching across for a's Secret, which the compiler must refuse.
 */
const TEAMS_YAML = [
  'apiVersion: v1',
  'kind: Secret',
  'metadata: { name: a-cert, namespace: team-a, annotations: { attache.io/groups: a } }',
  'type: kubernetes.io/tls',
  'data:',
  `  tls.crt: ${TLS['tls.crt']}`,
  `  tls.key: ${TLS['tls.key']}`,
  ...['a', 'b'].flatMap((g) => [
    '---',
    'apiVersion: getambassador.io/v3alpha1',
    'kind: Host',
    `metadata: { name: ${g}-host, namespace: team-${g} }`,
    `spec: { ambassador_id: [${g}], hostname: ${g}.test, tlsSecret: { name: a-cert${g === 'b' ? ', namespace: team-a' : ''} } }`,
    '---',
    'apiVersion: getambassador.io/v3alpha1',
    'kind: Mapping',
    `metadata: { name: ${g}-route, namespace: team-${g} }`,
    `spec: { ambassador_id: [${g}], hostname: ${g}.test, prefix: /, service: backend }`,
  ]),
].join('\n');

/** The forms a leaked private key would take in a stored value. */
function leakedKey(value: Buffer): string | undefined {
  const body = KEY_PEM.toString('utf8')
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('-----'))
    .join('');
  const forms: [string, Buffer][] = [
    ['PEM header', Buffer.from('PRIVATE KEY')],
    ['base64 PEM', Buffer.from(TLS['tls.key'].slice(0, 40))],
    ['base64 key body', Buffer.from(body.slice(0, 40))],
    ['DER key', Buffer.from(body, 'base64').subarray(0, 40)],
  ];
  return forms.find(([, f]) => value.includes(f))?.[0];
}

function tombstone(cluster: string, name = 'forged-target'): EventEnvelope {
  return {
    v: 1,
    cluster,
    kind: 'Mapping',
    namespace: 'default',
    name,
    op: 'delete',
    resourceVersion: 'forged',
    generation: 0,
    observedAt: new Date(0).toISOString(),
    ingestor: 'forger',
  };
}

describe('locked-down NATS and Redis', { timeout: 180_000 }, () => {
  let nats: TestServer;
  let redis: TestServer;
  let dir: string;
  const processes: AttacheProcess[] = [];
  let fanoutXdsPort = 0;
  let compileAdminPort = 0;
  const conns: NatsConnection[] = [];
  const natsAs = async (user: string, password: string) => {
    const nc = await connect({ servers: nats.url, user, pass: password });
    conns.push(nc);
    return nc;
  };

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'attache-locked-'));
    nats = await startNats({ file: natsConfigWithSecondCluster(dir), env: PASSWORDS });
    redis = await startRedis({ file: path.join(ROOT, 'k8s/redis-acl.sh'), env: PASSWORDS });
  });

  after(async () => {
    for (const p of processes) await p.stop();
    for (const nc of conns) await nc.close().catch(() => {});
    await nats?.dispose();
    await redis?.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('locked down — the three tiers run with their own NATS and Redis users, passwords from the environment', async () => {
    const config = path.join(dir, 'config');
    fs.mkdirSync(config);
    writeAtomic(
      path.join(config, 'echo.yaml'),
      [
        'apiVersion: getambassador.io/v3alpha1',
        'kind: Mapping',
        'metadata: { name: echo, namespace: default }',
        'spec: { hostname: echo.local, prefix: /, service: echo }',
        '---',
        'apiVersion: getambassador.io/v3alpha1',
        'kind: Host',
        'metadata: { name: echo, namespace: default }',
        'spec: { hostname: echo.local, tlsSecret: { name: echo-cert } }',
        '---',
        'apiVersion: v1',
        'kind: Secret',
        'metadata: { name: echo-cert, namespace: default }',
        'type: kubernetes.io/tls',
        'data:',
        `  tls.crt: ${TLS['tls.crt']}`,
        `  tls.key: ${TLS['tls.key']}`,
      ].join('\n'),
    );
    writeAtomic(path.join(config, 'teams.yaml'), TEAMS_YAML);
    const tokensFile = path.join(dir, 'xds-tokens');
    fs.writeFileSync(
      tokensFile,
      Object.entries(TOKENS)
        .map(([g, t]) => `${g} ${t}\n`)
        .join(''),
      { mode: 0o600 },
    );
    const [ingestAdmin, compileAdmin, fanoutAdmin, xdsPort] = await Promise.all([
      freePort(),
      freePort(),
      freePort(),
      freePort(),
    ]);
    const ingest = startAttache(
      ingestFsArgs({
        dir: config,
        cluster: 'local',
        natsUrl: nats.url,
        adminPort: ingestAdmin,
        extra: ['--anti-entropy-interval-ms', '1000'],
      }),
      {
        ATTACHE_NATS_USER: 'ingest-local',
        ATTACHE_NATS_PASSWORD: PASSWORDS.ATTACHE_NATS_INGEST_LOCAL_PASSWORD,
        ATTACHE_SECRET_KEYS: SECRET_KEYS,
      },
    );
    const compile = startAttache(
      [
        ...compileArgs({ natsUrl: nats.url, redisUrl: redis.url, adminPort: compileAdmin }),
        ...['--group', 'default', '--group', 'a', '--group', 'b'],
      ],
      {
        ATTACHE_NATS_USER: 'compiler',
        ATTACHE_NATS_PASSWORD: PASSWORDS.ATTACHE_NATS_COMPILER_PASSWORD,
        ATTACHE_REDIS_USER: 'compiler',
        ATTACHE_REDIS_PASSWORD: PASSWORDS.ATTACHE_REDIS_COMPILER_PASSWORD,
        ATTACHE_SECRET_KEYS: SECRET_KEYS,
      },
    );
    const fanout = startAttache(
      [
        ...fanoutArgs({
          redisUrl: redis.url,
          xdsPort,
          adminPort: fanoutAdmin,
          auth: ['--tokens-file', tokensFile],
        }),
        '--nats',
        nats.url,
      ],
      {
        ATTACHE_NATS_USER: 'fanout',
        ATTACHE_NATS_PASSWORD: PASSWORDS.ATTACHE_NATS_FANOUT_PASSWORD,
        ATTACHE_REDIS_USER: 'fanout',
        ATTACHE_REDIS_PASSWORD: PASSWORDS.ATTACHE_REDIS_FANOUT_PASSWORD,
        ATTACHE_SECRET_KEYS: SECRET_KEYS,
      },
    );
    processes.push(ingest, compile, fanout);
    fanoutXdsPort = xdsPort;
    compileAdminPort = compileAdmin;
    await Promise.all([
      ingest.waitReady(ingestAdmin, 60_000),
      compile.waitReady(compileAdmin, 60_000),
      fanout.waitReady(fanoutAdmin, 60_000),
    ]);
    const admin = await natsAs('admin', PASSWORDS.ATTACHE_NATS_ADMIN_PASSWORD);
    const info = await (await jetstreamManager(admin)).streams.info(STREAM_NAME);
    assert.ok(info.state.messages >= 1, 'the ingestor published into the log as ingest-local');
    const store = new Redis(redis.url, {
      username: 'fanout',
      password: PASSWORDS.ATTACHE_REDIS_FANOUT_PASSWORD,
      lazyConnect: true,
    });
    try {
      await store.connect();
      const keys = await eventually(async () => {
        const [, found] = await store.scan('0', 'MATCH', 'attache:*', 'COUNT', 1000);
        if (found.length === 0) throw new Error('no snapshot keys yet');
        return found;
      });
      assert.ok(keys.length > 0, 'the compiler committed a snapshot as Redis user compiler');
    } finally {
      store.disconnect();
    }
    for (const p of processes) {
      assert.doesNotMatch(
        p.output(),
        /Permissions Violation|NOPERM|can't run this command/,
        `${p.args.slice(0, 2).join(' ')} hit no ACL`,
      );
    }
  });

  test('secrets at rest — SDS serves the key, yet no NATS message and no Redis value holds it', async () => {
    assert.ok(fanoutXdsPort > 0, 'the tiers run (previous test)');
    const client = new RawAdsClient(fanoutXdsPort, { token: TOKENS.default });
    const tails = () =>
      processes.map((p) => `--- ${p.args.slice(0, 2).join(' ')}\n${p.output().slice(-3000)}`).join('\n');
    try {
      const served = await eventually(
        async () => {
          client.send({
            node: { id: 'scan' },
            type_url: SECRET_TYPE,
            resource_names: ['tls/default/echo-cert'],
          });
          const res = await client.next(5_000);
          if (!res.names.includes('tls/default/echo-cert')) throw new Error(`got ${res.names.join(',')}`);
          return res.resources[0] as { tls_certificate?: { private_key?: { inline_bytes?: Uint8Array } } };
        },
        { timeoutMs: 30_000 },
      ).catch((err: unknown) => {
        throw new Error(`${String(err)}\n${tails()}`);
      });
      assert.deepEqual(
        Buffer.from(served.tls_certificate?.private_key?.inline_bytes ?? []),
        KEY_PEM,
        'the fan-out opened the sealed SDS blob and serves the real key',
      );
    } finally {
      client.close();
    }

    const leaks: string[] = [];
    const admin = await natsAs('admin', PASSWORDS.ATTACHE_NATS_ADMIN_PASSWORD);
    const jsm = await jetstreamManager(admin);
    let scanned = 0;
    for (const name of await jsm.streams.names().next()) {
      const { state } = await jsm.streams.info(name);
      for (let seq = state.first_seq; seq <= state.last_seq && state.messages > 0; seq++) {
        const m = await jsm.streams.getMessage(name, { seq }).catch(() => null);
        if (!m) continue;
        scanned++;
        const form = leakedKey(Buffer.from(m.data));
        if (form) leaks.push(`NATS ${name} #${seq} ${m.subject}: ${form}`);
      }
    }
    assert.ok(scanned >= 3, `scanned ${scanned} NATS messages`);

    const redisAdmin = new Redis(redis.url, {
      username: 'compiler',
      password: PASSWORDS.ATTACHE_REDIS_COMPILER_PASSWORD,
      lazyConnect: true,
    });
    let values = 0;
    try {
      await redisAdmin.connect();
      let cursor = '0';
      do {
        const [next, keys] = await redisAdmin.scan(cursor, 'MATCH', 'attache:*', 'COUNT', 500);
        cursor = next;
        for (const key of keys) {
          const type = await redisAdmin.type(key);
          const parts: Buffer[] =
            type === 'string'
              ? [(await redisAdmin.getBuffer(key)) ?? Buffer.alloc(0)]
              : type === 'set'
                ? await redisAdmin.smembersBuffer(key)
                : type === 'zset'
                  ? await redisAdmin.zrangeBuffer(key, 0, -1)
                  : type === 'hash'
                    ? Object.values(await redisAdmin.hgetallBuffer(key))
                    : type === 'stream'
                      ? (await redisAdmin.xrangeBuffer(key, '-', '+')).flatMap(([, fields]) => fields)
                      : [];
          values++;
          const form = parts.map(leakedKey).find(Boolean);
          if (form) leaks.push(`Redis ${key} (${type}): ${form}`);
        }
      } while (cursor !== '0');
    } finally {
      redisAdmin.disconnect();
    }
    assert.ok(values >= 5, `scanned ${values} Redis keys`);
    assert.deepEqual(leaks, [], 'no private key at rest');
  });

  test('trust — anonymous: UNAUTHENTICATED and nothing; a group-b token naming group a: PERMISSION_DENIED; b’s Host reaching for a’s Secret: a diagnostic, and b’s snapshot holds none of a’s key while a is served it', async () => {
    assert.ok(fanoutXdsPort > 0 && compileAdminPort > 0, 'the tiers run (first test)');
    const sdsOf = (name: string) => ({ type_url: SECRET_TYPE, resource_names: [name] });
    const A_SECRET = 'tls/team-a/a-cert';

    const anonymous = new RawAdsClient(fanoutXdsPort);
    try {
      anonymous.send({ node: nodeIn('a', 'anon'), ...sdsOf(A_SECRET) });
      anonymous.send({ node: { id: 'anon' }, type_url: CLUSTER_TYPE, resource_names: [] });
      assert.equal((await anonymous.closed(10_000)).code, grpc.status.UNAUTHENTICATED);
      assert.deepEqual(await anonymous.drain(200), [], 'not a single response');
    } finally {
      anonymous.close();
    }

    const liar = new RawAdsClient(fanoutXdsPort, { token: TOKENS.b });
    try {
      liar.send({ node: nodeIn('a', 'liar'), ...sdsOf(A_SECRET) });
      const status = await liar.closed(10_000);
      assert.equal(status.code, grpc.status.PERMISSION_DENIED);
      assert.deepEqual(await liar.drain(200), []);
    } finally {
      liar.close();
    }

    // Group a is served its own key (the control) ...
    const a = new RawAdsClient(fanoutXdsPort, { token: TOKENS.a });
    try {
      const served = await eventually(
        async () => {
          a.send({ node: { id: 'a-1' }, ...sdsOf(A_SECRET) });
          const res = await a.next(5_000);
          if (!res.names.includes(A_SECRET)) throw new Error(`got ${res.names.join(',')}`);
          return res.resources[0] as { tls_certificate?: { private_key?: { inline_bytes?: Uint8Array } } };
        },
        { timeoutMs: 30_000 },
      );
      assert.deepEqual(Buffer.from(served.tls_certificate?.private_key?.inline_bytes ?? []), KEY_PEM);
    } finally {
      a.close();
    }

    // ... group b's Host gets an error on its tlsSecret field ...
    const status = (await (await fetch(`http://127.0.0.1:${compileAdminPort}/debug/status`)).json()) as {
      group: string;
      diagnostics: { source: { name: string; namespace?: string }; field?: string; message: string }[];
    }[];
    const refused = status
      .find((g) => g.group === 'b')
      ?.diagnostics.filter((d) => d.source.name === 'b-host' && d.field === 'tlsSecret');
    assert.equal(refused?.length, 1, JSON.stringify(status.find((g) => g.group === 'b')));
    assert.match(refused?.[0]?.message ?? '', /team-a\/a-cert/);

    // ... and nothing of a's Secret is in b's snapshot, nor served to b.
    const snapshotOf = async (group: string) =>
      (await fetch(`http://127.0.0.1:${compileAdminPort}/snapshot?group=${group}`)).text();
    const [ofA, ofB] = await Promise.all([snapshotOf('a'), snapshotOf('b')]);
    assert.ok(ofA.includes(A_SECRET), 'a’s snapshot holds its Secret (the control)');
    assert.ok(ofB.includes('b-route') || ofB.includes('b.test'), 'b’s snapshot is there');
    // (b's diagnostics in the snapshot name the Secret; no resource does.)
    assert.ok(!ofB.includes(A_SECRET), 'b’s snapshot has no SDS resource of a’s Secret');
    assert.equal(leakedKey(Buffer.from(ofB)), undefined, 'b’s snapshot holds no form of a’s key');
    const b = new RawAdsClient(fanoutXdsPort, { token: TOKENS.b });
    try {
      b.send({ node: { id: 'b-1' }, ...sdsOf(A_SECRET) });
      const answers = await b.drain(3_000);
      assert.ok(
        answers.every((r) => !r.names.includes(A_SECRET) && r.resources.length === 0),
        `b is served nothing for a’s Secret: ${JSON.stringify(answers.map((r) => r.names))}`,
      );
    } finally {
      b.close();
    }
  });

  test('anti-entropy — a tombstone published by hand with admin credentials is repaired by the ingestor within its period', async () => {
    const admin = await natsAs('admin', PASSWORDS.ATTACHE_NATS_ADMIN_PASSWORD);
    const jsm = await jetstreamManager(admin);
    const subject = subjectFor({
      cluster: 'local',
      kind: 'Mapping',
      namespace: 'default',
      name: 'echo',
      op: 'upsert',
    });
    const original = await jsm.streams.getMessage(STREAM_NAME, { last_by_subj: subject });
    assert.ok(original, 'the ingestor published the Mapping');
    const forged = await jetstream(admin).publish(
      subject,
      encodeEvent({ ...tombstone('local', 'echo'), resourceVersion: 'by-hand' }),
      {
        msgID: `by-hand-${Date.now()}`,
      },
    );
    const repaired = await eventually(
      async () => {
        const m = await jsm.streams.getMessage(STREAM_NAME, { last_by_subj: subject });
        if (!m || m.seq <= forged.seq) throw new Error('not repaired yet');
        return m;
      },
      { timeoutMs: 20_000 },
    );
    assert.equal(decodeEvent(repaired.data).op, 'upsert');
    assert.deepEqual(decodeEvent(repaired.data).object, decodeEvent(original.data).object);
    assert.match(processes[0]?.output() ?? '', /anti-entropy: the event log disagrees/);
  });

  test('locked down — forged publishes are refused: another cluster’s subject, a fan-out publishing an event', async () => {
    const admin = await natsAs('admin', PASSWORDS.ATTACHE_NATS_ADMIN_PASSWORD);
    const jsm = await jetstreamManager(admin);
    await jsm.streams.add({ name: STREAM_NAME, subjects: ['attache.ev.>', 'attache.ep.>'] }).catch(() => {});
    const before = (await jsm.streams.info(STREAM_NAME)).state.last_seq;

    const local = jetstream(await natsAs('ingest-local', PASSWORDS.ATTACHE_NATS_INGEST_LOCAL_PASSWORD), {
      timeout: 2_000,
    });
    const own = await local.publish(subjectFor(tombstone('local')), encodeEvent(tombstone('local')), {
      msgID: `own-${Date.now()}`,
    });
    assert.ok(own.seq > before, 'an ingestor publishes on its own cluster’s subjects');
    await assert.rejects(
      local.publish(subjectFor(tombstone('other')), encodeEvent(tombstone('other'))),
      'ingest-local may not publish on cluster other’s subjects',
    );
    const fanout = await natsAs('fanout', PASSWORDS.ATTACHE_NATS_FANOUT_PASSWORD);
    await assert.rejects(
      jetstream(fanout, { timeout: 2_000 }).publish(
        subjectFor(tombstone('local')),
        encodeEvent(tombstone('local')),
      ),
      'a fan-out may not publish events',
    );
    await assert.rejects(
      (
        await jetstreamManager(await natsAs('ingest-other', PASSWORDS.ATTACHE_NATS_INGEST_OTHER_PASSWORD), {
          timeout: 2_000,
        })
      ).streams.deleteMessage(STREAM_NAME, own.seq),
      'an ingestor may not delete from the log',
    );
    await assert.rejects(
      jetstreamManager(fanout, { timeout: 2_000 }).then((m) => m.streams.purge(STREAM_NAME)),
      'a fan-out may not purge the log',
    );

    // The log holds exactly what was allowed: nothing on cluster other's subjects, the own event.
    const after = await jsm.streams.info(STREAM_NAME, { subjects_filter: 'attache.ev.other.>' });
    assert.equal(after.state.subjects ? Object.keys(after.state.subjects).length : 0, 0);
    assert.equal(
      (await jsm.streams.getMessage(STREAM_NAME, { seq: own.seq }))?.subject,
      subjectFor(tombstone('local')),
    );
    assert.equal((await jsm.streams.info(STREAM_NAME)).state.last_seq, own.seq);

    // Control: the same forged tombstone is stored when a user allowed to write it publishes it,
    // so the refusals above came from the permissions, not from the message.
    const allowed = await jetstream(admin).publish(
      subjectFor(tombstone('other')),
      encodeEvent(tombstone('other')),
    );
    assert.ok(allowed.seq > own.seq);

    // Fleet subjects stay open to the fan-out, and the status user reads them.
    const status = await natsAs('status', PASSWORDS.ATTACHE_NATS_STATUS_PASSWORD);
    const got = new Promise<string>((resolve) => {
      status.subscribe('attache.fleet.>', { max: 1, callback: (_e, m) => resolve(m.subject) });
    });
    await status.flush();
    fanout.publish('attache.fleet.default.status', '{}');
    assert.equal(await got, 'attache.fleet.default.status');
    // ...and reads the status bucket for `attache status` (b's Host is in error), writing nothing.
    const errors = await collectObjectErrors(nats.url, {
      user: 'status',
      pass: PASSWORDS.ATTACHE_NATS_STATUS_PASSWORD,
    });
    assert.ok(
      errors?.some((e) => e.kind === 'Host' && e.namespace === 'team-b' && e.name === 'b-host'),
      `objects in error: ${JSON.stringify(errors)}`,
    );
    await assert.rejects(
      (await new Kvm(status).open(STATUS_BUCKET)).put('local.Host.team-b.b-host', '{}'),
      'the status user cannot write a status',
    );

    await assert.rejects(
      connect({ servers: nats.url, maxReconnectAttempts: 0 }),
      'anonymous clients are refused',
    );
  });

  test('locked down — the fan-out’s Redis user cannot write, anonymous clients cannot read', async () => {
    const as = (username?: string, password?: string) =>
      new Redis(redis.url, {
        ...(username ? { username, password } : {}),
        lazyConnect: true,
        maxRetriesPerRequest: 0,
        enableReadyCheck: false,
      });
    const fanout = as('fanout', PASSWORDS.ATTACHE_REDIS_FANOUT_PASSWORD);
    const compiler = as('compiler', PASSWORDS.ATTACHE_REDIS_COMPILER_PASSWORD);
    const anonymous = as();
    try {
      await fanout.connect();
      await compiler.connect();
      assert.equal(await compiler.set('attache:probe', 'x'), 'OK');
      assert.equal(await fanout.get('attache:probe'), 'x');
      await assert.rejects(fanout.set('attache:probe', 'forged'), /NOPERM/);
      await assert.rejects(fanout.del('attache:probe'), /NOPERM/);
      await assert.rejects(compiler.flushall(), /NOPERM/, 'not even the compiler may flush');
      await assert.rejects(fanout.get('other:key'), /NOPERM/, 'keys outside the prefix are closed');
      assert.equal(await compiler.get('attache:probe'), 'x');
      await anonymous.connect().catch(() => {});
      await assert.rejects(anonymous.get('attache:probe'), /NOAUTH|WRONGPASS|NOPERM/);
    } finally {
      fanout.disconnect();
      compiler.disconnect();
      anonymous.disconnect();
    }
  });
});
