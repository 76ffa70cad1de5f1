/**
 * The NATS and Redis credential and TLS flags connect for real: a nats-server that accepts only an
 * NKey user over mutual TLS, a redis-server that serves only TLS with client certificates and an
 * ACL user, and a nats-server in operator (JWT) mode for `.creds` files. The tiers run as processes
 * with the flags an operator gives; the refusals are checked with the same flag parsing
 * (`natsSecurityFromFlags` / `redisSecurityFromFlags`) the commands use.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { connect, nkeys } from '@nats-io/transport-node';
import { Redis } from 'ioredis';
import { RawAdsClient } from '../../services/fanout/testing/raw-ads-client.ts';
import { TestPki } from '../../services/fanout/testing/test-certs.ts';
import { JetStreamEventLog } from '../../shared/events/jetstream-event-log.ts';
import { parseFlags } from '../../shared/runtime/config.ts';
import {
  NATS_CONNECTION_FLAGS,
  natsSecurityFromFlags,
  REDIS_CONNECTION_FLAGS,
  redisSecurityFromFlags,
} from '../../shared/runtime/connection-flags.ts';
import { silentLogger } from '../../shared/runtime/logger.ts';
import { CLUSTER_TYPE } from '../../shared/xds/type-urls.ts';
import { type AttacheProcess, startAttache } from '../harness/attache-process.ts';
import { eventually } from '../harness/eventually.ts';
import { natsOperator } from '../harness/nats-operator.ts';
import { freePort } from '../harness/ports.ts';
import { startNats, startRedis, type TestServer } from '../harness/servers.ts';
import { compileArgs, fanoutArgs, ingestFsArgs } from '../harness/tier-args.ts';

const ROOT = path.join(path.dirname(new URL(import.meta.url).pathname), '../..');
const CONFIG = path.join(ROOT, 'examples/quickstart');

const natsFlags = (argv: string[]) => natsSecurityFromFlags(parseFlags(NATS_CONNECTION_FLAGS, argv, {}));
const redisFlags = (argv: string[]) => redisSecurityFromFlags(parseFlags(REDIS_CONNECTION_FLAGS, argv, {}));

/** Resolves to the error a NATS connection attempt ends with (fails the test if it connects). */
async function natsRefusal(url: string, argv: string[]): Promise<string> {
  try {
    const nc = await connect({ ...natsFlags(argv), servers: url, timeout: 5_000, reconnect: false });
    await nc.close();
  } catch (err) {
    return String(err);
  }
  assert.fail(`NATS accepted ${argv.join(' ')}`);
}

/** Resolves to the error a Redis connection attempt ends with (fails the test if PING works). */
async function redisRefusal(port: number, argv: string[]): Promise<string> {
  const redis = new Redis({
    host: '127.0.0.1',
    port,
    ...redisFlags(argv),
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: 5_000,
  });
  // ioredis reports why (WRONGPASS, a TLS alert) as an 'error' event, then rejects with "closed".
  let reported: unknown;
  redis.on('error', (err) => {
    reported ??= err;
  });
  try {
    await redis.connect();
    await redis.ping();
  } catch (err) {
    return `${String(reported ?? '')} / ${String(err)}`;
  } finally {
    redis.disconnect();
  }
  assert.fail(`Redis accepted ${argv.join(' ')}`);
}

