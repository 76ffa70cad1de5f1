/**
 * `attache translate`: compiles YAML directories offline, with exactly the passes the compiler
 * service runs, and writes Envoy v3 resources as protobuf-JSON plus status.json. YAML that does
 * not load becomes a diagnostic in status.json too. Exit code 0 when the output was written, even
 * with per-resource errors (they are in status.json); 1 when the output itself is invalid.
 *
 * Each `--config` is `DIR` (objects of the `--cluster` source) or `CLUSTER=DIR` (objects of source
 * cluster CLUSTER), so a multi-cluster configuration translates offline with the endpoint policy
 * `attache compile` runs with (`--local-cluster`, `--remote-endpoints`) and `--secret-namespace`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { type FlagValue, flag } from '../../shared/runtime/config.ts';
import { ConfigError, errorMessage } from '../../shared/runtime/errors.ts';
import { compileResources } from '../compiler/compile.ts';
import type { CompileOptions, Diagnostic, SourceRecord } from '../compiler/contracts.ts';
import { endpointPolicyFromFlags } from '../compiler/endpoint-policy-flags.ts';
import { secretNamespacesFromFlags } from '../compiler/secret-namespace-flags.ts';
import { toTranslateFiles } from '../compiler/translate-output.ts';
import { keepingDecoded } from '../compiler/validate-output.ts';
import { loadDirectory } from '../ingestor/fs/load-directory.ts';

/** A directory of YAML and the source cluster its objects belong to. */
export interface ConfigDir {
  cluster: string;
  dir: string;
}

/** A cluster name as `--config CLUSTER=DIR` takes it (a DNS label, as cluster names are). */
const CLUSTER_PREFIX = /^([a-z0-9](?:[-a-z0-9]*[a-z0-9])?)=(.+)$/;

/**
 * `--config` values → directories and their source clusters: `CLUSTER=DIR`, or `DIR` for
 * `defaultCluster`. A value that names an existing path is always a directory (so a directory
 * whose name has `=` in it still works as itself).
 */
export function configDirsFromFlags(values: readonly string[], defaultCluster: string): ConfigDir[] {
  return values.map((value) => {
    const m = CLUSTER_PREFIX.exec(value);
    if (!m || fs.existsSync(value)) return { cluster: defaultCluster, dir: value };
    const [, cluster = '', dir = ''] = m;
    if (!fs.existsSync(dir))
      throw new ConfigError(
        `--config ${JSON.stringify(value)}: directory ${JSON.stringify(dir)} does not exist`,
      );
    return { cluster, dir };
  });
}

/**
 * Loads every directory as objects of its source cluster and compiles them together with
 * `options` (endpoint policy, Secret namespaces) for `options.group`.
 */
export async function translateDirectories(
  dirs: readonly (string | ConfigDir)[],
  cluster: string,
  options: string | CompileOptions,
): Promise<{ files: Record<string, string>; diagnostics: Diagnostic[] }> {
  const compileOptions: CompileOptions = typeof options === 'string' ? { group: options } : options;
  const records: SourceRecord[] = [];
  const loadDiagnostics: Diagnostic[] = [];
  for (const entry of dirs) {
    const { dir, cluster: dirCluster } = typeof entry === 'string' ? { dir: entry, cluster } : entry;
    const { documents, errors } = await loadDirectory(dir);
    for (const d of documents)
      records.push({ cluster: dirCluster, object: d.object, origin: { file: d.file, document: d.document } });
    for (const e of errors) {
      loadDiagnostics.push({
        severity: 'error',
        source: {
          cluster: dirCluster,
          kind: e.kind ?? '',
          namespace: '',
          name: e.name ?? '',
          file: e.file,
          ...(e.document !== undefined ? { document: e.document } : {}),
        },
        field: e.line !== undefined ? `line ${e.line}` : undefined,
        message: e.message,
      });
    }
  }
  // The files are rendered from the plain forms output validation decoded, not decoded again.
  const { result, decoded } = keepingDecoded(() => compileResources(records, compileOptions));
  const merged = { ...result, diagnostics: [...loadDiagnostics, ...result.diagnostics] };
  return { files: toTranslateFiles(merged, decoded), diagnostics: merged.diagnostics };
}

export async function runTranslate(flags: Record<string, FlagValue>): Promise<number> {
  const out = flag.str(flags, 'out') ?? '';
  try {
    const cluster = flag.str(flags, 'cluster') ?? 'local';
    const group = flag.str(flags, 'group') ?? 'default';
    const endpointPolicy = endpointPolicyFromFlags(
      flag.list(flags, 'local-cluster'),
      flag.str(flags, 'remote-endpoints'),
    );
    const { files, diagnostics } = await translateDirectories(
      configDirsFromFlags(flag.list(flags, 'config'), cluster),
      cluster,
      {
        group,
        ...endpointPolicy(group),
        secretNamespaces: secretNamespacesFromFlags(flag.list(flags, 'secret-namespace')),
      },
    );
    fs.mkdirSync(out, { recursive: true });
    for (const [name, body] of Object.entries(files)) fs.writeFileSync(path.join(out, name), body);
    const errors = diagnostics.filter((d) => d.severity === 'error').length;
    process.stdout.write(
      `wrote ${Object.keys(files).join(', ')} to ${out}; ${errors} error(s), ${diagnostics.length - errors} warning(s)\n`,
    );
    for (const d of diagnostics) {
      const s = d.source;
      const where = s.file ? `${s.file}#${s.document ?? 0}` : `${s.kind} ${s.namespace}/${s.name}`;
      process.stdout.write(
        `  ${d.severity}: ${where}${s.kind && s.file ? ` (${s.kind} ${s.name})` : ''}: ${d.field ? `${d.field}: ` : ''}${d.message}\n`,
      );
    }
    return 0;
  } catch (err) {
    process.stderr.write(`attache translate: ${errorMessage(err)}\n`);
    return 1;
  }
}
