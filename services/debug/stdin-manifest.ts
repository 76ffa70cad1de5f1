/**
 * The proposed objects of `attache plan` given as a Kubernetes manifest on stdin, as
 * `kubectl diff -f -` takes one: YAML or JSON, several documents, and `kind: List` (what
 * `kubectl get -o yaml` prints) expanded into its items. Every object is normalized as the YAML
 * ingestor normalizes it (namespace defaulted, managedFields dropped), so the plan folds what
 * an ingestor would publish. Objects carry no file origin: they stand for objects applied to a
 * cluster. Problems name the document (and item) and what is wrong; nothing is partly planned.
 */
import { parseAllDocuments } from 'yaml';
import { normalizeObject } from '../ingestor/fs/normalize-object.ts';
import type { ProposedObject } from './plan.ts';

export function parseManifest(text: string): { proposed: ProposedObject[]; errors: string[] } {
  const proposed: ProposedObject[] = [];
  const errors: string[] = [];
  parseAllDocuments(text).forEach((doc, d) => {
    if (doc.errors.length > 0) {
      errors.push(`stdin document ${d}: ${doc.errors[0]?.message ?? 'not YAML'}`);
      return;
    }
    const value: unknown = doc.toJS();
    if (value === null || value === undefined) return;
    const isList =
      typeof value === 'object' && (value as { kind?: unknown }).kind === 'List' && 'items' in value;
    const items = isList ? (value as { items: unknown }).items : [value];
    if (!Array.isArray(items)) {
      errors.push(`stdin document ${d}: a List's items must be a sequence`);
      return;
    }
    items.forEach((item, i) => {
      const n = normalizeObject(item);
      if (n.ok) proposed.push({ object: n.object });
      else errors.push(`stdin document ${d}${isList ? ` item ${i}` : ''}: ${n.message}`);
    });
  });
  return { proposed, errors };
}
