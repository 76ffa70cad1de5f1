/** `RateLimitService` (irratelimit.py): the gRPC rate limit service and its descriptor domain. */
import type { Diagnostic } from '../contracts.ts';
import { millis } from './auth-service.ts';
import { diagnosticSink } from './diagnostic-sink.ts';
import { describeType, hasControlChars, isPlainObject, own } from './fields.ts';
import { parseServiceRef } from './service-ref.ts';
import type { SourceRef } from './types.ts';
import type { RateLimitServiceSpec } from './types-edge.ts';

/** Emissary's default descriptor domain. */
export const DEFAULT_RATE_LIMIT_DOMAIN = 'ambassador';

export function parseRateLimitService(
  spec: unknown,
  source: SourceRef,
  diagnostics: Diagnostic[],
): RateLimitServiceSpec | undefined {
  const sink = diagnosticSink(source, diagnostics);
  const { err, warn } = sink;
  if (!isPlainObject(spec)) {
    err('spec', `spec must be a map, got ${describeType(spec)}`);
    return undefined;
  }
  const service = own(spec, 'service');
  let target: RateLimitServiceSpec['target'] | undefined;
  if (typeof service !== 'string' || service === '' || hasControlChars(service))
    err('service', 'service is required');
  else {
    const parsed = parseServiceRef(service, source.namespace);
    if (parsed.ok) target = parsed.target;
    else err('service', `service "${service}": ${parsed.message}`);
  }
  let domain = DEFAULT_RATE_LIMIT_DOMAIN;
  const d = own(spec, 'domain');
  if (typeof d === 'string' && d !== '' && !hasControlChars(d)) domain = d;
  else if (d !== undefined && d !== null) err('domain', 'domain must be a non-empty string');
  const timeoutMs = millis(own(spec, 'timeout_ms'), 20, 'timeout_ms', err);
  const fmd = own(spec, 'failure_mode_deny');
  if (fmd !== undefined && fmd !== null && typeof fmd !== 'boolean')
    err('failure_mode_deny', 'failure_mode_deny must be a boolean');
  const pv = own(spec, 'protocol_version');
  if (pv !== undefined && pv !== null && pv !== 'v3')
    err('protocol_version', 'only protocol_version v3 is supported');
  const rex = own(own(spec, 'grpc'), 'use_resource_exhausted_code');
  if (own(spec, 'tls') !== undefined)
    warn('tls', 'tls to the rate limit service is not generated yet; ignored');
  const r = own(spec, 'resolver');
  if (sink.failed || !target || typeof service !== 'string') return undefined;
  return {
    source,
    service,
    target,
    domain,
    timeoutMs,
    failureModeDeny: fmd === true,
    useResourceExhaustedCode: rex === true,
    ...(typeof r === 'string' && r !== '' ? { resolver: r } : {}),
  };
}
