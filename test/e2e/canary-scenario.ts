/**
 * The Argo-style canary scenario shared by the end-to-end tests: two echo backends behind
 * Services with EndpointSlices, a base Mapping and a `-canary` Mapping for one hostname, driven
 * through the YAML directory the ingestor watches.
 */
import assert from 'node:assert/strict';
import { eventually } from '../harness/eventually.ts';
import { endpointSliceYaml, serviceYaml } from '../harness/kube-yaml.ts';
import { writeAtomic } from '../harness/write-atomic.ts';

export { writeAtomic };

export const HOST = 'echo.e2e.test';

/** Services and EndpointSlices pointing at the two local backends (named port resolution). */
export function backendsYaml(stablePort: number, canaryPort: number): string {
  const svc = (name: string, port: number) =>
    `---\n${serviceYaml(name, { name: 'grpc', port: 50051 })}---\n${endpointSliceYaml({
      service: name,
      name: `${name}-abc12`,
      port: { name: 'grpc', port },
      addresses: ['127.0.0.1'],
      zone: 'zone-a',
    })}`;
  return svc('echo-stable', stablePort) + svc('echo-canary', canaryPort);
}

export function baseMappingYaml(): string {
  return `apiVersion: getambassador.io/v3alpha1
kind: Mapping
metadata: { name: echo, namespace: default }
spec:
  hostname: ${HOST}
  prefix: /
  service: echo-stable:50051
  timeout_ms: 5000
`;
}

/**
 * `n` Mappings on another hostname to the stable backend, so a compile and a recommit have real
 * work to do; with `otherGroup`, every other one belongs to that group (`ambassador_id`).
 */
export function fillerYaml(n: number, otherGroup?: string): string {
  const docs: string[] = [];
  for (let i = 0; i < n; i++) {
    const group = otherGroup && i % 2 ? `, ambassador_id: [${otherGroup}]` : '';
    docs.push(`apiVersion: getambassador.io/v3alpha1
kind: Mapping
metadata: { name: filler-${i}, namespace: default }
spec: { hostname: filler.e2e.test, prefix: /f${i}/, service: echo-stable:50051${group} }
`);
  }
  return docs.join('---\n');
}

/** The canary copy Argo Rollouts creates: same spec, service swapped, a weight, no labels. */
export function canaryMappingYaml(weight: number): string {
  return `apiVersion: getambassador.io/v2
kind: Mapping
metadata: { name: echo-canary, namespace: default }
spec:
  hostname: ${HOST}
  prefix: /
  service: echo-canary:50051
  timeout_ms: 5000
  weight: ${weight}
`;
}

export interface EchoCounter {
  countBackends(n: number): Promise<Map<string, number>>;
}

/** Four standard deviations of a binomial count: the acceptance band for a random split. */
export function fourSigma(n: number, p: number): number {
  return 4 * Math.sqrt(n * p * (1 - p));
}

/** Waits until `n` consecutive RPCs all land on `backend` (traffic has fully moved). */
export async function waitAllOn(client: EchoCounter, backend: string, timeoutMs = 30_000): Promise<void> {
  await eventually(
    async () => {
      const counts = await client.countBackends(20);
      assert.deepEqual([...counts.entries()], [[backend, 20]]);
    },
    { timeoutMs, intervalMs: 200 },
  );
}
