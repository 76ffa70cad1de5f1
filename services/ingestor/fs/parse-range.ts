/**
 * Parses one document range of a YAML file (document-ranges.ts) into source objects. Pure: no
 * I/O, never throws. The range is read by the fast loader (fast-yaml.ts) when it can answer
 * exactly as the `yaml` library would, else by `yaml` itself; every error message and line comes
 * from `yaml`. A document that is not valid YAML, or not a well-formed object, becomes an error.
 */
import type { parseAllDocuments } from 'yaml';
import type { SourceObject } from '../../../shared/events/envelope.ts';
import { errorMessage } from '../../../shared/runtime/errors.ts';
import { yamlLib } from '../../../shared/runtime/yaml-lib.ts';
import { firstContentLine, loadFast } from './fast-yaml.ts';
import { normalizeObject } from './normalize-object.ts';

/**
 * One document range parsed, relative to the range: `index` counts documents from the range's
 * first, `line` is 0-based from the range's first line. Holds no file name and no absolute
 * position, so a range moved by an edit elsewhere in its file is reused as it is.
 */
export interface ParsedRange {
  /** Documents in the range, empty ones included (one, none before a file's first marker, more after `...`). */
  count: number;
  documents: { index: number; line: number; object: SourceObject }[];
  errors: { index: number; line: number; kind?: string; name?: string; message: string }[];
}

/**
 * Parses one range's text. `whole` marks a file parsed as a single range (it has directives):
 * then only `yaml` reads it, as directives require.
 */
export function parseRange(text: string, whole = false): ParsedRange {
  if (!whole) {
    const fast = loadFast(text);
    if (fast) {
      if (fast.count === 0 || fast.value === null || fast.value === undefined)
        return { count: fast.count, documents: [], errors: [] };
      return withObject({ count: 1, documents: [], errors: [] }, 0, firstContentLine(text), fast.value);
    }
  }
  return parseWithYaml(text);
}

function parseWithYaml(text: string): ParsedRange {
  const out: ParsedRange = { count: 0, documents: [], errors: [] };
  const yaml = yamlLib();
  const lines = new yaml.LineCounter();
  let docs: ReturnType<typeof parseAllDocuments>;
  try {
    // Merge keys (`<<`) as Kubernetes' YAML decoder accepts them; duplicate keys are an error.
    docs = yaml.parseAllDocuments(text, {
      lineCounter: lines,
      prettyErrors: false,
      merge: true,
      uniqueKeys: true,
    });
  } catch (err) {
    out.count = 1;
    out.errors.push({ index: 0, line: 0, message: `invalid YAML: ${errorMessage(err)}` });
    return out;
  }
  const lineOf = (offset: number) => lines.linePos(offset).line - 1;
  out.count = docs.length;
  docs.forEach((doc, index) => {
    const start = doc.contents?.range?.[0] ?? doc.range?.[0] ?? 0;
    const first = doc.errors[0];
    if (first) {
      const more = doc.errors.length > 1 ? ` (and ${doc.errors.length - 1} more)` : '';
      out.errors.push({
        index,
        line: lineOf(first.pos[0]),
        message: `invalid YAML: ${firstLine(first.message)}${more}`,
      });
      return;
    }
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: 100 });
    } catch (err) {
      out.errors.push({ index, line: lineOf(start), message: `invalid YAML: ${errorMessage(err)}` });
      return;
    }
    if (value === null || value === undefined) return;
    withObject(out, index, lineOf(start), value);
  });
  return out;
}

function withObject(out: ParsedRange, index: number, line: number, value: unknown): ParsedRange {
  const result = normalizeObject(value);
  if (result.ok) out.documents.push({ index, line, object: result.object });
  else
    out.errors.push({
      index,
      line,
      ...(result.kind ? { kind: result.kind } : {}),
      ...(result.name ? { name: result.name } : {}),
      message: result.message,
    });
  return out;
}

function firstLine(s: string): string {
  const i = s.indexOf('\n');
  return (i < 0 ? s : s.slice(0, i)).trim();
}
