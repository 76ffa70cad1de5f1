/**
 * The order of a compile's diagnostics: by source identity, then field, severity and message, so
 * status output is stable whatever order the passes found them in.
 */
import type { Diagnostic } from './contracts.ts';

export function compareDiagnostics(a: Diagnostic, b: Diagnostic): number {
  const x = a.source;
  const y = b.source;
  return (
    cmp(x.cluster, y.cluster) ||
    cmp(x.kind, y.kind) ||
    cmp(x.namespace, y.namespace) ||
    cmp(x.name, y.name) ||
    cmp(x.file ?? '', y.file ?? '') ||
    (x.document ?? -1) - (y.document ?? -1) ||
    cmp(a.field ?? '', b.field ?? '') ||
    cmp(a.severity, b.severity) ||
    cmp(a.message, b.message)
  );
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
