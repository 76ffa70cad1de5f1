/**
 * Client authentication on the xDS port (client-auth.ts, bearer-tokens.ts): bearer tokens per
 * group, mutual TLS with a trust-domain check, the explicit insecure mode, and what a refused
 * stream gets (nothing: no resources, no fleet events). Real grpc-js clients over loopback; the
 * grpc-js-xds client shows what a proxyless client without credentials sees.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { PeerCertificate } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { ConfigError } from '../../../shared/runtime/errors.ts';
import { sha256Hex } from '../../../shared/xds/encoding.ts';
import { CLUSTER_TYPE, LISTENER_TYPE, SECRET_TYPE } from '../../../shared/xds/type-urls.ts';
import { captureLogs } from '../../../test/harness/capture-logs.ts';
import { createXdsEchoClient } from '../../../test/harness/xds-client.ts';
import { authFlags, tlsFlags } from '../fanout-flags.ts';
import { AdsFixture, nodeIn, until } from '../testing/ads-fixture.ts';
import { apiListener, edsCluster, genericSecret, routeConfig } from '../testing/echo-resources.ts';
import { type Pem, TestPki } from '../testing/test-certs.ts';
import type { NackInfo, StreamPeer } from './ads-events.ts';
import { TokenTable } from './bearer-tokens.ts';
import {
  type AuthOutcome,
  authenticate,
  type ClientAuthOptions,
  ConnectionAuth,
  MAX_REMEMBERED_AUTHORIZATION,
} from './client-auth.ts';

const BLUE_TOKEN = 'blue-token-0123456789abcdef';
const GREEN_TOKEN = 'green-token-0123456789abcdef';
const BOTH_TOKEN = 'both-token-0123456789abcdef';

/** Every fleet event the server reported. */
class EventLog {
  readonly connects: StreamPeer[] = [];
  readonly nacks: Array<{ peer: StreamPeer; nack: NackInfo }> = [];
  readonly events = {
    onConnect: (p: StreamPeer) => this.connects.push(p),
    onNack: (peer: StreamPeer, nack: NackInfo) => this.nacks.push({ peer, nack }),
  };
}

async function publishGroups(f: AdsFixture): Promise<void> {
  await f.publish('blue', 1, [edsCluster('blue-cluster'), genericSecret('blue-key', 'BLUE-PRIVATE')]);
  await f.publish('green', 1, [edsCluster('green-cluster'), genericSecret('green-key', 'GREEN-PRIVATE')]);
  await f.publish('default', 1, [edsCluster('default-cluster')]);
}

