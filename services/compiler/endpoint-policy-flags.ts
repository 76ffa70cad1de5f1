/**
 * `--local-cluster` and `--remote-endpoints` → the endpoint policy of each group.
 *
 * `--local-cluster` is repeatable; each value is `NAME` (local for every group) or `GROUP=NAME`
 * (local for that group only). A group's local clusters are the union of both forms. No local
 * cluster means every source cluster is equally local (one priority), whatever the mode.
 */
import { ConfigError } from '../../shared/runtime/errors.ts';
import type { RemoteEndpointsMode } from './contracts.ts';
import { type EndpointPolicy, REMOTE_ENDPOINTS_MODES } from './ir/endpoint-policy.ts';

export function endpointPolicyFromFlags(
  localClusterFlags: readonly string[],
  remoteEndpoints: string | undefined,
): (group: string) => EndpointPolicy {
  const mode = (remoteEndpoints ?? 'prefer-local') as RemoteEndpointsMode;
  if (!REMOTE_ENDPOINTS_MODES.includes(mode)) {
    throw new ConfigError(
      `--remote-endpoints must be one of ${REMOTE_ENDPOINTS_MODES.join(', ')}, got ${JSON.stringify(remoteEndpoints)}`,
    );
  }
  const everyGroup: string[] = [];
  const byGroup = new Map<string, string[]>();
  for (const value of localClusterFlags) {
    const eq = value.indexOf('=');
    const group = eq >= 0 ? value.slice(0, eq) : undefined;
    const cluster = eq >= 0 ? value.slice(eq + 1) : value;
    if (cluster === '' || group === '') {
      throw new ConfigError(`--local-cluster takes NAME or GROUP=NAME, got ${JSON.stringify(value)}`);
    }
    if (group === undefined) everyGroup.push(cluster);
    else byGroup.set(group, [...(byGroup.get(group) ?? []), cluster]);
  }
  return (group) => ({
    localClusters: [...new Set([...everyGroup, ...(byGroup.get(group) ?? [])])].sort(),
    remoteEndpoints: mode,
  });
}
