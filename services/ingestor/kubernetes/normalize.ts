/**
 * From an object as the API server returns it to the object an event carries: apiVersion and kind
 * set (list items of built-in kinds come without them), managedFields and the
 * `kubectl.kubernetes.io/last-applied-configuration` annotation dropped (bulky, and a copy of the
 * object itself). Everything else is kept as observed.
 */
import type { SourceObject } from '../../../shared/events/envelope.ts';
import { contentHash } from '../shared/canonical.ts';
import { apiVersionOf, groupOf, type WatchedKind } from './kinds.ts';
import type { KubeObject } from './kube-http.ts';

export const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

export function normalizeKubeObject(obj: KubeObject, kind: WatchedKind, version: string): SourceObject {
  const { managedFields: _m, ...metadata } = obj.metadata;
  if (metadata.annotations && LAST_APPLIED in metadata.annotations) {
    const { [LAST_APPLIED]: _l, ...rest } = metadata.annotations;
    if (Object.keys(rest).length > 0) metadata.annotations = rest;
    else delete metadata.annotations;
  }
  return {
    ...obj,
    apiVersion: obj.apiVersion ?? apiVersionOf(kind.group, version),
    kind: obj.kind ?? kind.apiKind,
    metadata,
  } as SourceObject;
}

/**
 * Kinds whose `.status` Attaché itself writes (or that no compiler pass reads): a change of status
 * alone is not republished, so status write-back never turns into events.
 */
function statusIgnored(obj: SourceObject): boolean {
  const group = groupOf(obj.apiVersion);
  return group === 'getambassador.io' || group === 'x.getambassador.io' || obj.kind === 'Ingress';
}

/**
 * Hash of what a change is judged by: the object without metadata.resourceVersion (and without
 * status where it is ignored). Equal hashes mean nothing worth an event changed.
 */
export function changeHash(obj: SourceObject): string {
  const { resourceVersion: _rv, ...metadata } = obj.metadata;
  const { status: _s, ...rest } = obj;
  return contentHash(statusIgnored(obj) ? { ...rest, metadata } : { ...obj, metadata });
}
