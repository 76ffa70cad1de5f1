/**
 * The incremental compiler of one group: `compile()` with what the previous compiles of the same
 * group left behind, so a change recomputes what depends on it and reuses the rest.
 *
 * - Parse: each record's contribution to the group (its Mappings, Services, Hosts, …, diagnostics
 *   and labels) is kept per record object (sources/parse-sources.ts ParseCache); world state
 *   replaces the record object of every changed object and keeps the others, so only changed
 *   objects are parsed again. Cross-record steps (cross-cluster conflicts, Ingresses, which read
 *   every IngressClass and Service) run on every compile, so Host, Module, Service or Ingress
 *   changes are seen wherever they matter.
 * - Encode: every resource, route and virtual host is encoded once per content
 *   (encode.ts EncodeCache); an unchanged resource keeps its bytes and hash, and a changed route
 *   configuration is assembled from the bytes of its unchanged routes.
 *
 * - Groups: when every object that changed since the previous compile is outside this group
 *   (another group's `ambassador_id`: it parses to nothing here and takes part in no cross-cluster
 *   conflict, see ParseCache.outside), the previous result is the result, unrecompiled. Kinds that
 *   provenance reads whatever their group (Services, endpoint objects, Secrets, Ingresses) are
 *   never outside, nor is an object that shares a YAML position or an identity with one that
 *   stays, and nothing is skipped while the group has derived objects (annotations, Ingresses),
 *   whose provenance is found by position and name.
 *
 * The output is the one `compile()` gives for the same records, byte for byte, whatever was
 * compiled before: incremental.test.ts compares the two after every step of ≥ 1,000 random change
 * sequences. Not shared between groups (parse results depend on the group).
 */
import { type CompileCaches, compile, newCompileCaches } from './compile.ts';
import type { CompileOptions, CompileResult, SourceRecord } from './contracts.ts';
import { MappingFastPath } from './mapping-fast-path.ts';

/** Kinds provenance reads by kind, whatever their group (provenance.ts). */
const PROVENANCE_KINDS: ReadonlySet<string> = new Set([
  'Service',
  'Endpoints',
  'EndpointSlice',
  'Ingress',
  'Secret',
]);

/** Past this many changed objects, looking for a skip costs more than it is likely to save. */
const MAX_SKIP_CHANGES = 256;
/** Past this many changed objects, the Mapping fast path is not tried. */
const MAX_FAST_CHANGES = 1_000;

interface LastCompile {
  records: readonly SourceRecord[];
  opts: string;
  result: CompileResult;
  /** Whether the group's records derive objects (then nothing is skipped). */
  derived: boolean;
}

export class IncrementalCompiler {
  private readonly caches: CompileCaches;
  private last: LastCompile | undefined;
  /** Compiles skipped because every change was outside the group (tests and benchmarks). */
  skipped = 0;
  /** Compiles done by the Mapping fast path (mapping-fast-path.ts; tests and benchmarks). */
  fastPath = 0;
  /** Patches the latest compile when only Mappings changed inside their groups; reset by a full compile. */
  private fast: MappingFastPath | undefined;
  /**
   * When set, a full compile leaves the Mapping fast path's indexes to {@link prepare} (or to the
   * first change): a starting compiler commits first and builds them after.
   */
  prepareLater = false;

  constructor(readonly group: string) {
    this.caches = newCompileCaches(group);
  }

  /** `compile(records, opts)`; `opts.group` must be this compiler's group. */
  compile(records: readonly SourceRecord[], opts: CompileOptions): CompileResult {
    if (opts.group !== this.group) {
      throw new Error(`incremental compiler of group ${this.group} asked to compile group ${opts.group}`);
    }
    const key = JSON.stringify(opts);
    const last = this.last;
    this.last = undefined;
    // Same length and few changes (the usual update): the changed positions, found in one pass.
    const changed = last ? changedPositions(last.records, records) : undefined;
    if (last && last.opts === key && !last.derived && !last.result.sizeRejected) {
      const differ = changed?.flatMap((i) => [last.records[i] as SourceRecord, records[i] as SourceRecord]);
      if (this.onlyOutside(last.records, records, differ)) {
        this.skipped++;
        this.fast = undefined;
        this.last = { ...last, records };
        return last.result;
      }
    }
    const fast = last && last.opts === key ? this.fast : undefined;
    this.fast = undefined;
    if (fast && last) {
      fast.prepare();
      const result = changed ? fast.compile(records, changed) : null;
      if (result) {
        this.fastPath++;
        this.fast = fast;
        this.last = { records, opts: key, result, derived: last.derived };
        return result;
      }
    }
    const result = compile(records, opts, this.caches);
    const state = this.caches.state;
    if (state) {
      // Its indexes are built now, with the full compile, not by the first change after it
      // (unless prepareLater); a change always has them built before it is patched.
      this.fast = new MappingFastPath(state, this.caches.parse, this.caches.encode);
      if (!this.prepareLater) this.fast.prepare();
    }
    this.last = { records, opts: key, result, derived: this.caches.parse.derivesObjects(records) };
    return result;
  }

