/**
 * A raw ADS watcher that checks what a client is served never goes back. Tests publish
 * "generations": Mappings named `gen-<n>` (n = 1, 2, 3, …, each to its own service, so each adds a
 * cluster); the watcher subscribes to every cluster (CDS wildcard), ACKs each response and records
 * the generations present. A regression is a response whose newest generation is below one
 * already seen; a hole is a generation missing below the newest one in a response (a change
 * lost after being served).
 */
import { RawAdsClient, type ReceivedResponse } from '../../services/fanout/testing/raw-ads-client.ts';
import { CLUSTER_TYPE } from '../../shared/xds/type-urls.ts';

/** The YAML of generation `n`: a Mapping whose service (and so cluster) names the generation. */
export function generationMappingYaml(n: number, host: string): string {
  return `apiVersion: getambassador.io/v3alpha1
kind: Mapping
metadata: { name: gen-${n}, namespace: default }
spec:
  hostname: ${host}
  prefix: /gen-${n}/
  service: gen-${n}:8080
`;
}

export interface GenerationWatch {
  /** Newest generation served so far (0 before any). */
  readonly newest: number;
  /** Responses whose newest generation was below one seen before. */
  readonly regressions: string[];
  /** Responses missing a generation below their newest. */
  readonly holes: string[];
  /** Responses received. */
  readonly responses: number;
  /** Resolves with the time the first response holding generation `n` arrived. */
  waitFor(n: number, timeoutMs?: number): Promise<number>;
  close(): void;
}

/**
 * `floor`: the newest generation this client was served before (on another stream or fan-out
 * node); a first response below it counts as a regression, as it would for an Envoy that moved.
 */
export function watchGenerations(xdsPort: number, nodeId: string, floor = 0): GenerationWatch {
  const client = new RawAdsClient(xdsPort);
  const seenAt = new Map<number, number>();
  const regressions: string[] = [];
  const holes: string[] = [];
  let newest = floor;
  let responses = 0;
  let closed = false;
  client.send({ node: { id: nodeId, cluster: 'test' }, type_url: CLUSTER_TYPE, resource_names: [] });
  const record = (res: ReceivedResponse) => {
    responses++;
    const gens = new Set<number>();
    for (const name of res.names) {
      const m = /gen[-_](\d+)[-_]/.exec(name);
      if (m) gens.add(Number(m[1]));
    }
    const top = Math.max(0, ...gens);
    if (top < newest) regressions.push(`version ${res.version_info}: newest gen ${top} after ${newest}`);
    for (let g = 1; g < top; g++)
      if (!gens.has(g)) holes.push(`version ${res.version_info}: gen ${g} missing below ${top}`);
    newest = Math.max(newest, top);
    const now = Date.now();
    for (const g of gens) if (!seenAt.has(g)) seenAt.set(g, now);
  };
  const loop = (async () => {
    while (!closed) {
      let res: ReceivedResponse;
      try {
        res = await client.next(1000);
      } catch {
        if (client.ended) return;
        continue;
      }
      record(res);
      client.ack(res);
    }
  })();
  return {
    get newest() {
      return newest;
    },
    regressions,
    holes,
    get responses() {
      return responses;
    },
    async waitFor(n, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const at = seenAt.get(n);
        if (at !== undefined) return at;
        if (client.ended) throw new Error(`ADS stream ended: ${JSON.stringify(client.ended)}`);
        if (Date.now() > deadline) throw new Error(`generation ${n} not served within ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    close() {
      closed = true;
      client.close();
      void loop;
    },
  };
}
