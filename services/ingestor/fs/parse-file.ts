/**
 * Parses the text of one YAML file into source objects, one per non-empty document. Pure: no I/O.
 * A document that is not valid YAML, or not a well-formed object, becomes a {@link LoadError}
 * naming the file, the document index and the line; it never throws.
 */
import { LineCounter, parseAllDocuments } from 'yaml';
import { errorMessage } from '../../../shared/runtime/errors.ts';
import type { LoadError, LoadedDocument } from './load-directory.ts';
import { normalizeObject } from './normalize-object.ts';

/** A loaded document and the 1-based line where it starts. */
export interface ParsedDocument extends LoadedDocument {
  line: number;
}

export interface ParsedFile {
  documents: ParsedDocument[];
  errors: LoadError[];
}

/** Parses `text`, the content of `file` (relative path, used only to label results). */
export function parseYamlFile(file: string, text: string): ParsedFile {
  const documents: ParsedDocument[] = [];
  const errors: LoadError[] = [];
  const lines = new LineCounter();
  let docs: ReturnType<typeof parseAllDocuments>;
  try {
    // Merge keys (`<<`) as Kubernetes' YAML decoder accepts them; duplicate keys are an error.
    docs = parseAllDocuments(text, {
      lineCounter: lines,
      prettyErrors: false,
      merge: true,
      uniqueKeys: true,
    });
  } catch (err) {
    return { documents, errors: [{ file, message: `invalid YAML: ${errorMessage(err)}` }] };
  }
  const lineOf = (offset: number) => lines.linePos(offset).line;

  docs.forEach((doc, document) => {
    const start = doc.contents?.range?.[0] ?? doc.range?.[0] ?? 0;
    const first = doc.errors[0];
    if (first) {
      const more = doc.errors.length > 1 ? ` (and ${doc.errors.length - 1} more)` : '';
      errors.push({
        file,
        document,
        line: lineOf(first.pos[0]),
        message: `invalid YAML: ${firstLine(first.message)}${more}`,
      });
      return;
    }
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: 100 });
    } catch (err) {
      errors.push({ file, document, line: lineOf(start), message: `invalid YAML: ${errorMessage(err)}` });
      return;
    }
    if (value === null || value === undefined) return;
    const result = normalizeObject(value);
    if (result.ok) {
      documents.push({ file, document, line: lineOf(start), object: result.object });
      return;
    }
    errors.push({
      file,
      document,
      line: lineOf(start),
      ...(result.kind ? { kind: result.kind } : {}),
      ...(result.name ? { name: result.name } : {}),
      message: result.message,
    });
  });
  return { documents, errors };
}

function firstLine(s: string): string {
  const i = s.indexOf('\n');
  return (i < 0 ? s : s.slice(0, i)).trim();
}
