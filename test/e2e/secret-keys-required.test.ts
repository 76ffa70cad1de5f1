/**
 * Production commands refuse to carry Secrets without a key: `attache ingest fs|kubernetes`,
 * `compile` and `fanout` exit at start (code 2, naming --secret-keys-file / ATTACHE_SECRET_KEYS
 * and the escape hatch) before connecting anywhere; `--allow-plaintext-secrets` starts them with a
 * warning and carries the material as it is; `attache dev` only warns.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { JetStreamEventLog } from '../../shared/events/jetstream-event-log.ts';
import { silentLogger } from '../../shared/runtime/logger.ts';
import { startAttache } from '../harness/attache-process.ts';
import { eventually } from '../harness/eventually.ts';
import { freePort } from '../harness/ports.ts';
import { startNats, type TestServer } from '../harness/servers.ts';
import { ingestFsArgs } from '../harness/tier-args.ts';

/** No keys: the variable present and empty, so the harness adds none. */
const NO_KEYS = { ATTACHE_SECRET_KEYS: '', ATTACHE_LOG_LEVEL: 'info' };
const KEY_PEM = '-----BEGIN PRIVATE KEY-----\nnot-a-real-key\n-----END PRIVATE KEY-----\n';

describe('secret keys required', { timeout: 120_000 }, () => {
  let dir: string;
  let nats: TestServer;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'attache-keys-'));
    fs.writeFileSync(
      path.join(dir, 'secret.yaml'),
      [
        'apiVersion: v1',
        'kind: Secret',
        'metadata: { name: cert, namespace: default }',
        'type: kubernetes.io/tls',
        'data:',
        `  tls.crt: ${Buffer.from('cert').toString('base64')}`,
        `  tls.key: ${Buffer.from(KEY_PEM).toString('base64')}`,
        '',
      ].join('\n'),
    );
    nats = await startNats();
  });

  after(async () => {
    await nats?.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('secret keys — ingest fs, ingest kubernetes, compile and fanout without a key exit at start naming the flag, the variable and the escape hatch', async () => {
    // Unreachable NATS/Redis and a missing kubeconfig: the check comes before any connection.
    const kubeconfig = path.join(dir, 'no-such-kubeconfig');
    fs.writeFileSync(
      kubeconfig,
      'apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]\n' +
        'users: [{name: u, user: {token: t}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n',
    );
    const commands: string[][] = [
      ['ingest', 'fs', '--dir', dir, '--cluster', 'c', '--nats', 'nats://127.0.0.1:1'],
      ['ingest', 'kubernetes', '--cluster', 'c', '--kubeconfig', kubeconfig, '--nats', 'nats://127.0.0.1:1'],
      ['compile', '--nats', 'nats://127.0.0.1:1', '--redis', 'redis://127.0.0.1:1'],
      ['fanout', '--redis', 'redis://127.0.0.1:1', '--allow-unauthenticated', '--bind', '127.0.0.1'],
    ];
    const procs = commands.map((args) => startAttache(args, NO_KEYS));
    const codes = await Promise.all(procs.map((p) => p.wait(60_000)));
    for (const [i, p] of procs.entries()) {
      const what = commands[i]?.slice(0, 2).join(' ');
      assert.equal(codes[i], 2, `${what} exits 2 (configuration error):\n${p.output().slice(-2000)}`);
      const out = p.output();
      assert.match(out, /no secret keys: this command/, what);
      assert.match(out, /--secret-keys-file/, what);
      assert.match(out, /ATTACHE_SECRET_KEYS/, what);
      assert.match(out, /--allow-plaintext-secrets/, what);
      assert.doesNotMatch(out, /ECONNREFUSED/, `${what} tried no connection`);
    }
  });

  test('secret keys — with --allow-plaintext-secrets an ingestor starts, warns, and carries the Secret as it is', async () => {
    const adminPort = await freePort();
    const ingest = startAttache(
      ingestFsArgs({
        dir,
        cluster: 'plain',
        natsUrl: nats.url,
        adminPort,
        extra: ['--allow-plaintext-secrets'],
      }),
      NO_KEYS,
    );
    try {
      await ingest.waitReady(adminPort, 60_000);
      assert.match(ingest.output(), /"level":40.*--allow-plaintext-secrets: Secret material/);
      const events = await JetStreamEventLog.connect({ url: nats.url, log: silentLogger() });
      try {
        const secret = await eventually(async () => {
          for await (const e of events.read({ fromSeq: 1 }))
            if (e.event.cluster === 'plain' && e.event.kind === 'Secret') return e.event;
          throw new Error('no Secret event yet');
        });
        const data = secret.object?.data as Record<string, string> | undefined;
        assert.equal(Buffer.from(data?.['tls.key'] ?? '', 'base64').toString(), KEY_PEM);
      } finally {
        await events.close();
      }
    } finally {
      await ingest.stop();
    }
  });

  test('secret keys — attache dev without a key starts and warns that Secret material stays unencrypted', async () => {
    const adminPort = await freePort();
    const dev = startAttache(
      ['dev', '--config', dir, '--xds-port', String(await freePort()), '--admin-port', String(adminPort)],
      NO_KEYS,
    );
    try {
      await dev.waitReady(adminPort, 60_000);
      assert.match(dev.output(), /"level":40.*no secret keys.*acceptable for attache dev only/);
    } finally {
      await dev.stop();
    }
  });
});
