/**
 * Label and field selectors, the subset the fake API server understands: equality (`a=b`, `a==b`),
 * inequality (`a!=b`), existence (`a`, `!a`), comma-separated conjunctions. Set-based label
 * requirements (`in`, `notin`) and field selectors other than metadata.name / metadata.namespace
 * are rejected with 400, never silently ignored.
 */

export interface StoredObject {
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; [k: string]: unknown };
  [k: string]: unknown;
}

export type Selector = (obj: StoredObject) => boolean;

export class SelectorError extends Error {}

const ALL: Selector = () => true;

export function parseLabelSelector(text: string | null): Selector {
  if (!text) return ALL;
  const terms = text
    .split(',')
    .map((t) => t.trim())
    .filter((t) => t !== '');
  const tests = terms.map((term): Selector => {
    if (/\s(in|notin)\s*\(/.test(term))
      throw new SelectorError(`set-based label selector not supported: ${term}`);
    const m = /^([^!=]+?)\s*(==|!=|=)\s*(.*)$/.exec(term);
    if (m) {
      const [, key = '', op, value = ''] = m;
      return (o) => {
        const v = o.metadata.labels?.[key];
        return op === '!=' ? v !== value : v === value;
      };
    }
    if (term.startsWith('!')) {
      const key = term.slice(1).trim();
      return (o) => o.metadata.labels?.[key] === undefined;
    }
    if (!/^[A-Za-z0-9./_-]+$/.test(term)) throw new SelectorError(`invalid label selector term: ${term}`);
    return (o) => o.metadata.labels?.[term] !== undefined;
  });
  return (o) => tests.every((t) => t(o));
}

export function parseFieldSelector(text: string | null): Selector {
  if (!text) return ALL;
  const terms = text
    .split(',')
    .map((t) => t.trim())
    .filter((t) => t !== '');
  const tests = terms.map((term): Selector => {
    const m = /^([^!=]+?)\s*(==|!=|=)\s*(.*)$/.exec(term);
    if (!m) throw new SelectorError(`invalid field selector term: ${term}`);
    const [, field, op, value = ''] = m;
    let get: (o: StoredObject) => string;
    if (field === 'metadata.name') get = (o) => o.metadata.name;
    else if (field === 'metadata.namespace') get = (o) => o.metadata.namespace ?? '';
    else throw new SelectorError(`field selector not supported by the fake API server: ${field}`);
    return (o) => (op === '!=' ? get(o) !== value : get(o) === value);
  });
  return (o) => tests.every((t) => t(o));
}
