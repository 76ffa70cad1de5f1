/**
 * The compiler's pure core: source objects → Envoy resources for one group.
 *
 *   records ─ parseSources ─► validated objects of every kind, per group   (sources/)
 *           ─ buildIR ──────► Mapping groups, routes, clusters, endpoints  (ir/build-ir.ts)
 *           ─ buildEdge ────► Listeners, Hosts, TLS, TCP, auth, rate limit  (ir/build-edge.ts)
 *           ─ endpoint policy ► local/remote cluster priorities            (ir/endpoint-policy.ts)
 *           ─ translate ────► Envoy messages, one translator per feature   (translate/)
 *           ─ encode ───────► canonical bytes + content hashes, sorted     (encode.ts)
 *           ─ validate ─────► consistency + protoc-gen-validate rules      (validate-output.ts, validate/)
 *           ─ provenance ───► source objects behind every resource and route (provenance.ts; side output)
 *
 * No I/O, no clock, inputs never mutated; the same records (in any order) always give
 * byte-identical output. User errors become diagnostics naming the object and field, and only
 * that object is skipped. InvalidOutputError means the generated output is inconsistent (a
 * compiler bug): the caller publishes nothing. The types it shares with its passes and callers
 * live in contracts.ts.
 */
import { InvalidOutputError } from '../../shared/runtime/errors.ts';
import type { Provenance } from '../../shared/snapshot/provenance.ts';
import type { CompileOptions, CompileResult, SourceRecord } from './contracts.ts';
import { compareDiagnostics } from './diagnostic-order.ts';
import { EncodeCache, encodeResources } from './encode.ts';
import { buildEdge, edgeLookups } from './ir/build-edge.ts';
import { buildIR } from './ir/build-ir.ts';
import { applyEndpointPolicy } from './ir/endpoint-policy.ts';
import type { CompileState } from './mapping-fast-path.ts';
import { buildProvenance } from './provenance.ts';
import { type SizeRejection, safeId, sizeRejections } from './size-limits.ts';
import { ParseCache, parseSources } from './sources/parse-sources.ts';
import type { RouteLayout } from './translate/listener.ts';
import { translate } from './translate/translate.ts';
import { validateOutput } from './validate-output.ts';

/** Rounds of size-limit rejection before the output is declared unpublishable. */
const MAX_SIZE_ROUNDS = 8;

/**
 * What an incremental compiler (incremental.ts) keeps between compiles of one group: per-record
 * parse results and encodings by content. The output is the same with or without them.
 */
export interface CompileCaches {
  parse: ParseCache;
  encode: EncodeCache;
  /**
   * What the latest compile's passes produced (undefined when objects were left out for the size
   * limits): the base the Mapping fast path (mapping-fast-path.ts) patches.
   */
  state?: CompileState;
}

export function newCompileCaches(group: string): CompileCaches {
  return { parse: new ParseCache(group), encode: new EncodeCache() };
}

export function compile(
  records: readonly SourceRecord[],
  opts: CompileOptions,
  caches?: CompileCaches,
): CompileResult {
  const { provenance, ...result } = compileWithin(records, opts, caches);
  const out = { ...result, provenance: provenance() };
  if (caches?.state) caches.state.result = out;
  return out;
}

/**
 * {@link compile} without the provenance side output, for callers that do not publish it
 * (`attache translate`): it is then built only if the size limits need it.
 */
export function compileResources(
  records: readonly SourceRecord[],
  opts: CompileOptions,
): Omit<CompileResult, 'provenance'> {
  const { provenance: _unused, ...result } = compileWithin(records, opts, undefined);
  return result;
}

type LazyResult = Omit<CompileResult, 'provenance'> & { provenance: () => Provenance };

function compileWithin(
  records: readonly SourceRecord[],
  opts: CompileOptions,
  caches: CompileCaches | undefined,
): LazyResult {
  // Size limits (size-limits.ts): while the output is larger than clients accept, reject its
  // largest contributors and compile the rest again. Output under the limits takes one round.
  const rejected: SizeRejection[] = [];
  let input = records;
  if (caches) caches.state = undefined;
  for (let round = 0; ; round++) {
    const state: Partial<CompileState> | undefined = caches && round === 0 ? {} : undefined;
    const result = compileOnce(input, opts, caches, state);
    const more = sizeRejections(result.resources, result.provenance, input);
    if (more.length === 0) {
      if (rejected.length === 0) {
        if (caches && state) caches.state = state as CompileState;
        return result;
      }
      return {
        ...result,
        diagnostics: [...result.diagnostics, ...rejected.map((r) => r.diagnostic)].sort(compareDiagnostics),
        sizeRejected: true,
      };
    }
    if (round + 1 >= MAX_SIZE_ROUNDS) {
      throw new InvalidOutputError(
        `group ${opts.group}: the output stays over the xDS size limits after rejecting ${rejected.length + more.length} objects; nothing is published`,
      );
    }
    rejected.push(...more);
    const drop = new Set(more.map((r) => r.id));
    input = input.filter((r) => !drop.has(safeId(r) ?? ''));
  }
}

function compileOnce(
  records: readonly SourceRecord[],
  opts: CompileOptions,
  caches: CompileCaches | undefined,
  state?: Partial<CompileState>,
): LazyResult {
  const sources = parseSources(records, opts.group, caches?.parse);
  const access = { group: opts.group, namespaceGroups: opts.secretNamespaces ?? {} };
  const lookups = edgeLookups(sources, access);
  const { ir, diagnostics: irDiagnostics } = buildIR(sources, lookups);
  const edge = buildEdge(sources, ir, access, lookups);
  const policyIr = applyEndpointPolicy(edge.ir, opts);
  const layout: RouteLayout | undefined = state ? new Map() : undefined;
  const translated = translate(policyIr, edge.edge, layout);
  caches?.encode.rotate();
  const resources = encodeResources(translated.resources, caches?.encode);
  const problems = validateOutput(resources);
  if (problems.length > 0) {
    throw new InvalidOutputError(
      `group ${opts.group}: generated Envoy configuration is inconsistent (${problems.slice(0, 5).join('; ')}` +
        `${problems.length > 5 ? `; and ${problems.length - 5} more` : ''}); nothing is published`,
    );
  }
  const diagnostics = [
    ...sources.diagnostics,
    ...irDiagnostics,
    ...edge.diagnostics,
    ...translated.diagnostics,
  ].sort(compareDiagnostics);
  let built: Provenance | undefined;
  const provenance = (): Provenance => {
    built ??= buildProvenance(records, edge.ir, edge.edge, translated.resources);
    return built;
  };
  if (state) Object.assign(state, { records, sources, lookups, policyIr, edge, translated, layout });
  return { resources, diagnostics, provenance };
}
