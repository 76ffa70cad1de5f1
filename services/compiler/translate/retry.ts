/**
 * Retry policy (`IRRetryPolicy`). Envoy gets the tokens as written. grpc-js honours only the gRPC
 * status tokens (grpc-js-xds.md §4) and needs num_retries ≥ 1, so API-listener routes keep just
 * those tokens and drop the policy when none remain.
 */
import type { RetryPolicy as EnvoyRetryPolicy } from '../../../proto/gen/envoy/config/route/v3/RetryPolicy.ts';
import type { RetryPolicy } from '../ir/types.ts';
import { duration } from './common.ts';

const GRPC_TOKENS = new Set([
  'cancelled',
  'deadline-exceeded',
  'internal',
  'resource-exhausted',
  'unavailable',
]);

export function retryPolicy(p: RetryPolicy, forGrpcClient: boolean): EnvoyRetryPolicy | undefined {
  let retryOn = p.retryOn;
  if (forGrpcClient) {
    retryOn = p.retryOn
      .split(',')
      .filter((t) => GRPC_TOKENS.has(t))
      .join(',');
    if (retryOn === '' || p.numRetries === 0) return undefined;
  }
  return {
    retry_on: retryOn,
    ...(p.numRetries !== undefined ? { num_retries: { value: p.numRetries } } : {}),
    ...(p.perTryTimeoutMs !== undefined && !forGrpcClient
      ? { per_try_timeout: duration(p.perTryTimeoutMs) }
      : {}),
  };
}