describe('fan-out client authentication — bearer tokens', () => {
  const f = new AdsFixture();
  const fleet = new EventLog();
  const logs = captureLogs('warn');
  const tokens = TokenTable.parse(
    [`blue ${BLUE_TOKEN}`, `green sha256:${sha256Hex(GREEN_TOKEN)}`, `blue,green ${BOTH_TOKEN}`].join('\n'),
    'test',
  );

  before(async () => {
    await f.start({ auth: { tokens, allowUnauthenticated: false }, events: fleet.events, log: logs.log });
    await publishGroups(f);
  });
  after(() => f.close());

  test('auth — a client without a credential is refused UNAUTHENTICATED and receives nothing, SDS included', async () => {
    const before = await f.metric('attache_fanout_unauthenticated_total');
    const c = f.sotw();
    c.send({ node: nodeIn('blue', 'anon'), type_url: SECRET_TYPE, resource_names: ['blue-key'] });
    c.send({ node: nodeIn('blue', 'anon'), type_url: CLUSTER_TYPE, resource_names: [] });
    assert.equal((await c.closed()).code, grpc.status.UNAUTHENTICATED);
    assert.deepEqual(await c.drain(100), []);
    const d = f.delta();
    d.send({
      node: nodeIn('blue', 'anon-delta'),
      type_url: SECRET_TYPE,
      resource_names_subscribe: ['blue-key'],
    });
    assert.equal((await d.closed()).code, grpc.status.UNAUTHENTICATED);
    assert.deepEqual(await d.drain(100), []);
    assert.equal(await f.metric('attache_fanout_unauthenticated_total'), before + 2);
    assert.equal(await f.metric('attache_fanout_responses_total', { group: 'blue' }), 0);
    assert.equal(fleet.connects.filter((p) => p.nodeId.startsWith('anon')).length, 0);
  });

  test('auth — an unknown or malformed bearer token is refused UNAUTHENTICATED', async () => {
    const wrong = f.sotw(f.ads, { token: `${BLUE_TOKEN}x` });
    wrong.send({ node: nodeIn('blue', 'wrong'), type_url: CLUSTER_TYPE, resource_names: [] });
    assert.equal((await wrong.closed()).code, grpc.status.UNAUTHENTICATED);
    const basic = f.sotw(f.ads, { metadata: { authorization: `Basic ${BLUE_TOKEN}` } });
    basic.send({ node: nodeIn('blue', 'basic'), type_url: CLUSTER_TYPE, resource_names: [] });
    const status = await basic.closed();
    assert.equal(status.code, grpc.status.UNAUTHENTICATED);
    assert.doesNotMatch(status.details, new RegExp(BLUE_TOKEN));
  });

  test('auth — a token for blue is served blue, with or without ambassador_id', async () => {
    const named = f.sotw(f.ads, { token: BLUE_TOKEN });
    named.send({ node: nodeIn('blue', 'blue-1'), type_url: SECRET_TYPE, resource_names: ['blue-key'] });
    assert.deepEqual((await named.next()).names, ['blue-key']);
    const unnamed = f.sotw(f.ads, { token: BLUE_TOKEN });
    unnamed.send({ node: { id: 'blue-2' }, type_url: CLUSTER_TYPE, resource_names: [] });
    assert.deepEqual((await unnamed.next()).names, ['blue-cluster']);
    const hashed = f.delta(f.ads, { token: GREEN_TOKEN });
    hashed.send({ node: nodeIn('green', 'green-1'), type_url: CLUSTER_TYPE });
    assert.deepEqual((await hashed.next()).names, ['green-cluster']);
  });

  test('auth — a token for blue asking for green (ambassador_id) is refused PERMISSION_DENIED with nothing sent', async () => {
    const before = await f.metric('attache_fanout_permission_denied_total');
    const c = f.sotw(f.ads, { token: BLUE_TOKEN });
    c.send({ node: nodeIn('green', 'liar'), type_url: SECRET_TYPE, resource_names: ['green-key'] });
    const status = await c.closed();
    assert.equal(status.code, grpc.status.PERMISSION_DENIED);
    assert.match(status.details, /does not allow group "green"/);
    assert.deepEqual(await c.drain(100), []);
    const d = f.delta(f.ads, { token: BLUE_TOKEN });
    d.send({ node: nodeIn('green', 'liar-delta'), type_url: CLUSTER_TYPE });
    assert.equal((await d.closed()).code, grpc.status.PERMISSION_DENIED);
    assert.equal(await f.metric('attache_fanout_permission_denied_total'), before + 2);
    assert.equal(
      f.ads.streams().some((s) => s.node.startsWith('liar')),
      false,
    );
    assert.equal(fleet.connects.filter((p) => p.nodeId.startsWith('liar')).length, 0);
  });

  test('auth — a token for several groups must name one of them; ambassador_id narrows, never widens', async () => {
    const unnamed = f.sotw(f.ads, { token: BOTH_TOKEN });
    unnamed.send({ node: { id: 'both-0' }, type_url: CLUSTER_TYPE, resource_names: [] });
    assert.equal((await unnamed.closed()).code, grpc.status.PERMISSION_DENIED);
    const green = f.sotw(f.ads, { token: BOTH_TOKEN });
    green.send({ node: nodeIn('green', 'both-1'), type_url: CLUSTER_TYPE, resource_names: [] });
    assert.deepEqual((await green.next()).names, ['green-cluster']);
    const other = f.sotw(f.ads, { token: BOTH_TOKEN });
    other.send({ node: nodeIn('default', 'both-2'), type_url: CLUSTER_TYPE, resource_names: [] });
    assert.equal((await other.closed()).code, grpc.status.PERMISSION_DENIED);
  });

  test('auth — streams sharing one connection are each held to their own token (verified once per connection and token)', async () => {
    const client = new grpc.Client(`127.0.0.1:${f.ads.port}`, grpc.credentials.createInsecure());
    try {
      const open = (token: string | undefined, id: string) => {
        const c = f.sotw(f.ads, { shared: client, ...(token ? { token } : {}) });
        c.send({ node: nodeIn('blue', id), type_url: CLUSTER_TYPE, resource_names: [] });
        return c;
      };
      assert.deepEqual((await open(BLUE_TOKEN, 'conn-1').next()).names, ['blue-cluster']);
      assert.deepEqual((await open(BLUE_TOKEN, 'conn-2').next()).names, ['blue-cluster']);
      assert.equal((await open(`${BLUE_TOKEN}x`, 'conn-wrong').closed()).code, grpc.status.UNAUTHENTICATED);
      assert.equal((await open(undefined, 'conn-none').closed()).code, grpc.status.UNAUTHENTICATED);
      assert.equal((await open(GREEN_TOKEN, 'conn-green').closed()).code, grpc.status.PERMISSION_DENIED);
      assert.deepEqual((await open(BLUE_TOKEN, 'conn-3').next()).names, ['blue-cluster']);
    } finally {
      client.close();
    }
  });

  test('auth — a refused client NACKing publishes no fleet event', async () => {
    const before = fleet.nacks.length;
    for (const opts of [{}, { token: 'not-a-valid-token-at-all' }, { token: BLUE_TOKEN }]) {
      const c = f.sotw(f.ads, opts);
      const node = nodeIn('green', 'nacker');
      c.send({ node, type_url: CLUSTER_TYPE, resource_names: [] });
      c.send({
        node,
        type_url: CLUSTER_TYPE,
        version_info: 'forged',
        response_nonce: 'forged',
        error_detail: { code: 3, message: 'forged rejection' },
      });
      assert.notEqual((await c.closed()).code, grpc.status.OK);
    }
    assert.equal(fleet.nacks.length, before);
    assert.equal(await f.metric('attache_fanout_nacks_total', { group: 'green' }), 0);
  });

  test('auth — refusals are logged at a bounded rate, without the token', async () => {
    const lines = logs.lines().filter((l) => l.msg === 'xDS stream refused');
    assert.ok(lines.length > 0);
    const text = JSON.stringify(logs.lines());
    assert.doesNotMatch(text, new RegExp(BLUE_TOKEN));
    assert.doesNotMatch(text, /not-a-valid-token-at-all/);
  });

  test('auth — a real grpc-js-xds client, which cannot send credentials, gets no configuration', async () => {
    const before = await f.metric('attache_fanout_unauthenticated_total');
    await f.publish('default', 2, [
      apiListener('echo.auth', 'echo-route'),
      routeConfig('echo-route', 'default-cluster'),
      edsCluster('default-cluster'),
    ]);
    const c = createXdsEchoClient({ serverPort: f.ads.port, nodeId: 'xds-anon', target: 'xds:///echo.auth' });
    try {
      await assert.rejects(c.echo('hello', 3000));
      await until(
        async () => (await f.metric('attache_fanout_unauthenticated_total')) > before,
        'the xDS client to be refused',
        10_000,
      );
      assert.equal(
        f.ads.streams().some((s) => s.node === 'xds-anon'),
        false,
      );
      assert.equal(await f.metric('attache_fanout_responses_total', { group: 'default' }), 0);
    } finally {
      c.close();
    }
  });
});

