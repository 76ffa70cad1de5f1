/**
 * Collects one object's diagnostics while it is parsed: `err` and `warn` name the field, and
 * `failed` tells the parser afterwards whether any error was recorded (the object is then skipped).
 */
import type { Diagnostic } from '../contracts.ts';
import type { SourceRef } from './types.ts';

/** Records a problem with one field of the object being parsed. */
export type FieldSink = (field: string, message: string) => void;

export interface DiagnosticSink {
  readonly err: FieldSink;
  readonly warn: FieldSink;
  /** True once `err` has been called. */
  readonly failed: boolean;
}

export function diagnosticSink(source: SourceRef, diagnostics: Diagnostic[]): DiagnosticSink {
  let failed = false;
  return {
    err: (field, message) => {
      failed = true;
      diagnostics.push({ severity: 'error', source, field, message });
    },
    warn: (field, message) => diagnostics.push({ severity: 'warning', source, field, message }),
    get failed() {
      return failed;
    },
  };
}
