/**
 * `Host` (emissary.md §1.1): hostname, Mapping selector, TLS (tlsSecret / tlsContext / tls) and
 * request policy. An invalid Host is skipped as a whole; ACME and preview URLs are Edge Stack
 * features and are ignored, as Emissary OSS does.
 */
import type { Diagnostic } from '../contracts.ts';
import { diagnosticSink } from './diagnostic-sink.ts';
import { describeType, hasControlChars, isPlainObject, isSafeInteger, own } from './fields.ts';
import { type ErrorSink, parseTlsSettings, secretRef } from './tls-context.ts';
import type { SourceRef } from './types.ts';
import type { HostSpec, InsecureAction, SecretRef } from './types-edge.ts';

const ACTIONS: readonly InsecureAction[] = ['Route', 'Redirect', 'Reject'];

/** A hostname or a glob with one `*` at its start or end (or `*` alone). */
export function isHostGlob(h: string): boolean {
  if (h === '' || hasControlChars(h) || /\s/.test(h)) return false;
  if (h === '*') return true;
  const inner = h.slice(1, -1);
  return !inner.includes('*') && !(h.startsWith('*') && h.endsWith('*'));
}

/** `matchLabels` of a label selector; undefined when absent, `false` when malformed. */
export function parseMatchLabels(
  value: unknown,
  field: string,
  err: ErrorSink,
  warn: ErrorSink,
): Record<string, string> | undefined | false {
  // An empty map is "no selector" in Emissary (Python falsiness); `{matchLabels: {}}` selects every Mapping.
  if (!isTruthySelector(value)) return undefined;
  if (!isPlainObject(value)) {
    err(field, `${field} must be a label selector map, got ${describeType(value)}`);
    return false;
  }
  if (own(value, 'matchExpressions') !== undefined) {
    warn(
      `${field}.matchExpressions`,
      'matchExpressions is not supported (as in Emissary); only matchLabels is used',
    );
  }
  const labels = own(value, 'matchLabels');
  if (labels === undefined || labels === null) return {};
  if (!isPlainObject(labels) || !Object.values(labels).every((v) => typeof v === 'string')) {
    err(`${field}.matchLabels`, 'matchLabels must be a map of label name to string value');
    return false;
  }
  return { ...(labels as Record<string, string>) };
}

function isTruthySelector(value: unknown): boolean {
  return value !== undefined && value !== null && !(isPlainObject(value) && Object.keys(value).length === 0);
}

export function parseHost(
  spec: unknown,
  labels: Record<string, string>,
  source: SourceRef,
  diagnostics: Diagnostic[],
): HostSpec | undefined {
  const sink = diagnosticSink(source, diagnostics);
  const { err, warn } = sink;
  if (spec === undefined || spec === null) spec = {};
  if (!isPlainObject(spec)) {
    err('spec', `spec must be a map, got ${describeType(spec)}`);
    return undefined;
  }

  let hostname = '*';
  const h = own(spec, 'hostname');
  if (typeof h === 'string' && isHostGlob(h)) hostname = h.toLowerCase();
  else if (h !== undefined && h !== null && h !== '') {
    err(
      'hostname',
      `hostname must be a DNS name or a glob with one leading or trailing "*", got ${JSON.stringify(h)}`,
    );
  }

  // irhost.py: `selector` is read when `mappingSelector` is falsy (absent, null or `{}`).
  const selectorField = isTruthySelector(own(spec, 'mappingSelector')) ? 'mappingSelector' : 'selector';
  const mappingSelector = parseMatchLabels(own(spec, selectorField), selectorField, err, warn);

  let tlsSecret: SecretRef | undefined;
  const ts = own(spec, 'tlsSecret');
  if (ts !== undefined && ts !== null) {
    const name = own(ts, 'name');
    const ns = own(ts, 'namespace');
    if (typeof name !== 'string' || name === '' || hasControlChars(name)) {
      err('tlsSecret.name', 'tlsSecret.name must be a Secret name');
    } else if (ns !== undefined && ns !== null && (typeof ns !== 'string' || ns === '')) {
      err('tlsSecret.namespace', 'tlsSecret.namespace must be a namespace name');
    } else {
      tlsSecret =
        typeof ns === 'string'
          ? { name, namespace: ns, referrerNamespace: source.namespace }
          : secretRef(name, source.namespace, true);
    }
  }

  let tlsContextName: string | undefined;
  const tc = own(spec, 'tlsContext');
  if (tc !== undefined && tc !== null) {
    const name = own(tc, 'name');
    if (typeof name !== 'string' || name === '')
      err('tlsContext.name', 'tlsContext.name must be a TLSContext name');
    else tlsContextName = name;
  }

  const tlsValue = own(spec, 'tls');
  let tls: HostSpec['tls'];
  if (tlsValue !== undefined && tlsValue !== null) {
    if (!isPlainObject(tlsValue)) err('tls', `tls must be a map, got ${describeType(tlsValue)}`);
    else {
      const prefixed = (f: string) => `tls.${f}`;
      tls = parseTlsSettings(
        tlsValue,
        source.namespace,
        true,
        (f, m) => err(prefixed(f), m),
        (f, m) => warn(prefixed(f), m),
      );
    }
  }
  if (tlsContextName && tls) err('tls', 'tls and tlsContext are mutually exclusive');
  if (!tlsSecret && (tlsContextName || tls)) {
    warn(
      tlsContextName ? 'tlsContext' : 'tls',
      'TLS settings are ignored without tlsSecret (as in Emissary): this Host serves cleartext only',
    );
  }

  let insecureAction: InsecureAction = 'Redirect';
  let insecureAdditionalPort: number | undefined;
  const insecure = own(own(spec, 'requestPolicy'), 'insecure');
  if (insecure !== undefined && insecure !== null) {
    const action = own(insecure, 'action');
    if (typeof action === 'string' && (ACTIONS as readonly string[]).includes(action)) {
      insecureAction = action as InsecureAction;
    } else if (action !== undefined && action !== null) {
      err(
        'requestPolicy.insecure.action',
        `action must be one of ${ACTIONS.join(', ')}, got ${JSON.stringify(action)}`,
      );
    }
    const port = own(insecure, 'additionalPort');
    if (isSafeInteger(port) && port >= 1 && port <= 65535) insecureAdditionalPort = port;
    else if (isSafeInteger(port) && port <= 0)
      insecureAdditionalPort = undefined; // Emissary: disabled
    else if (port !== undefined && port !== null) {
      err('requestPolicy.insecure.additionalPort', 'additionalPort must be a port number from 1 to 65535');
    }
  }

  if (sink.failed || mappingSelector === false) return undefined;
  return {
    source,
    hostname,
    labels,
    ...(mappingSelector ? { mappingSelector } : {}),
    ...(tlsSecret ? { tlsSecret } : {}),
    ...(tlsContextName ? { tlsContextName } : {}),
    ...(tls ? { tls } : {}),
    insecureAction,
    ...(insecureAdditionalPort !== undefined ? { insecureAdditionalPort } : {}),
  };
}
