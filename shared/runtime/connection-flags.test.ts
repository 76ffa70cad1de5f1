import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { parseFlags } from './config.ts';
import {
  NATS_CONNECTION_FLAGS,
  natsSecurityFromFlags,
  natsServers,
  REDIS_CONNECTION_FLAGS,
  redisSecurityFromFlags,
  redisSentinelFromFlags,
} from './connection-flags.ts';
import { ConfigError } from './errors.ts';

const specs = { ...NATS_CONNECTION_FLAGS, ...REDIS_CONNECTION_FLAGS };

test('connection flags — passwords and tokens are refused on the command line, taken from the environment', () => {
  assert.throws(
    () => parseFlags(specs, ['--nats-user', 'u', '--nats-password', 'p'], {}),
    (err: unknown) => err instanceof ConfigError && /ATTACHE_NATS_PASSWORD/.test(err.message),
  );
  assert.throws(() => parseFlags(specs, ['--redis-password', 'p'], {}), ConfigError);
  assert.throws(() => parseFlags(specs, ['--nats-token=t'], {}), ConfigError);
  const flags = parseFlags(specs, ['--nats-user', 'compiler', '--redis-user', 'compiler'], {
    ATTACHE_NATS_PASSWORD: 'n-secret',
    ATTACHE_REDIS_PASSWORD: 'r-secret',
  });
  assert.deepEqual(natsSecurityFromFlags(flags), { user: 'compiler', pass: 'n-secret' });
  assert.deepEqual(redisSecurityFromFlags(flags), { username: 'compiler', password: 'r-secret' });
});

test('connection flags — secrets and TLS material from files; conflicting methods are refused', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'attache-conn-'));
  const file = (name: string, body: string) => {
    const p = path.join(dir, name);
    fs.writeFileSync(p, body);
    return p;
  };
  const flags = parseFlags(
    specs,
    [
      '--nats-token-file',
      file('token', 'tok\n'),
      '--redis-password-file',
      file('redis', 'pw\n'),
      '--redis-ca',
      file('ca.pem', 'CA'),
      '--nats-ca',
      file('nats-ca.pem', 'NCA'),
    ],
    {},
  );
  assert.deepEqual(natsSecurityFromFlags(flags), { token: 'tok', tls: { ca: 'NCA' } });
  assert.deepEqual(redisSecurityFromFlags(flags), { password: 'pw', tls: { ca: Buffer.from('CA') } });
  const both = parseFlags(specs, ['--nats-token-file', file('t2', 'x'), '--nats-user', 'u'], {});
  assert.throws(() => natsSecurityFromFlags(both), ConfigError);
  const missing = parseFlags(specs, ['--nats-creds', path.join(dir, 'absent.creds')], {});
  assert.throws(() => natsSecurityFromFlags(missing), /cannot read/);
  const halfTls = parseFlags(specs, ['--redis-cert', file('c', 'c')], {});
  assert.throws(() => redisSecurityFromFlags(halfTls), /go together/);
});

test('connection flags — several NATS URLs, comma-separated; Redis sentinels as host:port', () => {
  assert.deepEqual(natsServers('nats://a:4222, nats://b:4222,,nats://c:4222'), [
    'nats://a:4222',
    'nats://b:4222',
    'nats://c:4222',
  ]);
  assert.equal(redisSentinelFromFlags(parseFlags(specs, [], {})), undefined);
  assert.deepEqual(
    redisSentinelFromFlags(parseFlags(specs, ['--redis-sentinel', 's1:26379,[::1]:26380'], {})),
    {
      sentinels: [
        { host: 's1', port: 26379 },
        { host: '::1', port: 26380 },
      ],
      name: 'attache',
    },
  );
  assert.throws(
    () => redisSentinelFromFlags(parseFlags(specs, ['--redis-sentinel', 's1'], {})),
    (err: unknown) => err instanceof ConfigError && err.message.includes('"s1" is not host:port'),
  );
});
