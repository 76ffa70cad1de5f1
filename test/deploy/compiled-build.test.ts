/**
 * The compiled build (scripts/build.ts → dist/, what `bin/attache.js`, the image, docker-compose
 * and k8s/ run) behaves like the TypeScript sources the rest of the suite tests: it is built into
 * a scratch directory here, then `--help` and `translate` of the quickstart must give the same
 * output as the sources, and the bundle must not need tsx.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
// Inside the repository (.tmp/ is ignored) so the bundle resolves its npm packages from node_modules.
const SCRATCH = path.join(ROOT, '.tmp', `compiled-build-${process.pid}`);
const DIST = path.join(SCRATCH, 'dist');

function run(args: string[], env: NodeJS.ProcessEnv = {}): string {
  return execFileSync(process.execPath, args, {
    cwd: ROOT,
    env: { ...process.env, ...env },
    encoding: 'utf8',
  });
}

describe('compiled build', () => {
  before(() => {
    run(['--import', 'tsx', 'scripts/build.ts', '--outdir', DIST]);
  });
  after(() => fs.rmSync(SCRATCH, { recursive: true, force: true }));

  test('compiled build — bundles the CLI with the proto descriptor and no tsx', () => {
    assert.ok(fs.existsSync(path.join(DIST, 'main.js')));
    assert.ok(fs.existsSync(path.join(DIST, 'gen', 'envoy-root.json')));
    for (const f of fs.readdirSync(DIST).filter((n) => n.endsWith('.js'))) {
      const text = fs.readFileSync(path.join(DIST, f), 'utf8');
      assert.doesNotMatch(text, /from ["']tsx/, `${f} imports tsx`);
      assert.doesNotMatch(text, /\.ts["']\)/, `${f} imports a .ts file`);
    }
  });

  test('compiled build — --help loads no npm package (start-up stays near a bare node)', () => {
    // The static import graph of main.js (dynamic import() of a subcommand's chunk excluded):
    // protobufjs, the NATS client or Redis in it cost --help 60-90 ms of CPU before.
    const seen = new Set<string>();
    const packages = new Set<string>();
    const visit = (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      const text = fs.readFileSync(path.join(DIST, file), 'utf8');
      for (const m of text.matchAll(/^(?:import|export)\s[^;]*?["']([^"']+)["'];?$/gms)) {
        const spec = m[1] as string;
        if (spec.startsWith('./')) visit(spec.slice(2));
        else if (!spec.startsWith('node:')) packages.add(spec);
      }
    };
    visit('main.js');
    assert.ok(seen.size > 1, 'main.js imports its flag chunks');
    assert.deepEqual([...packages], []);
  });

  test('compiled build — --help and translate match the sources', () => {
    const src = ['bin/attache.js'];
    const fromSource = { ATTACHE_FROM_SOURCE: '1' };
    assert.equal(run([path.join(DIST, 'main.js'), '--help']), run([...src, '--help'], fromSource));
    const outA = path.join(SCRATCH, 'a');
    const outB = path.join(SCRATCH, 'b');
    run([path.join(DIST, 'main.js'), 'translate', '--config', 'examples/quickstart', '--out', outA]);
    run([...src, 'translate', '--config', 'examples/quickstart', '--out', outB], fromSource);
    const files = fs.readdirSync(outB).sort();
    assert.deepEqual(fs.readdirSync(outA).sort(), files);
    assert.ok(files.includes('clusters.json'));
    for (const f of files)
      assert.equal(
        fs.readFileSync(path.join(outA, f), 'utf8'),
        fs.readFileSync(path.join(outB, f), 'utf8'),
        f,
      );
  });

  test('compiled build — translate from the startup snapshot matches the sources', () => {
    // What bin/attache.js runs for `attache translate` when the stamp is its own Node's and dist/.
    const blob = path.join(DIST, 'translate.blob');
    assert.equal(
      fs.readFileSync(`${blob}.stamp`, 'utf8'),
      `${process.version} ${process.versions.v8} ${process.platform} ${process.arch} ${DIST}\n`,
    );
    // YAML that only the `yaml` library reads (anchors and aliases; an alias across documents is
    // its error) and regex Mappings (RE2 checks by re2-wasm): both packages are loaded on first
    // use, from node_modules.
    const odd = path.join(SCRATCH, 'odd');
    fs.mkdirSync(odd, { recursive: true });
    const mapping = (name: string, spec: string) =>
      `apiVersion: getambassador.io/v3alpha1\nkind: Mapping\nmetadata: { name: ${name}, namespace: default }\nspec:${spec}\n`;
    fs.writeFileSync(
      path.join(odd, 'a.yaml'),
      `${mapping('a', ' &spec\n  hostname: "*"\n  prefix: "/api/(v[0-9]+)/.*"\n  prefix_regex: true\n  service: svc:80')}---\n` +
        `${mapping('b', ' *spec')}---\n${mapping('c', '\n  hostname: "*"\n  prefix: "/b/(x"\n  prefix_regex: true\n  service: svc:80')}`,
    );
    const cases: [string, string[]][] = [
      ['quickstart', ['--config', 'examples/quickstart']],
      ['multi-cluster', ['--config', 'testdata/compiler/multi-cluster/in', '--cluster', 'test']],
      ['anchors-and-regexes', ['--config', odd]],
    ];
    for (const [name, args] of cases) {
      const outA = path.join(SCRATCH, `snapshot-${name}`);
      const outB = path.join(SCRATCH, `source-${name}`);
      const printed = run(['--snapshot-blob', blob, 'translate', ...args, '--out', outA]);
      const expected = run(['bin/attache.js', 'translate', ...args, '--out', outB], {
        ATTACHE_FROM_SOURCE: '1',
      });
      assert.equal(printed.replace(outA, 'OUT'), expected.replace(outB, 'OUT'), name);
      const files = fs.readdirSync(outB).sort();
      assert.deepEqual(fs.readdirSync(outA).sort(), files);
      for (const f of files)
        assert.equal(
          fs.readFileSync(path.join(outA, f), 'utf8'),
          fs.readFileSync(path.join(outB, f), 'utf8'),
          `${name} ${f}`,
        );
    }
    // A bad command line: the same message and exit code as the sources.
    const bad = (args: string[], env: NodeJS.ProcessEnv = {}) =>
      spawnSync(process.execPath, args, { cwd: ROOT, env: { ...process.env, ...env }, encoding: 'utf8' });
    const a = bad(['--snapshot-blob', blob, 'translate', '--out', path.join(SCRATCH, 'x')]);
    const b = bad(['bin/attache.js', 'translate', '--out', path.join(SCRATCH, 'x')], {
      ATTACHE_FROM_SOURCE: '1',
    });
    assert.equal(a.status, 2);
    assert.equal(a.status, b.status);
    assert.equal(a.stderr, b.stderr);
  });
});
