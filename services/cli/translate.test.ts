/**
 * `attache translate` on every golden case gives the committed output: the offline command and
 * the golden tests run the same passes, and this proves the command's own loading (the YAML
 * directory loader) does not change the result. Cases with several source clusters (`in/<cluster>/`)
 * or compile options (`options.json`) are translated as `--config CLUSTER=DIR` with the flags
 * `attache compile` takes for those options (`--local-cluster`, `--remote-endpoints`,
 * `--secret-namespace`).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { startAttache } from '../../test/harness/attache-process.ts';
import { endpointPolicyFromFlags } from '../compiler/endpoint-policy-flags.ts';
import { DEFAULT_SOURCE_CLUSTER, GOLDEN_ROOT, listCases, loadCaseOptions } from '../compiler/golden-cases.ts';
import { secretNamespacesFromFlags } from '../compiler/secret-namespace-flags.ts';
import { type ConfigDir, configDirsFromFlags, translateDirectories } from './translate.ts';

/** Cases whose YAML all belongs to one source cluster and that need no compile options. */
function singleClusterCases(): string[] {
  return listCases().filter((name) => {
    const dir = path.join(GOLDEN_ROOT, name);
    if (fs.existsSync(path.join(dir, 'options.json'))) return false;
    return fs.readdirSync(path.join(dir, 'in'), { withFileTypes: true }).every((e) => !e.isDirectory());
  });
}

/**
 * Golden cases a YAML directory cannot express, with the reason: a directory holds each object
 * identity once (the loader keeps one and diagnoses the other), a case's documents need not.
 */
const NOT_A_DIRECTORY: Record<string, string> = {
  'multicluster-conflict': 'west/objects.yaml holds two Mappings apps/other (different ambassador_id)',
};

/** Cases with several source clusters or compile options. */
function multiClusterCases(): string[] {
  const single = new Set(singleClusterCases());
  return listCases().filter((name) => !single.has(name) && !(name in NOT_A_DIRECTORY));
}

/**
 * A case as `attache translate` arguments: its top-level YAML (copied to a directory of its own,
 * since a directory's subdirectories load with it) as `test=DIR`, each `in/<cluster>/` as
 * `<cluster>=DIR`, and its options.json as the flags that give those options. An option with no
 * flag fails the test rather than being left out.
 */
function caseArgs(name: string, scratch: string): { config: string[]; flags: string[] } {
  const inDir = path.join(GOLDEN_ROOT, name, 'in');
  const top = path.join(scratch, name);
  fs.mkdirSync(top, { recursive: true });
  const config: string[] = [];
  // In the golden loader's order (entries sorted by name), which decides cross-cluster conflicts.
  const entries = fs.readdirSync(inDir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1));
  for (const e of entries) {
    if (e.isDirectory()) config.push(`${e.name}=${path.join(inDir, e.name)}`);
    else {
      if (fs.readdirSync(top).length === 0) config.push(`${DEFAULT_SOURCE_CLUSTER}=${top}`);
      fs.copyFileSync(path.join(inDir, e.name), path.join(top, e.name));
    }
  }
  const flags: string[] = [];
  const { localClusters, remoteEndpoints, secretNamespaces, ...rest } = loadCaseOptions(name);
  assert.deepEqual(rest, {}, `${name}: options.json has options translate has no flag for`);
  for (const c of localClusters ?? []) flags.push('--local-cluster', c);
  if (remoteEndpoints) flags.push('--remote-endpoints', remoteEndpoints);
  for (const [ns, groups] of Object.entries(secretNamespaces ?? {}))
    for (const g of groups) flags.push('--secret-namespace', `${g}=${ns}`);
  return { config, flags };
}

/** Golden status names files relative to `in/`; translate relative to each --config directory. */
function byBaseName(diags: Diag[]): Diag[] {
  return diags.map((d) =>
    d.source.file ? { ...d, source: { ...d.source, file: path.posix.basename(d.source.file) } } : d,
  );
}

function committedOutput(name: string): Record<string, string> {
  const out = path.join(GOLDEN_ROOT, name, 'out');
  return Object.fromEntries(fs.readdirSync(out).map((f) => [f, fs.readFileSync(path.join(out, f), 'utf8')]));
}

interface Diag {
  severity: string;
  source: { file?: string; document?: number; name: string };
  field?: string;
  message: string;
}

/**
 * Statuses agree, except that the YAML loader rejects a document without an identity (no kind or
 * name) before the compiler sees it: such a document gets the loader's diagnostic (naming file
 * and document) instead of the compiler's. Everything else must be identical.
 */
function assertSameStatus(name: string, actual: Diag[], expected: Diag[]) {
  const at = (d: Diag) => `${d.source.file}#${d.source.document}`;
  const loaderRejected = new Set(actual.filter((d) => d.field?.startsWith('line ')).map(at));
  const compilerOnly = expected.filter((d) => loaderRejected.has(at(d)));
  for (const d of compilerOnly)
    assert.equal(d.severity, 'error', `${name}: ${at(d)} must be an error either way`);
  assert.equal(
    compilerOnly.length,
    loaderRejected.size,
    `${name}: every loader rejection replaces a compiler error`,
  );
  assert.deepEqual(
    actual.filter((d) => !loaderRejected.has(at(d))),
    expected.filter((d) => !loaderRejected.has(at(d))),
    `${name}: status.json`,
  );
}

