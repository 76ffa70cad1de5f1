/**
 * `attache translate`: compiles YAML directories offline, with exactly the passes the compiler
 * service runs, and writes Envoy v3 resources as protobuf-JSON plus status.json. YAML that does
 * not load becomes a diagnostic in status.json too. Exit code 0 when the output was written, even
 * with per-resource errors (they are in status.json); 1 when the output itself is invalid.
 */
import fs from 'node:fs';
import path from 'node:path';
import { type FlagValue, flag } from '../../shared/runtime/config.ts';
import { errorMessage } from '../../shared/runtime/errors.ts';
import { compile, type Diagnostic, type SourceRecord } from '../compiler/compile.ts';
import { toTranslateFiles } from '../compiler/translate-output.ts';
import { loadDirectory } from '../ingestor/fs/load-directory.ts';

/** Loads every directory as one source cluster and compiles them together. */
export async function translateDirectories(
  dirs: readonly string[],
  cluster: string,
  group: string,
): Promise<{ files: Record<string, string>; diagnostics: Diagnostic[] }> {
  const records: SourceRecord[] = [];
  const loadDiagnostics: Diagnostic[] = [];
  for (const dir of dirs) {
    const { documents, errors } = await loadDirectory(dir);
    for (const d of documents)
      records.push({ cluster, object: d.object, origin: { file: d.file, document: d.document } });
    for (const e of errors) {
      loadDiagnostics.push({
        severity: 'error',
        source: {
          cluster,
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
  const result = compile(records, { group });
  const merged = { ...result, diagnostics: [...loadDiagnostics, ...result.diagnostics] };
  return { files: toTranslateFiles(merged), diagnostics: merged.diagnostics };
}

export async function runTranslate(flags: Record<string, FlagValue>): Promise<number> {
  const out = flag.str(flags, 'out') ?? '';
  try {
    const { files, diagnostics } = await translateDirectories(
      flag.list(flags, 'config'),
      flag.str(flags, 'cluster') ?? 'local',
      flag.str(flags, 'group') ?? 'default',
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