describe('fan-out client authentication — insecure mode', () => {
  const f = new AdsFixture();
  const fleet = new EventLog();
  const logs = captureLogs('warn');

  before(async () => {
    await f.start({ auth: { allowUnauthenticated: true }, events: fleet.events, log: logs.log });
    await publishGroups(f);
  });
  after(() => f.close());

  test('insecure — --allow-unauthenticated serves anonymous clients any group and warns at start and per stream', async () => {
    assert.ok(logs.lines().some((l) => /NOT authenticated/.test(String(l.msg))));
    const before = logs
      .lines()
      .filter((l) => /unauthenticated xDS stream accepted/.test(String(l.msg))).length;
    for (const group of ['blue', 'green']) {
      const c = f.sotw();
      c.send({ node: nodeIn(group), type_url: CLUSTER_TYPE, resource_names: [] });
      assert.deepEqual((await c.next()).names, [`${group}-cluster`]);
    }
    const after = logs
      .lines()
      .filter((l) => /unauthenticated xDS stream accepted/.test(String(l.msg))).length;
    assert.equal(after, before + 2);
  });
});

describe('fan-out client authentication — mutual TLS with trust domains', () => {
  const pki = new TestPki();
  const f = new AdsFixture();
  const creds = (client?: Pem) =>
    grpc.credentials.createSsl(pki.ca.cert, client?.key ?? null, client?.cert ?? null);
  const tokens = TokenTable.parse(`blue ${BLUE_TOKEN}\ngreen ${GREEN_TOKEN}`, 'test');

  before(async () => {
    await f.start({
      tls: { ...pki.server(), clientCa: pki.ca.cert, trustDomains: ['prod.example'] },
      auth: { tokens, allowUnauthenticated: false },
    });
    await publishGroups(f);
  });
  after(async () => {
    await f.close();
    pki.dispose();
  });

  test('mtls — a SPIFFE ID in the trust domain is served its group; another domain or a CN group is not', async () => {
    const ok = f.sotw(f.ads, {
      credentials: creds(pki.client('td-blue', 'envoy', 'spiffe://prod.example/group/blue')),
    });
    ok.send({ node: { id: 'td-blue' }, type_url: CLUSTER_TYPE, resource_names: [] });
    assert.deepEqual((await ok.next()).names, ['blue-cluster']);

    const foreign = f.sotw(f.ads, {
      credentials: creds(pki.client('td-evil', 'envoy', 'spiffe://evil.example/group/blue')),
    });
    foreign.send({ node: nodeIn('blue', 'td-evil'), type_url: CLUSTER_TYPE, resource_names: [] });
    assert.equal((await foreign.closed()).code, grpc.status.PERMISSION_DENIED);

    const cn = f.sotw(f.ads, { credentials: creds(pki.client('td-cn', 'group:blue')) });
    cn.send({ node: nodeIn('blue', 'td-cn'), type_url: CLUSTER_TYPE, resource_names: [] });
    assert.equal((await cn.closed()).code, grpc.status.PERMISSION_DENIED);
  });

  test('mtls — certificate and token together allow only the groups both name', async () => {
    const blueCert = pki.client('both-blue', 'envoy', 'spiffe://prod.example/group/blue');
    const agree = f.sotw(f.ads, { credentials: creds(blueCert), token: BLUE_TOKEN });
    agree.send({ node: { id: 'agree' }, type_url: LISTENER_TYPE, resource_names: [] });
    assert.equal((await agree.next()).type_url, LISTENER_TYPE);
    const disagree = f.sotw(f.ads, { credentials: creds(blueCert), token: GREEN_TOKEN });
    disagree.send({ node: nodeIn('green', 'disagree'), type_url: CLUSTER_TYPE, resource_names: [] });
    assert.equal((await disagree.closed()).code, grpc.status.PERMISSION_DENIED);
  });
});

