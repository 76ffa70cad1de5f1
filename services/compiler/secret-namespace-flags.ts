/**
 * `--secret-namespace GROUP=NAMESPACE` (repeatable) → `CompileOptions.secretNamespaces`: the
 * Secrets of NAMESPACE belong to GROUP (several groups may share one namespace). See
 * ir/secret-access.ts for the whole rule.
 */
import { ConfigError } from '../../shared/runtime/errors.ts';

export function secretNamespacesFromFlags(values: readonly string[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const value of values) {
    const eq = value.indexOf('=');
    const group = value.slice(0, Math.max(0, eq));
    const namespace = value.slice(eq + 1);
    if (eq <= 0 || namespace === '') {
      throw new ConfigError(`--secret-namespace takes GROUP=NAMESPACE, got ${JSON.stringify(value)}`);
    }
    out[namespace] = [...new Set([...(out[namespace] ?? []), group])].sort();
  }
  return out;
}
