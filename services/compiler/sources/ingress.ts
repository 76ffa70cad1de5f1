/**
 * Kubernetes Ingress (emissary.md §7; fetch/ingress.py): an Ingress of class `ambassador`
 * (annotation `kubernetes.io/ingress.class`, or `spec.ingressClassName` naming an IngressClass
 * whose controller is `getambassador.io/ingress-controller`) whose ambassador-id annotation
 * matches becomes Emissary objects: one Host per TLS host, one Mapping per rule path, one for the
 * default backend. The objects are then parsed like any other (sources/parse-sources.ts).
 */
import type { SourceObject } from '../../../shared/events/envelope.ts';
import type { Diagnostic } from '../contracts.ts';
import { matchAmbassadorId } from './ambassador-id.ts';
import { isPlainObject, isSafeInteger, own } from './fields.ts';
import type { SourceRef } from './types.ts';

export const INGRESS_CONTROLLER = 'getambassador.io/ingress-controller';
export const AMBASSADOR_ID_ANNOTATION = 'getambassador.io/ambassador-id';
export const INGRESS_VERSIONS = ['networking.k8s.io/v1', 'networking.k8s.io/v1beta1', 'extensions/v1beta1'];

/** What an Ingress needs from the rest of the records. */
export interface IngressContext {
  group: string;
  /** Names of accepted IngressClasses in the Ingress's source cluster. */
  classes: ReadonlySet<string>;
  /** The number of a Service's named port, looked up in the Ingress's source cluster. */
  namedPort(namespace: string, service: string, port: string): number | undefined;
}

/** Whether a non-CRD object (Ingress, IngressClass) belongs to `group` by its annotation. */
export function annotationMatchesGroup(obj: unknown, group: string): boolean {
  const id = own(own(own(obj, 'metadata'), 'annotations'), AMBASSADOR_ID_ANNOTATION);
  const r = matchAmbassadorId(typeof id === 'string' ? id.split(',').map((s) => s.trim()) : undefined, group);
  return r.ok && r.matches;
}

/** Whether an IngressClass is one of ours. */
export function isAmbassadorIngressClass(obj: unknown, group: string): boolean {
  return own(own(obj, 'spec'), 'controller') === INGRESS_CONTROLLER && annotationMatchesGroup(obj, group);
}

interface Backend {
  service: string;
  port: number | string;
}

/** The Emissary objects an Ingress stands for; empty when it is not ours. */
export function ingressObjects(
  obj: Record<string, unknown>,
  source: SourceRef,
  ctx: IngressContext,
  diagnostics: Diagnostic[],
): SourceObject[] {
  const meta = own(obj, 'metadata');
  const annotations = own(meta, 'annotations');
  const spec = own(obj, 'spec');
  const className = own(spec, 'ingressClassName');
  const annotated =
    String(own(annotations, 'kubernetes.io/ingress.class') ?? '').toLowerCase() === 'ambassador';
  if (!annotated && !(typeof className === 'string' && ctx.classes.has(className))) return [];
  if (!annotationMatchesGroup(obj, ctx.group)) return [];

  const labelsValue = own(meta, 'labels');
  const labels: Record<string, string> = isPlainObject(labelsValue)
    ? { ...(labelsValue as Record<string, string>) }
    : {};
  const ns = source.namespace;
  const name = source.name;
  const error = (field: string, message: string) =>
    diagnostics.push({ severity: 'error', source, field, message });
  const out: SourceObject[] = [];
  const object = (
    kind: string,
    objName: string,
    objLabels: Record<string, string>,
    objSpec: object,
  ): SourceObject => ({
    apiVersion: 'getambassador.io/v3alpha1',
    kind,
    metadata: { name: objName, namespace: ns, labels: objLabels },
    spec: objSpec,
  });

  let ingressId: string | undefined;
  const tls = own(spec, 'tls');
  if (Array.isArray(tls)) {
    tls.forEach((entry, i) => {
      ingressId = `a10r-ingress-${name}-${ns}`;
      const secretName = own(entry, 'secretName');
      if (typeof secretName !== 'string' || secretName === '') return;
      const hostsValue = own(entry, 'hosts');
      const hosts = Array.isArray(hostsValue) ? hostsValue : ['*'];
      hosts.forEach((host, j) => {
        if (typeof host !== 'string') {
          error(`spec.tls[${i}].hosts[${j}]`, 'host must be a string');
          return;
        }
        out.push(
          object('Host', `${name}-${i}-${j}`, labels, {
            hostname: host,
            tlsSecret: { name: secretName },
            mappingSelector: { matchLabels: { 'a10r-k8s-ingress': ingressId } },
            requestPolicy: { insecure: { action: 'Route' } },
          }),
        );
      });
    });
  }
  const mappingLabels = ingressId ? { ...labels, 'a10r-k8s-ingress': ingressId } : labels;
  const serviceOf = (b: Backend, field: string): string | undefined => {
    let port = b.port;
    if (typeof port === 'string' && !/^[0-9]+$/.test(port)) {
      const resolved = ctx.namedPort(ns, b.service, port);
      if (resolved === undefined) {
        error(field, `Service ${ns}/${b.service} has no port named "${port}"; path ignored`);
        return undefined;
      }
      port = resolved;
    }
    return `${b.service}.${ns}:${port}`;
  };

  const defaultBackend = backendOf(own(spec, 'defaultBackend') ?? own(spec, 'backend'));
  if (defaultBackend) {
    const service = serviceOf(defaultBackend, 'spec.defaultBackend');
    if (service)
      out.push(
        object('Mapping', `${name}-default-backend`, mappingLabels, { hostname: '*', prefix: '/', service }),
      );
  }

  const rules = own(spec, 'rules');
  if (Array.isArray(rules)) {
    rules.forEach((rule, r) => {
      const host = own(rule, 'host');
      const paths = own(own(rule, 'http'), 'paths');
      if (!Array.isArray(paths)) return;
      paths.forEach((p, i) => {
        const backend = backendOf(own(p, 'backend'));
        const pathValue = own(p, 'path');
        const path = typeof pathValue === 'string' && pathValue !== '' ? pathValue : '/';
        if (!backend) return;
        const service = serviceOf(backend, `spec.rules[${r}].http.paths[${i}].backend`);
        if (!service) return;
        const exact = own(p, 'pathType') === 'Exact';
        const mappingSpec: Record<string, unknown> = { prefix: path, service };
        if (exact) Object.assign(mappingSpec, { prefix_exact: true, precedence: 1 });
        if (typeof host === 'string' && host !== '') mappingSpec.hostname = host;
        else if (!ingressId) mappingSpec.hostname = '*';
        out.push(object('Mapping', `${name}-${r}-${i}`, mappingLabels, mappingSpec));
      });
    });
  }
  return out;
}

/** A backend in either shape: v1 `service: {name, port: {number|name}}` or v1beta1 `serviceName/servicePort`. */
function backendOf(value: unknown): Backend | undefined {
  const svc = own(value, 'service');
  if (isPlainObject(svc)) {
    const name = own(svc, 'name');
    const port = own(svc, 'port');
    const number = own(port, 'number');
    const portName = own(port, 'name');
    if (typeof name !== 'string' || name === '') return undefined;
    if (isSafeInteger(number)) return { service: name, port: number };
    if (typeof portName === 'string' && portName !== '') return { service: name, port: portName };
    return undefined;
  }
  const name = own(value, 'serviceName');
  const port = own(value, 'servicePort');
  if (typeof name !== 'string' || name === '') return undefined;
  if (isSafeInteger(port) || (typeof port === 'string' && port !== '')) return { service: name, port };
  return undefined;
}