describe('fan-out client authentication — configuration', () => {
  test('tokens — short, duplicate and malformed entries are configuration errors', () => {
    assert.throws(() => TokenTable.parse('blue short', 't'), ConfigError);
    assert.throws(() => TokenTable.parse(`blue ${BLUE_TOKEN}\ngreen ${BLUE_TOKEN}`, 't'), /twice/);
    assert.throws(() => TokenTable.parse(`blue ${BLUE_TOKEN} extra`, 't'), ConfigError);
    assert.throws(() => TokenTable.parse(`bl ue,${BLUE_TOKEN}`, 't'), ConfigError);
    const t = TokenTable.parse(`# comment\n\nblue ${BLUE_TOKEN} # trailing\n; green ${GREEN_TOKEN}`, 't');
    assert.deepEqual(
      t.entries.map((e) => e.groups),
      [['blue'], ['green']],
    );
    assert.equal(t.match(GREEN_TOKEN)?.groups[0], 'green');
    assert.equal(t.match(`${GREEN_TOKEN}0`), undefined);
  });

  test('flags — attache fanout refuses to start without client authentication unless told to', () => {
    assert.throws(() => authFlags({}, undefined), /must authenticate/);
    assert.equal(authFlags({ 'allow-unauthenticated': true }, undefined).allowUnauthenticated, true);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'attache-tokens-'));
    try {
      const file = path.join(dir, 'tokens');
      fs.writeFileSync(file, `blue ${BLUE_TOKEN}\n`);
      const fromFile = authFlags({ 'tokens-file': file }, undefined);
      assert.equal(fromFile.tokens?.size, 1);
      const both = authFlags({ 'tokens-file': file, 'xds-tokens': `green ${GREEN_TOKEN}` }, undefined);
      assert.equal(both.tokens?.size, 2);
      assert.throws(() => tlsFlags({ 'trust-domain': ['x'] }), /needs --client-ca/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('authenticate — no credential is UNAUTHENTICATED; a certificate-less anonymous stream only in insecure mode', () => {
    const refused = authenticate({ allowUnauthenticated: false }, new grpc.Metadata(), undefined);
    assert.ok('refused' in refused && refused.refused.code === grpc.status.UNAUTHENTICATED);
    const anon = authenticate({ allowUnauthenticated: true }, new grpc.Metadata(), undefined);
    assert.ok('principal' in anon && anon.principal.groups === null);
    const md = new grpc.Metadata();
    md.set('authorization', `Bearer ${BLUE_TOKEN}`);
    const noTokens = authenticate({ allowUnauthenticated: true }, md, undefined);
    assert.ok('refused' in noTokens, 'a token the server cannot check is refused, not ignored');
  });
});

describe('fan-out client authentication — one verification per connection', () => {
  const table = (...lines: string[]) => TokenTable.parse(lines.join('\n'), 'test');
  const bearer = (token: string) => {
    const md = new grpc.Metadata();
    md.set('authorization', `Bearer ${token}`);
    return md;
  };
  const groupsOf = (o: AuthOutcome) => ('principal' in o ? o.principal.groups : o.refused.reason);

  test('connection auth — the same token on the next stream is answered from memory, anything else is checked afresh', () => {
    const opts: ClientAuthOptions = { tokens: table(`blue ${BLUE_TOKEN}`), allowUnauthenticated: false };
    const conn = new ConnectionAuth();
    assert.deepEqual(groupsOf(authenticate(opts, bearer(BLUE_TOKEN), undefined, conn)), ['blue']);
    assert.deepEqual(groupsOf(authenticate(opts, bearer(BLUE_TOKEN), undefined, conn)), ['blue']);
    assert.equal(conn.hits, 1);
    assert.equal(groupsOf(authenticate(opts, bearer(`${BLUE_TOKEN}x`), undefined, conn)), 'unknown_token');
    assert.equal(
      groupsOf(authenticate(opts, bearer(`${BLUE_TOKEN.slice(0, -1)}X`), undefined, conn)),
      'unknown_token',
    );
    assert.equal(groupsOf(authenticate(opts, new grpc.Metadata(), undefined, conn)), 'no_credential');
    const twice = bearer(BLUE_TOKEN);
    twice.add('authorization', `Bearer ${BLUE_TOKEN}`);
    assert.equal(groupsOf(authenticate(opts, twice, undefined, conn)), 'malformed_authorization');
    assert.deepEqual(groupsOf(authenticate(opts, bearer(BLUE_TOKEN), undefined, conn)), ['blue']);
    assert.equal(conn.hits, 1, 'every differing credential was verified, not recalled');
  });

  test('connection auth — a revoked token is refused on the next stream of a connection that used it', () => {
    const opts: ClientAuthOptions = {
      tokens: table(`blue ${BLUE_TOKEN}`, `green ${GREEN_TOKEN}`),
      allowUnauthenticated: false,
    };
    const conn = new ConnectionAuth();
    assert.deepEqual(groupsOf(authenticate(opts, bearer(BLUE_TOKEN), undefined, conn)), ['blue']);
    // The table is replaced by one without the blue token (a reload that revokes it).
    opts.tokens = table(`green ${GREEN_TOKEN}`);
    assert.equal(groupsOf(authenticate(opts, bearer(BLUE_TOKEN), undefined, conn)), 'unknown_token');
    // Other options objects (another server) never share a connection's memory either.
    const other: ClientAuthOptions = { allowUnauthenticated: false };
    assert.equal(groupsOf(authenticate(other, bearer(GREEN_TOKEN), undefined, conn)), 'token_not_accepted');
    assert.equal(conn.hits, 0);
  });

  test('connection auth — only short values are remembered, and a different certificate is checked afresh', () => {
    const long = `${BLUE_TOKEN}${'a'.repeat(MAX_REMEMBERED_AUTHORIZATION)}`;
    const opts: ClientAuthOptions = {
      tokens: table(`blue ${BLUE_TOKEN}`, `green ${long}`),
      allowUnauthenticated: false,
      certificates: { trustDomains: [] },
    };
    const conn = new ConnectionAuth();
    assert.deepEqual(groupsOf(authenticate(opts, bearer(long), undefined, conn)), ['green']);
    assert.deepEqual(groupsOf(authenticate(opts, bearer(long), undefined, conn)), ['green']);
    assert.equal(conn.hits, 0, 'a value over the bound is verified every time');
    const cert = { subject: { CN: 'group:blue' } } as unknown as PeerCertificate;
    assert.deepEqual(groupsOf(authenticate(opts, bearer(BLUE_TOKEN), cert, conn)), ['blue']);
    assert.deepEqual(groupsOf(authenticate(opts, bearer(BLUE_TOKEN), cert, conn)), ['blue']);
    assert.equal(conn.hits, 1);
    const other = { subject: { CN: 'group:green' } } as unknown as PeerCertificate;
    assert.equal(groupsOf(authenticate(opts, bearer(BLUE_TOKEN), other, conn)), 'credentials_disagree');
  });
});
