/**
 * docker-compose.yml cannot be run here (no Docker engine), so this checks what can be checked
 * statically: every Attaché service runs a real `attache` subcommand whose flags parse strictly,
 * URLs point at services that exist on the ports they listen on, published and admin ports agree
 * with the flags, and every image the Attaché services use is built by the file.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { describe, test } from 'node:test';
import { parse } from 'yaml';
import { findCommand } from '../../services/cli/commands.ts';
import { flag, parseFlags } from '../../shared/runtime/config.ts';
import { natsUsers, redisUsers, roleOf } from './shipped-users.ts';

interface ComposeService {
  image?: string;
  build?: unknown;
  command?: string[];
  ports?: string[];
  healthcheck?: { test?: string[] };
  depends_on?: Record<string, unknown>;
  volumes?: string[];
  environment?: Record<string, string>;
  entrypoint?: string[];
}

const compose = parse(fs.readFileSync(new URL('../../docker-compose.yml', import.meta.url), 'utf8')) as {
  services: Record<string, ComposeService>;
};
const services = compose.services;
const attacheServices = Object.entries(services).filter(([, s]) => s.image?.startsWith('attache'));

/** The port each infrastructure service listens on inside the compose network. */
const listening: Record<string, number> = { nats: 4222, redis: 6379 };

describe('docker-compose', () => {
  test('docker-compose — runs the three tiers plus NATS and Redis', () => {
    assert.deepEqual(Object.keys(services).sort(), ['compiler', 'fanout', 'ingestor', 'nats', 'redis']);
    assert.ok(services.nats?.command?.includes('-js'), 'NATS must run with JetStream');
  });

  test('docker-compose — every Attaché command is a real subcommand with valid flags', () => {
    assert.equal(attacheServices.length, 3);
    const seen = new Set<string>();
    for (const [name, svc] of attacheServices) {
      const argv = svc.command ?? [];
      const found = findCommand(argv);
      assert.ok(found, `${name}: '${argv.join(' ')}' is not an attache command`);
      seen.add(found.spec.path.join(' '));
      const flags = parseFlags(found.spec.flags, found.rest, {});
      for (const urlFlag of ['nats', 'redis'] as const) {
        const url = flag.str(flags, urlFlag);
        if (!url) continue;
        const u = new URL(url);
        assert.ok(services[u.hostname], `${name}: --${urlFlag} points at unknown service ${u.hostname}`);
        assert.equal(Number(u.port), listening[u.hostname], `${name}: --${urlFlag} port`);
        assert.ok(svc.depends_on?.[u.hostname], `${name} must depend on ${u.hostname}`);
      }
      const admin = flag.num(flags, 'admin-port');
      const health = (svc.healthcheck?.test ?? []).join(' ');
      assert.match(
        health,
        new RegExp(`127\\.0\\.0\\.1:${admin}/readyz`),
        `${name}: healthcheck must probe its admin port`,
      );
    }
    assert.deepEqual([...seen].sort(), ['compile', 'fanout', 'ingest fs']);
  });

  test('docker-compose — the fan-out publishes the xDS port it serves on', () => {
    const fanout = services.fanout!;
    const found = findCommand(fanout.command ?? [])!;
    const flags = parseFlags(found.spec.flags, found.rest, {});
    const published = (fanout.ports ?? []).map((p) => Number(p.split(':')[1]));
    assert.ok(published.includes(flag.num(flags, 'xds-port')));
  });

  test('docker-compose — the ingestor watches the mounted example directory', () => {
    const ing = services.ingestor!;
    const found = findCommand(ing.command ?? [])!;
    const dir = flag.str(parseFlags(found.spec.flags, found.rest, {}), 'dir');
    const mount = (ing.volumes ?? []).find((v) => v.split(':')[1] === dir);
    assert.ok(mount, `ingestor --dir ${dir} is not a mounted volume`);
    assert.ok(
      fs.existsSync(new URL(`../../${mount.split(':')[0]}`, import.meta.url)),
      'mounted directory exists',
    );
  });

  test('docker-compose — the Attaché image is built once and its entrypoint is the CLI', () => {
    const built = attacheServices.filter(([, s]) => s.build !== undefined);
    assert.equal(built.length, 1);
    const dockerfile = fs.readFileSync(new URL('../../Dockerfile', import.meta.url), 'utf8');
    assert.match(dockerfile, /ENTRYPOINT \["node", "bin\/attache\.js"\]/);
    assert.match(dockerfile, /npm install --omit=dev/);
  });

  test('docker-compose — the image runs the compiled build, built after the sources are copied', () => {
    const dockerfile = fs.readFileSync(new URL('../../Dockerfile', import.meta.url), 'utf8');
    const build = dockerfile.indexOf('RUN npm run build');
    assert.ok(build > 0, 'the Dockerfile must build dist/');
    for (const dir of ['bin', 'scripts', 'shared', 'services', 'proto']) {
      const copy = dockerfile.indexOf(`COPY ${dir} ./${dir}`);
      assert.ok(copy >= 0 && copy < build, `${dir}/ must be copied before the build`);
    }
    assert.doesNotMatch(dockerfile, /ATTACHE_FROM_SOURCE/, 'the image must not run the sources through tsx');
  });

  test('docker-compose — NATS and Redis run the shipped locked-down configuration; every tier logs in as its own user', () => {
    const nats = services.nats!;
    assert.deepEqual(nats.command?.slice(0, 2), ['-c', '/etc/nats/nats.conf']);
    assert.ok(nats.volumes?.includes('./k8s/nats.conf:/etc/nats/nats.conf:ro'));
    const redis = services.redis!;
    assert.deepEqual(redis.entrypoint, ['sh', '/etc/attache/redis-acl.sh']);
    assert.ok(redis.volumes?.includes('./k8s/redis-acl.sh:/etc/attache/redis-acl.sh:ro'));
    const passwordVar = (value: string | undefined) => /^\$\{(\w+):\?/.exec(value ?? '')?.[1];
    for (const [user, variable] of [...natsUsers()]) {
      if (user.startsWith('ingest-') && user !== 'ingest-local') continue;
      assert.ok(passwordVar(nats.environment?.[variable]), `nats gets ${variable} from the environment`);
    }
    for (const variable of redisUsers().values()) {
      assert.ok(passwordVar(redis.environment?.[variable]), `redis gets ${variable} from the environment`);
    }
    for (const [name, svc] of attacheServices) {
      const found = findCommand(svc.command ?? [])!;
      const flags = parseFlags(found.spec.flags, found.rest, {});
      const role = roleOf(found.spec.path.join(' '), flag.str(flags, 'cluster'));
      const env = svc.environment ?? {};
      if (flag.str(flags, 'nats')) {
        assert.equal(env.ATTACHE_NATS_USER, role, `${name}: NATS user`);
        assert.equal(passwordVar(env.ATTACHE_NATS_PASSWORD), natsUsers().get(role), `${name}: NATS password`);
      }
      if (flag.str(flags, 'redis')) {
        assert.equal(env.ATTACHE_REDIS_USER, role, `${name}: Redis user`);
        assert.equal(
          passwordVar(env.ATTACHE_REDIS_PASSWORD),
          redisUsers().get(role),
          `${name}: Redis password`,
        );
      }
      assert.ok(
        !(svc.command ?? []).some((a) => /password|token/i.test(a)),
        `${name}: no secret on the command line`,
      );
    }
  });
});
