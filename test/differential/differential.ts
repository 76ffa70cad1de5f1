/**
 * One differential case: a generated configuration compiled by Emissary's own compiler and by
 * Attaché, every probe request evaluated against both route tables (route-evaluator.ts), and a
 * verdict: identical, different only where FEATURES.md documents a deliberate difference, or a
 * real difference (with the probes that show it).
 */
import { stringify } from 'yaml';
import { compile } from '../../services/compiler/compile.ts';
import { toTranslateFiles } from '../../services/compiler/translate-output.ts';
import type { SourceObject } from '../../shared/events/envelope.ts';
import type { GeneratedConfig } from './emissary-config-generator.ts';
import { compileWithEmissary } from './emissary-oracle.ts';
import {
  attacheTables,
  emissaryTables,
  evaluate,
  type Outcome,
  type ProbeRequest,
  sameOutcomes,
  thresholds,
} from './route-evaluator.ts';

export interface ProbeDiff {
  listener: string;
  request: ProbeRequest;
  emissary: Outcome[];
  attache: Outcome[];
}

export type Verdict =
  | { kind: 'identical'; probes: number }
  | { kind: 'documented'; probes: number; reasons: string[]; diffs: ProbeDiff[] }
  | { kind: 'different'; probes: number; diffs: ProbeDiff[] };

export function configYaml(cfg: GeneratedConfig): string {
  return cfg.objects.map((o) => `---\n${stringify(o)}`).join('');
}

/** Compiles configurations with Emissary's compiler (one Python process) and compares each. */
export async function compareConfigs(
  runScript: string,
  cfgs: readonly GeneratedConfig[],
): Promise<Verdict[]> {
  const econfs = await compileWithEmissary(runScript, cfgs.map(configYaml));
  return cfgs.map((cfg, i) => compareConfig(econfs[i]!, cfg));
}

/** Compares one configuration given Emissary's ADS output for it (`econf.json`). */
export function compareConfig(econf: Record<string, unknown>, cfg: GeneratedConfig): Verdict {
  const emissary = emissaryTables(econf);
  const result = compile(
    cfg.objects.map((object) => ({ cluster: 'local', object: object as unknown as SourceObject })),
    { group: 'default' },
  );
  const files = toTranslateFiles(result);
  const attache = attacheTables(
    JSON.parse(files['listeners.json']),
    JSON.parse(files['routes.json']),
    JSON.parse(files['clusters.json']),
  );
  const diffs: ProbeDiff[] = [];
  let probes = 0;
  const names = [...new Set([...emissary.listeners.keys(), ...attache.listeners.keys()])].sort();
  for (const listener of names) {
    const e = emissary.listeners.get(listener) ?? [];
    const a = attache.listeners.get(listener) ?? [];
    const cuts = [...thresholds(e), ...thresholds(a)];
    for (const authority of cfg.authorities) {
      for (const path of cfg.paths) {
        for (const headers of cfg.headerSets) {
          for (const xfp of [undefined, 'http', 'https']) {
            const request: ProbeRequest = {
              authority,
              path,
              headers: { ...headers, ...(xfp ? { 'x-forwarded-proto': xfp } : {}) },
            };
            probes++;
            const eo = evaluate(e, request, cuts, emissary.backends);
            const ao = evaluate(a, request, cuts, attache.backends);
            if (!sameOutcomes(eo, ao)) diffs.push({ listener, request, emissary: eo, attache: ao });
          }
        }
      }
    }
  }
  if (diffs.length === 0) return { kind: 'identical', probes };
  if (cfg.documented.length > 0) return { kind: 'documented', probes, reasons: cfg.documented, diffs };
  return { kind: 'different', probes, diffs };
}

/** A readable account of a verdict's first differing probes. */
export function describeDiffs(diffs: readonly ProbeDiff[], max = 3): string {
  return diffs
    .slice(0, max)
    .map(
      (d) =>
        `  ${d.listener} ${d.request.authority}${d.request.path} ${JSON.stringify(d.request.headers)}\n` +
        `    emissary: ${d.emissary.map((o) => `${o.share.toFixed(3)} ${o.key}`).join(' | ')}\n` +
        `    attache:  ${d.attache.map((o) => `${o.share.toFixed(3)} ${o.key}`).join(' | ')}`,
    )
    .join('\n');
}
