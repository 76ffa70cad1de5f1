/**
 * Annotation configuration (emissary.md §6; pkg/snapshot/v1/annotations.go): the
 * `getambassador.io/config` annotation of a Service or Ingress holds multi-document YAML, each
 * document one Emissary object. Top-level `name`, `namespace`, `generation` and `metadata_labels`
 * become metadata and every other key the spec; `ambassador/vN` means `getambassador.io/vN`; the
 * namespace and labels default to the parent's. The objects are then parsed like any other.
 */
import type { parseAllDocuments } from 'yaml';
import type { SourceObject } from '../../../shared/events/envelope.ts';
import { yamlLib } from '../../../shared/runtime/yaml-lib.ts';
import type { Diagnostic } from '../contracts.ts';
import { isPlainObject, own } from './fields.ts';
import type { SourceRef } from './types.ts';

export const CONFIG_ANNOTATION = 'getambassador.io/config';
const FIELD = `metadata.annotations.${CONFIG_ANNOTATION}`;
const META_KEYS = new Set(['apiVersion', 'kind', 'name', 'namespace', 'generation', 'metadata_labels']);

/** The objects in a Service's or Ingress's config annotation (none when it has no annotation). */
export function annotationObjects(
  obj: unknown,
  parent: SourceRef,
  diagnostics: Diagnostic[],
): SourceObject[] {
  const meta = own(obj, 'metadata');
  const text = own(own(meta, 'annotations'), CONFIG_ANNOTATION);
  if (text === undefined || text === null) return [];
  const error = (message: string) =>
    diagnostics.push({ severity: 'error', source: parent, field: FIELD, message });
  if (typeof text !== 'string') {
    error('the annotation must be a string of YAML');
    return [];
  }
  const parentLabels = own(meta, 'labels');
  const out: SourceObject[] = [];
  let docs: ReturnType<typeof parseAllDocuments>;
  try {
    docs = yamlLib().parseAllDocuments(text);
  } catch {
    error(
      `${parent.kind} ${parent.namespace}/${parent.name}: annotation ${CONFIG_ANNOTATION} is not valid YAML; ignored`,
    );
    return [];
  }
  if (!Array.isArray(docs)) docs = [];
  docs.forEach((doc, i) => {
    const where = `${parent.kind} ${parent.namespace}/${parent.name}: annotation ${CONFIG_ANNOTATION} document ${i}`;
    if (doc.errors.length > 0) {
      error(`${where} is not valid YAML (${doc.errors[0]!.message.split('\n')[0]}); ignored`);
      return;
    }
    const value: unknown = doc.toJS();
    if (value === null || value === undefined) return;
    if (!isPlainObject(value)) {
      error(`${where} must be a map; ignored`);
      return;
    }
    const apiVersion = own(value, 'apiVersion');
    const kind = own(value, 'kind');
    const name = own(value, 'name');
    if (
      typeof apiVersion !== 'string' ||
      typeof kind !== 'string' ||
      typeof name !== 'string' ||
      name === ''
    ) {
      error(`${where} needs apiVersion, kind and name; ignored`);
      return;
    }
    const namespace = own(value, 'namespace');
    const labels = own(value, 'metadata_labels') ?? parentLabels;
    const spec: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) if (!META_KEYS.has(k)) spec[k] = v;
    out.push({
      apiVersion: apiVersion.replace(/^ambassador\//, 'getambassador.io/'),
      kind,
      metadata: {
        name,
        namespace: typeof namespace === 'string' && namespace !== '' ? namespace : parent.namespace,
        ...(isPlainObject(labels) ? { labels: labels as Record<string, string> } : {}),
      },
      spec,
    });
  });
  return out;
}