describe('translate', () => {
  const cases = singleClusterCases();

  test('translate — covers most golden cases', () => {
    assert.ok(cases.length >= 30, `only ${cases.length} single-cluster cases found`);
  });

  for (const name of cases) {
    test(`translate — ${name} matches the committed golden output`, async () => {
      const { files } = await translateDirectories([path.join(GOLDEN_ROOT, name, 'in')], 'test', 'default');
      const expected = committedOutput(name);
      assert.deepEqual(Object.keys(files).sort(), Object.keys(expected).sort());
      for (const file of Object.keys(expected)) {
        if (file !== 'status.json') assert.equal(files[file], expected[file], `${name}/${file}`);
      }
      assertSameStatus(
        name,
        JSON.parse(files['status.json'] ?? '[]'),
        JSON.parse(expected['status.json'] ?? '[]'),
      );
    });
  }

  const multi = multiClusterCases();

  test('translate — golden cases with several source clusters or compile options exist', () => {
    assert.ok(multi.length >= 5, `only ${multi.length} multi-cluster/option cases found`);
  });

  for (const name of multi) {
    test(`translate — ${name} (as --config CLUSTER=DIR with its options as flags) matches the committed golden output`, async () => {
      const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'attache-translate-'));
      try {
        const { config, flags } = caseArgs(name, scratch);
        // The options as the command builds them from its flags.
        const flagValues = (name: string) => flags.filter((_, i) => flags[i - 1] === `--${name}`);
        const policy = endpointPolicyFromFlags(
          flagValues('local-cluster'),
          flagValues('remote-endpoints')[0],
        );
        const dirs: ConfigDir[] = configDirsFromFlags(config, 'unused');
        assert.ok(dirs.every((d) => d.cluster !== 'unused'));
        const { files } = await translateDirectories(dirs, 'unused', {
          group: 'default',
          ...policy('default'),
          secretNamespaces: secretNamespacesFromFlags(flagValues('secret-namespace')),
        });
        const expected = committedOutput(name);
        assert.deepEqual(Object.keys(files).sort(), Object.keys(expected).sort());
        for (const file of Object.keys(expected))
          if (file !== 'status.json') assert.equal(files[file], expected[file], `${name}/${file}`);
        assertSameStatus(
          name,
          byBaseName(JSON.parse(files['status.json'] ?? '[]')),
          byBaseName(JSON.parse(expected['status.json'] ?? '[]')),
        );
      } finally {
        fs.rmSync(scratch, { recursive: true, force: true });
      }
    });
  }

  test('translate — the command takes --config CLUSTER=DIR, --local-cluster, --remote-endpoints and --secret-namespace', async () => {
    // One case per option: the policy must reach the compile (prefer-local and local-only give
    // different EDS from the same YAML), and Secret namespaces change which Hosts get TLS.
    for (const name of [
      'multicluster-prefer-local',
      'multicluster-local-only',
      'multicluster-merge',
      'edge-secret-groups',
    ]) {
      const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'attache-translate-'));
      const out = path.join(scratch, 'out');
      try {
        const { config, flags } = caseArgs(name, scratch);
        assert.ok(flags.length > 0, `${name} has options`);
        const proc = startAttache([
          'translate',
          ...config.flatMap((c) => ['--config', c]),
          ...flags,
          '--out',
          out,
        ]);
        assert.equal(await proc.wait(), 0, proc.output());
        const expected = committedOutput(name);
        for (const file of Object.keys(expected))
          if (file !== 'status.json')
            assert.equal(
              fs.readFileSync(path.join(out, file), 'utf8'),
              expected[file],
              `${name}/${file}: CLI output differs`,
            );
      } finally {
        fs.rmSync(scratch, { recursive: true, force: true });
      }
    }
  });

  test('translate and dev — a bad endpoint policy flag is a clear error naming the flag', async () => {
    const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'attache-translate-'));
    try {
      const bad = startAttache([
        'translate',
        '--config',
        scratch,
        '--out',
        path.join(scratch, 'o'),
        '--remote-endpoints',
        'nearest',
      ]);
      assert.equal(await bad.wait(), 1);
      assert.match(
        bad.output(),
        /--remote-endpoints must be one of prefer-local, local-only, merge, got "nearest"/,
      );
      const missing = startAttache([
        'translate',
        '--config',
        `east=${path.join(scratch, 'nope')}`,
        '--out',
        path.join(scratch, 'o'),
      ]);
      assert.notEqual(await missing.wait(), 0);
      assert.match(missing.output(), /--config "east=.*nope": directory ".*nope" does not exist/);
      const dev = startAttache([
        'dev',
        '--config',
        scratch,
        '--xds-port',
        '0',
        '--admin-port',
        '0',
        '--local-cluster',
        '=east',
      ]);
      assert.notEqual(await dev.wait(), 0);
      assert.match(dev.output(), /--local-cluster takes NAME or GROUP=NAME, got "=east"/);
    } finally {
      fs.rmSync(scratch, { recursive: true, force: true });
    }
  });

  test('translate — the attache translate command writes the same files', async () => {
    for (const name of ['canary-30', 'edge-host-tls', 'mapping-match']) {
      const out = fs.mkdtempSync(path.join(os.tmpdir(), 'attache-translate-'));
      try {
        const proc = startAttache([
          'translate',
          '--config',
          path.join(GOLDEN_ROOT, name, 'in'),
          '--out',
          out,
          '--cluster',
          'test',
        ]);
        assert.equal(await proc.wait(), 0, proc.output());
        const written = Object.fromEntries(
          fs.readdirSync(out).map((f) => [f, fs.readFileSync(path.join(out, f), 'utf8')]),
        );
        assert.deepEqual(written, committedOutput(name), `${name}: CLI output differs`);
      } finally {
        fs.rmSync(out, { recursive: true, force: true });
      }
    }
  });
});
