/**
 * Checks on the generated Envoy output, read back from the encoded bytes exactly as they will be
 * sent. A failure means the compiler produced something clients would reject or misroute: a
 * system error, so the caller publishes nothing and the last good snapshot keeps serving.
 *
 * Per resource: it decodes, its inner name matches, names are unique per type, and it satisfies
 * the protoc-gen-validate rules of Envoy's protos (validate/pgv-validate.ts). Across resources:
 * the references and client constraints of validate/consistency.ts (listeners → route
 * configurations → clusters → ClusterLoadAssignments and secrets; redirects and direct responses
 * only on socket listeners; TCP proxy listeners; contiguous EDS priorities).
 */
import { decodeResource } from '../../shared/xds/encoding.ts';
import { ENDPOINT_TYPE } from '../../shared/xds/type-urls.ts';
import type { CompiledResource } from './compile.ts';
import { checkConsistency } from './validate/consistency.ts';
import { formatPgvProblem, type PgvStats, validateResourceBytes } from './validate/pgv-validate.ts';

type Json = Record<string, unknown>;

/**
 * protoc-gen-validate results by (content hash, name), across calls. The walk is a function of
 * the type URL and bytes (which the hash covers) and the name (which its messages quote), and it
 * is most of validation's cost; a compiler recompiles mostly unchanged output, so an unchanged
 * resource is not walked again. Bounded: past the limit, entries the latest call did not see go.
 * Not used when `pgvStats` is asked for (the stats count a walk).
 */
const pgvChecked = new Map<string, string[]>();
const PGV_CACHE_LIMIT = 200_000;

/**
 * Returns every problem found; an empty list means the output is consistent. `pgvStats`, when
 * given, accumulates what the structural validator visited and could not check.
 */
export function validateOutput(resources: readonly CompiledResource[], pgvStats?: PgvStats): string[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  const byType = new Map<string, Map<string, Json>>();
  for (const r of resources) {
    let names = byType.get(r.typeUrl);
    if (!names) {
      names = new Map();
      byType.set(r.typeUrl, names);
    }
    if (names.has(r.name)) problems.push(`duplicate ${r.typeUrl} name ${r.name}`);
    let decoded: Json;
    try {
      decoded = decodeResource(r.typeUrl, r.bytes);
    } catch (err) {
      problems.push(
        `${r.typeUrl} ${r.name} does not decode: ${err instanceof Error ? err.message : String(err)}`,
      );
      continue;
    }
    const inner = r.typeUrl === ENDPOINT_TYPE ? decoded.cluster_name : decoded.name;
    if (inner !== r.name) problems.push(`${r.typeUrl} ${r.name} carries the name ${String(inner)}`);
    names.set(r.name, decoded);
    const key = `${r.hash}\0${r.name}`;
    let found = pgvStats ? undefined : pgvChecked.get(key);
    if (!found) {
      found = validateResourceBytes(r.typeUrl, r.name, r.bytes, pgvStats).map(formatPgvProblem);
      if (!pgvStats) pgvChecked.set(key, found);
    }
    seen.add(key);
    problems.push(...found);
  }
  if (pgvChecked.size > PGV_CACHE_LIMIT) {
    for (const key of pgvChecked.keys()) if (!seen.has(key)) pgvChecked.delete(key);
  }
  problems.push(...checkConsistency(byType));
  return problems;
}
