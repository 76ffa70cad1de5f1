/**
 * The debugging commands and `attache status --admin` read an admin port bound beyond loopback,
 * which serves `/debug/*` only with the admin bearer token: the client presents the token from
 * `ATTACHE_ADMIN_TOKEN` / `--admin-token-file`, and without one the refusal says how to give it.
 * A real admin server on a wide bind, the real HTTP client, and `attache status` as a process.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Registry } from 'prom-client';
import { AdminServer } from '../../shared/runtime/admin-server.ts';
import { DependencyError } from '../../shared/runtime/errors.ts';
import { silentLogger } from '../../shared/runtime/logger.ts';
import { startAttache } from '../../test/harness/attache-process.ts';
import { HttpEventSource } from './http-event-source.ts';

const TOKEN = 'client-token-0123456789abcdef';

describe('admin client token', () => {
  let admin: AdminServer;
  let url: string;
  let dir: string;

  before(async () => {
    admin = new AdminServer({
      host: '0.0.0.0',
      port: 0,
      registry: new Registry(),
      runners: () => [],
      log: silentLogger(),
      token: TOKEN,
      debug: {
        '/debug/events': async () => ({ first: 1, last: 7, events: [] }),
        '/debug/fleet': async () => ({
          fanout: 'fanout-test',
          streams: 0,
          groups: [{ group: 'default', fanout: 'fanout-test', at: new Date().toISOString(), types: {} }],
        }),
      },
    });
    await admin.start();
    url = `http://127.0.0.1:${admin.port}`;
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'attache-admin-client-'));
  });

  after(async () => {
    await admin.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('admin client — without a token a wide-bound port refuses, and the error says how to give one', async () => {
    const source = new HttpEventSource({ url });
    await assert.rejects(source.lastSeq(), (err: Error) => {
      assert.ok(err instanceof DependencyError);
      assert.match(err.message, /answered 401/);
      assert.match(err.message, /ATTACHE_ADMIN_TOKEN or --admin-token-file/);
      return true;
    });
  });

  test('admin client — a wrong token is refused as such', async () => {
    const source = new HttpEventSource({ url, token: 'not-the-token-0123456789' });
    await assert.rejects(source.lastSeq(), /answered 401.*the token given was refused/s);
  });

  test('admin client — with the token the events are read', async () => {
    const source = new HttpEventSource({ url, token: TOKEN });
    assert.equal(await source.lastSeq(), 7);
  });

  test('attache status --admin presents ATTACHE_ADMIN_TOKEN or --admin-token-file', async () => {
    const args = ['status', '--admin', url, '--json'];
    const refused = startAttache(args);
    assert.notEqual(await refused.wait(30_000), 0, refused.output());
    assert.match(refused.output(), /401[\s\S]*ATTACHE_ADMIN_TOKEN/);

    const viaEnv = startAttache(args, { ATTACHE_ADMIN_TOKEN: TOKEN });
    assert.equal(await viaEnv.wait(30_000), 0, viaEnv.output());
    const body = JSON.parse(viaEnv.output()) as { fleet: { group: string }[] };
    assert.deepEqual(
      body.fleet.map((g) => g.group),
      ['default'],
    );

    const file = path.join(dir, 'token');
    fs.writeFileSync(file, `${TOKEN}\n`, { mode: 0o600 });
    const viaFile = startAttache([...args, '--admin-token-file', file]);
    assert.equal(await viaFile.wait(30_000), 0, viaFile.output());
  });
});