describe('NATS and Redis credentials and TLS through the CLI flags', { timeout: 240_000 }, () => {
  let pki: TestPki;
  let dir: string;
  const servers: TestServer[] = [];
  const processes: AttacheProcess[] = [];
  const file = (name: string) => path.join(pki.dir, name);

  before(() => {
    pki = new TestPki();
    pki.server();
    pki.client('client', 'attache-tier');
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'attache-creds-'));
  });

  after(async () => {
    await Promise.all(processes.map((p) => p.stop()));
    await Promise.all(servers.map((s) => s.dispose()));
    pki?.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const tails = () =>
    processes.map((p) => `--- ${p.args.slice(0, 2).join(' ')}\n${p.output().slice(-2000)}`).join('\n');

  test('credentials — NATS NKey over mutual TLS and Redis ACL user over mutual TLS: ingest, compile and fanout connect with their flags and a client is served; no client certificate, another NKey or a wrong password is refused', async () => {
    const user = nkeys.createUser();
    const seedFile = path.join(dir, 'tier.nk');
    fs.writeFileSync(seedFile, `${new TextDecoder().decode(user.getSeed())}\n`, { mode: 0o600 });
    const natsConf = path.join(dir, 'nkey-tls.conf');
    fs.writeFileSync(
      natsConf,
      [
        `authorization { users: [ { nkey: ${user.getPublicKey()} } ] }`,
        `tls { cert_file: "${file('server.crt')}", key_file: "${file('server.key')}", ca_file: "${file('ca.crt')}", verify: true, timeout: 3 }`,
        '',
      ].join('\n'),
    );
    const nats = await startNats({ file: natsConf });
    servers.push(nats);
    const password = 'p-redis-acl-secret';
    const passwordFile = path.join(dir, 'redis-password');
    fs.writeFileSync(passwordFile, `${password}\n`, { mode: 0o600 });
    const redis = await startRedis(undefined, (port) => [
      ...['--port', '0', '--tls-port', String(port)],
      ...['--tls-cert-file', file('server.crt'), '--tls-key-file', file('server.key')],
      ...['--tls-ca-cert-file', file('ca.crt'), '--tls-auth-clients', 'yes'],
      ...['--user', 'default', 'off', '--user', 'attache', 'on', `>${password}`, '~*', '&*', '+@all'],
    ]);
    servers.push(redis);

    const natsTls = [
      '--nats-ca',
      file('ca.crt'),
      '--nats-cert',
      file('client.crt'),
      '--nats-key',
      file('client.key'),
    ];
    const natsAuth = ['--nats-nkey', seedFile, ...natsTls];
    const redisAuth = [
      ...['--redis-user', 'attache', '--redis-password-file', passwordFile],
      ...[
        '--redis-ca',
        file('ca.crt'),
        '--redis-cert',
        file('client.crt'),
        '--redis-key',
        file('client.key'),
      ],
    ];
    const ports = {
      ingest: await freePort(),
      compile: await freePort(),
      fanout: await freePort(),
      xds: await freePort(),
    };
    const ingest = startAttache(
      ingestFsArgs({
        dir: CONFIG,
        cluster: 'local',
        natsUrl: nats.url,
        adminPort: ports.ingest,
        extra: natsAuth,
      }),
    );
    const compile = startAttache([
      ...compileArgs({ natsUrl: nats.url, redisUrl: redis.url, adminPort: ports.compile }),
      ...natsAuth,
      ...redisAuth,
    ]);
    const fanout = startAttache([
      ...fanoutArgs({ redisUrl: redis.url, xdsPort: ports.xds, adminPort: ports.fanout }),
      ...redisAuth,
    ]);
    processes.push(ingest, compile, fanout);
    try {
      await ingest.waitReady(ports.ingest, 90_000);
      await compile.waitReady(ports.compile, 90_000);
      await fanout.waitReady(ports.fanout, 90_000);
    } catch (err) {
      assert.fail(`${(err as Error).message}\n${tails()}`);
    }
    const client = new RawAdsClient(ports.xds);
    try {
      const clusters = await eventually(
        async () => {
          client.send({ node: { id: 'creds-test' }, type_url: CLUSTER_TYPE, resource_names: [] });
          const res = await client.next(5_000);
          assert.ok(res.names.length > 0, 'clusters served');
          return res.names;
        },
        { timeoutMs: 60_000, intervalMs: 500 },
      );
      assert.ok(
        clusters.some((n) => n.includes('echo')),
        `the quickstart's clusters: ${clusters.join(', ')}`,
      );
    } finally {
      client.close();
    }

    // What the server refuses, with the flags parsed as the commands parse them. Under TLS 1.3 the
    // server checks the client certificate after the client's handshake is done, so a loaded
    // machine sometimes shows the reset before the "certificate required" alert is read (seen
    // once in a full run at load ~16); either way, the connection is refused.
    assert.match(
      await natsRefusal(nats.url, ['--nats-nkey', seedFile, '--nats-ca', file('ca.crt')]),
      /certificate|ECONNRESET/i,
      'no client certificate: the TLS handshake is refused',
    );
    const other = path.join(dir, 'other.nk');
    fs.writeFileSync(other, new TextDecoder().decode(nkeys.createUser().getSeed()));
    assert.match(
      await natsRefusal(nats.url, ['--nats-nkey', other, ...natsTls]),
      /authorization|permissions|auth/i,
    );
    assert.match(await natsRefusal(nats.url, natsTls), /authorization|auth/i, 'no NKey');
    assert.match(
      await redisRefusal(redis.port, [
        '--redis-user',
        'attache',
        '--redis-password-file',
        passwordFile,
        '--redis-ca',
        file('ca.crt'),
      ]),
      /ECONNRESET|certificate|SSL/i,
      'no client certificate',
    );
    const wrong = path.join(dir, 'wrong-password');
    fs.writeFileSync(wrong, 'not-it');
    assert.match(
      await redisRefusal(redis.port, [
        ...redisAuth.slice(0, 2),
        '--redis-password-file',
        wrong,
        ...redisAuth.slice(4),
      ]),
      /WRONGPASS|invalid username-password/i,
    );
    assert.match(
      await redisRefusal(redis.port, redisAuth.slice(4)),
      /NOAUTH|NOPERM|authentication/i,
      'as default user',
    );
  });

  test('credentials — a .creds file (operator JWT mode): ingest fs publishes with --nats-creds; creds signed by an unknown account are refused', async () => {
    const operator = natsOperator(dir);
    const nats = await startNats({ file: operator.configFile });
    servers.push(nats);
    const adminPort = await freePort();
    const ingest = startAttache(
      ingestFsArgs({
        dir: CONFIG,
        cluster: 'creds',
        natsUrl: nats.url,
        adminPort,
        extra: ['--nats-creds', operator.userCreds('ingest')],
      }),
    );
    processes.push(ingest);
    await ingest.waitReady(adminPort, 90_000);
    const events = await JetStreamEventLog.connect({
      url: nats.url,
      security: natsFlags(['--nats-creds', operator.userCreds('reader')]),
      log: silentLogger(),
    });
    try {
      let published = 0;
      for await (const e of events.read({ fromSeq: 1 })) if (e.event.cluster === 'creds') published++;
      assert.ok(published > 1, `the ingestor's events are in the stream (${published})`);
    } finally {
      await events.close();
    }
    assert.match(
      await natsRefusal(nats.url, ['--nats-creds', operator.foreignCreds('intruder')]),
      /authorization|auth/i,
    );
  });
});
