/**
 * `TCPMapping` (irtcpmapping.py): a port, an optional SNI `host`, and an upstream `service` with an
 * optional `weight`. TLS origination (`tls`) and the Envoy knobs Emissary copies verbatim
 * (circuit breakers, IPv4/6 switches) are reported as not generated.
 */
import type { Diagnostic } from '../contracts.ts';
import { diagnosticSink } from './diagnostic-sink.ts';
import { describeType, hasControlChars, isPlainObject, isSafeInteger, own } from './fields.ts';
import { isHostGlob } from './host.ts';
import { parseServiceRef } from './service-ref.ts';
import type { SourceRef } from './types.ts';
import type { TcpMappingSpec } from './types-edge.ts';

const NOT_GENERATED = ['tls', 'circuit_breakers', 'enable_ipv4', 'enable_ipv6', 'cluster_tag', 'stats_name'];

export function parseTcpMapping(
  spec: unknown,
  source: SourceRef,
  diagnostics: Diagnostic[],
): TcpMappingSpec | undefined {
  const sink = diagnosticSink(source, diagnostics);
  const { err, warn } = sink;
  if (!isPlainObject(spec)) {
    err('spec', `spec must be a map, got ${describeType(spec)}`);
    return undefined;
  }
  const port = own(spec, 'port');
  if (!isSafeInteger(port) || port < 1 || port > 65535)
    err('port', 'port is required: an integer from 1 to 65535');

  const service = own(spec, 'service');
  let target: TcpMappingSpec['target'] | undefined;
  if (typeof service !== 'string' || service === '' || hasControlChars(service))
    err('service', 'service is required');
  else {
    const parsed = parseServiceRef(service, source.namespace);
    if (parsed.ok) target = parsed.target;
    else err('service', `service "${service}": ${parsed.message}`);
  }

  let host: string | undefined;
  const h = own(spec, 'host');
  if (typeof h === 'string' && isHostGlob(h) && h !== '*') host = h.toLowerCase();
  else if (h !== undefined && h !== null) err('host', 'host must be a DNS name (matched against TLS SNI)');

  let address = '0.0.0.0';
  const a = own(spec, 'address');
  if (typeof a === 'string' && /^[0-9a-fA-F.:]+$/.test(a)) address = a;
  else if (a !== undefined && a !== null) err('address', 'address must be an IP address to bind to');

  let weight: number | undefined;
  const w = own(spec, 'weight');
  if (isSafeInteger(w) && w >= 0 && w <= 100) weight = w;
  else if (w !== undefined && w !== null) err('weight', 'weight must be an integer from 0 to 100');

  let resolver: string | undefined;
  const r = own(spec, 'resolver');
  if (typeof r === 'string' && r !== '') resolver = r;
  else if (r !== undefined && r !== null)
    err('resolver', `resolver must be a resolver name, got ${describeType(r)}`);

  let idleTimeoutMs: number | undefined;
  const idle = own(spec, 'idle_timeout_ms');
  if (isSafeInteger(idle) && idle >= 0) idleTimeoutMs = idle;
  else if (idle !== undefined && idle !== null)
    err('idle_timeout_ms', 'idle_timeout_ms must be a non-negative integer');

  for (const key of NOT_GENERATED) {
    if (own(spec, key) !== undefined && own(spec, key) !== null)
      warn(key, `${key} is not generated for TCPMappings yet; ignored`);
  }
  if (sink.failed || !target || !isSafeInteger(port) || typeof service !== 'string') return undefined;
  return {
    source,
    port,
    ...(host ? { host } : {}),
    address,
    service,
    target,
    ...(weight !== undefined ? { weight } : {}),
    ...(resolver ? { resolver } : {}),
    ...(idleTimeoutMs !== undefined ? { idleTimeoutMs } : {}),
  };
}
