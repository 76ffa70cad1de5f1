/**
 * `Listener` (getambassador.io/v3alpha1; irlistener.py): port, protocol or protocolStack,
 * securityModel, statsPrefix, l7Depth and hostBinding. UDP (HTTP/3) is not supported and is
 * reported; `hostBinding.namespace.from: SELECTOR` is rejected, as Emissary does.
 */
import type { Diagnostic } from '../contracts.ts';
import { diagnosticSink } from './diagnostic-sink.ts';
import { describeType, hasControlChars, isPlainObject, isSafeInteger, own } from './fields.ts';
import { parseMatchLabels } from './host.ts';
import type { SourceRef } from './types.ts';
import type { ListenerSpec, StackElement } from './types-edge.ts';

/** Emissary's named protocols and the stacks they stand for. */
export const PROTOCOL_STACKS: Readonly<Record<string, readonly StackElement[]>> = {
  HTTP: ['HTTP', 'TCP'],
  HTTPS: ['TLS', 'HTTP', 'TCP'],
  HTTPPROXY: ['PROXY', 'HTTP', 'TCP'],
  HTTPSPROXY: ['TLS', 'PROXY', 'HTTP', 'TCP'],
  TCP: ['TCP'],
  TLS: ['TLS', 'TCP'],
};

const ELEMENTS: readonly StackElement[] = ['HTTP', 'TLS', 'PROXY', 'TCP'];
const MODELS = ['XFP', 'SECURE', 'INSECURE'] as const;

/** Emissary's default stat prefix for a stack. */
export function defaultStatsPrefix(stack: readonly StackElement[], port: number): string {
  const tls = stack.includes('TLS');
  if (stack.includes('HTTP')) return tls ? 'ingress_https' : 'ingress_http';
  return tls ? `ingress_tls_${port}` : `ingress_tcp_${port}`;
}

export function parseListener(
  spec: unknown,
  source: SourceRef,
  diagnostics: Diagnostic[],
): ListenerSpec | undefined {
  const sink = diagnosticSink(source, diagnostics);
  const { err, warn } = sink;
  if (!isPlainObject(spec)) {
    err('spec', `spec must be a map, got ${describeType(spec)}`);
    return undefined;
  }

  const port = own(spec, 'port');
  if (!isSafeInteger(port) || port < 1 || port > 65535)
    err('port', 'port is required: an integer from 1 to 65535');

  let stack: StackElement[] | undefined;
  const protocol = own(spec, 'protocol');
  const protocolStack = own(spec, 'protocolStack');
  if (protocolStack !== undefined && protocolStack !== null) {
    if (protocol !== undefined && protocol !== null) {
      warn('protocol', 'protocol and protocolStack may not both be given; protocolStack is used');
    }
    if (!Array.isArray(protocolStack) || protocolStack.length === 0) {
      err('protocolStack', 'protocolStack must be a non-empty list');
    } else if (protocolStack.includes('UDP')) {
      err('protocolStack', 'UDP listeners (HTTP/3) are not supported');
    } else if (!protocolStack.every((p) => (ELEMENTS as readonly unknown[]).includes(p))) {
      err('protocolStack', `protocolStack elements must be among ${ELEMENTS.join(', ')}`);
    } else if (protocolStack[protocolStack.length - 1] !== 'TCP') {
      err('protocolStack', 'TCP must be the last element of protocolStack');
    } else stack = protocolStack as StackElement[];
  } else if (typeof protocol === 'string' && PROTOCOL_STACKS[protocol]) {
    stack = [...PROTOCOL_STACKS[protocol]!];
  } else if (protocol === 'UDP') {
    err('protocol', 'UDP listeners are not supported');
  } else {
    err(
      'protocol',
      `one of protocol (${Object.keys(PROTOCOL_STACKS).join(', ')}) or protocolStack is required`,
    );
  }

  const model = own(spec, 'securityModel');
  if (typeof model !== 'string' || !(MODELS as readonly string[]).includes(model)) {
    err('securityModel', `securityModel is required: one of ${MODELS.join(', ')}`);
  }

  let l7Depth = 0;
  const depth = own(spec, 'l7Depth');
  if (isSafeInteger(depth) && depth >= 0 && depth <= 0xffffffff) l7Depth = depth;
  else if (depth !== undefined && depth !== null) err('l7Depth', 'l7Depth must be a non-negative integer');

  let statsPrefix: string | undefined;
  const sp = own(spec, 'statsPrefix');
  if (typeof sp === 'string' && sp !== '' && !hasControlChars(sp)) statsPrefix = sp;
  else if (sp !== undefined && sp !== null && sp !== '')
    err('statsPrefix', `statsPrefix must be a string, got ${describeType(sp)}`);

  let namespaceFrom: ListenerSpec['namespaceFrom'] = 'SELF';
  let hostSelector: Record<string, string> | undefined;
  const binding = own(spec, 'hostBinding');
  if (!isPlainObject(binding)) {
    err('hostBinding', 'hostBinding is required (namespace.from and/or selector)');
  } else {
    const ns = own(binding, 'namespace');
    const selector = own(binding, 'selector');
    if ((ns === undefined || ns === null) && (selector === undefined || selector === null)) {
      err('hostBinding', 'hostBinding must have at least one of namespace or selector');
    }
    if (ns !== undefined && ns !== null) {
      const from = own(ns, 'from');
      const upper = typeof from === 'string' ? from.toUpperCase() : undefined;
      if (upper === 'ALL' || upper === 'SELF') namespaceFrom = upper;
      else if (upper === 'SELECTOR')
        err('hostBinding.namespace.from', 'from: SELECTOR is not supported (as in Emissary)');
      else err('hostBinding.namespace.from', 'hostBinding.namespace.from must be SELF or ALL');
    }
    const labels = parseMatchLabels(selector, 'hostBinding.selector', err, warn);
    if (labels) hostSelector = labels;
  }

  if (own(spec, 'http2MaxConcurrentStreams') !== undefined) {
    warn('http2MaxConcurrentStreams', 'http2MaxConcurrentStreams is not generated yet');
  }
  if (sink.failed || !stack || !isSafeInteger(port)) return undefined;
  return {
    source,
    name: source.name,
    port,
    address: '0.0.0.0',
    stack,
    securityModel: model as ListenerSpec['securityModel'],
    statsPrefix: statsPrefix ?? defaultStatsPrefix(stack, port),
    l7Depth,
    namespaceFrom,
    ...(hostSelector ? { hostSelector } : {}),
  };
}
