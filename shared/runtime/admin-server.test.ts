/**
 * The admin port's access rule: probes and metrics are public; debug routes are served on a
 * loopback bind, and on a wide bind only with the admin bearer token.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { Counter, Gauge, Registry } from 'prom-client';
import { AdminServer, adminTokenFromFlags } from './admin-server.ts';
import { ConfigError } from './errors.ts';
import { silentLogger } from './logger.ts';

const TOKEN = 'admin-token-0123456789abcdef';

async function admin(host: string, token?: string): Promise<AdminServer> {
  const a = new AdminServer({
    host,
    port: 0,
    registry: new Registry(),
    runners: () => [],
    log: silentLogger(),
    debug: { '/debug/config': async () => ({ secret: 'configuration' }) },
    ...(token ? { token } : {}),
  });
  await a.start();
  return a;
}

async function get(a: AdminServer, path: string, auth?: string): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${a.port}${path}`, {
    headers: auth ? { authorization: auth } : {},
  });
  await res.text();
  return res.status;
}

describe('admin server access', () => {
  const servers: AdminServer[] = [];
  after(async () => {
    for (const s of servers) await s.close();
  });

  test('admin — bound to loopback, debug routes are served without a token', async () => {
    const a = await admin('127.0.0.1');
    servers.push(a);
    assert.equal(await get(a, '/debug/config'), 200);
    assert.equal(await get(a, '/debug/unknown'), 404);
  });

  test('admin — bound wide without a token, probes and metrics answer and debug routes are 403', async () => {
    const a = await admin('0.0.0.0');
    servers.push(a);
    for (const p of ['/healthz', '/readyz', '/metrics']) assert.equal(await get(a, p), 200, p);
    assert.equal(await get(a, '/debug/config'), 403);
    assert.equal(await get(a, '/debug/config', `Bearer ${TOKEN}`), 403);
  });

  test('admin — bound wide with a token, debug routes need exactly that bearer token', async () => {
    const a = await admin('0.0.0.0', TOKEN);
    servers.push(a);
    assert.equal(await get(a, '/debug/config'), 401);
    assert.equal(await get(a, '/debug/config', `Bearer ${TOKEN}x`), 401);
    assert.equal(await get(a, '/debug/config', `Basic ${TOKEN}`), 401);
    assert.equal(await get(a, '/debug/config', `Bearer ${TOKEN}`), 200);
    assert.equal(await get(a, '/healthz'), 200);
  });

  test('admin — /metrics?name= serves only the named metrics, collected in the order named', async () => {
    const registry = new Registry();
    let collected = 0;
    new Counter({ name: 'a_total', help: 'a', registers: [registry] }).inc(3);
    const b = new Gauge({ name: 'b_value', help: 'b', registers: [registry] });
    new Gauge({
      name: 'c_source',
      help: 'c (sets b when collected, like prom-client heap gauges)',
      registers: [registry],
      collect() {
        collected++;
        b.set(collected * 10);
      },
    });
    const a = new AdminServer({
      host: '127.0.0.1',
      port: 0,
      registry,
      runners: () => [],
      log: silentLogger(),
    });
    servers.push(a);
    await a.start();
    const text = async (query: string) => (await fetch(`http://127.0.0.1:${a.port}/metrics${query}`)).text();
    const some = await text('?name=c_source&name=b_value&name=no_such_metric');
    assert.match(some, /^c_source 0$/m);
    assert.match(some, /^b_value 10$/m);
    assert.doesNotMatch(some, /a_total/);
    assert.equal(collected, 1);
    const all = await text('');
    assert.match(all, /^a_total 3$/m);
    assert.match(all, /^b_value /m);
    assert.equal(collected, 2);
    assert.equal(await text('?name=no_such_metric'), '');
  });

  test('admin — the token comes from the environment form or a file, and must not be short', () => {
    assert.equal(adminTokenFromFlags({ 'admin-token': TOKEN }), TOKEN);
    assert.equal(adminTokenFromFlags({}), undefined);
    assert.throws(() => adminTokenFromFlags({ 'admin-token': 'short' }), ConfigError);
  });
});