  /** Builds the Mapping fast path's indexes now, if a full compile left them for later. */
  prepare(): void {
    this.fast?.prepare();
  }

  /** Whether every record that differs between `before` and `after` is outside the group. */
  private onlyOutside(
    before: readonly SourceRecord[],
    after: readonly SourceRecord[],
    differ?: readonly SourceRecord[],
  ): boolean {
    if (before === after) return true;
    let changed: SourceRecord[];
    if (differ) changed = [...differ];
    else {
      const was = new Set(before);
      const is = new Set(after);
      if (was.size !== before.length || is.size !== after.length) return false;
      changed = [];
      for (const r of after) if (!was.has(r)) changed.push(r);
      for (const r of before) if (!is.has(r)) changed.push(r);
    }
    if (changed.length > MAX_SKIP_CHANGES) return false;
    for (const r of changed) {
      const kind = (r.object as { kind?: unknown } | undefined)?.kind;
      if (typeof kind === 'string' && PROVENANCE_KINDS.has(kind)) return false;
      if (!this.caches.parse.outside(r)) return false;
    }
    // Provenance finds an object by identity (namespace '' read as 'default') and by YAML
    // position: a changed object must share neither with one that stays.
    const positions = new Set<string>();
    const identities = new Set<string>();
    for (const r of changed) {
      if (r.origin) positions.add(positionOf(r));
      identities.add(identityOf(r));
    }
    const changedSet = new Set(changed);
    for (const r of after) {
      if (changedSet.has(r)) continue;
      if (r.origin && positions.has(positionOf(r))) return false;
      if (identities.has(identityOf(r))) return false;
    }
    return true;
  }

  /**
   * Records `result`, which the endpoint fast path (endpoint-fast-path.ts) built for `records` on
   * top of this compiler's latest output, as that output: the next compile then starts from it
   * (a Mapping change after an endpoint change is still patched, not compiled in full).
   */
  adopt(records: readonly SourceRecord[], opts: CompileOptions, result: CompileResult): void {
    const last = this.last;
    const key = JSON.stringify(opts);
    if (!last || last.opts !== key) {
      this.last = undefined;
      this.fast = undefined;
      return;
    }
    if (this.fast && !this.fast.adoptEndpoints(records, result)) this.fast = undefined;
    this.last = { ...last, records, result };
  }

  /** Sub-message encodings reused and made so far (tests and benchmarks). */
  get encodeStats(): { reused: number; encoded: number } {
    return { ...this.caches.encode.stats };
  }
}

/** Positions where `after` holds another record than `before` (same length, few changes), else undefined. */
function changedPositions(
  before: readonly SourceRecord[],
  after: readonly SourceRecord[],
): number[] | undefined {
  if (before.length !== after.length) return undefined;
  const out: number[] = [];
  for (let i = 0; i < after.length; i++) {
    if (before[i] === after[i]) continue;
    out.push(i);
    if (out.length > MAX_FAST_CHANGES) return undefined;
  }
  return out.length > 0 ? out : undefined;
}

function positionOf(r: SourceRecord): string {
  return `${r.cluster}\0${r.origin?.file}\0${r.origin?.document ?? 0}`;
}

function identityOf(r: SourceRecord): string {
  const o = r.object as { kind?: unknown; metadata?: { namespace?: unknown; name?: unknown } } | undefined;
  const ns = o?.metadata?.namespace;
  return JSON.stringify([
    r.cluster,
    o?.kind,
    typeof ns === 'string' && ns !== '' ? ns : 'default',
    o?.metadata?.name,
  ]);
}
