/**
 * How the simulated fleet authenticates to the fan-out: one bearer token for group `default`
 * (the group every simulated Envoy is in), as a real fleet would. The benchmark runs on loopback
 * only, so a fixed token is enough; the fan-out is given it in a tokens file.
 */
import fs from 'node:fs';
import path from 'node:path';

const FLEET_TOKEN = 'attache-fleet-benchmark-token';

/** Writes the fan-out's tokens file into `dir`; returns the `--tokens-file` flags. */
export function fleetTokenArgs(dir: string): string[] {
  const file = path.join(dir, 'xds-tokens');
  fs.writeFileSync(file, `default ${FLEET_TOKEN}\n`, { mode: 0o600 });
  return ['--tokens-file', file];
}

/** The header every simulated Envoy opens its stream with. */
export function fleetAuthHeaders(): Record<string, string> {
  return { authorization: `Bearer ${FLEET_TOKEN}` };
}
