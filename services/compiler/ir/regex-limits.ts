/**
 * Envoy's RE2 program-size limit applied per Mapping: every regex a Mapping contributes is
 * compiled by Envoy with the group's `max_program_size` (Module `regex_max_size`), and one regex
 * over it NACKs the whole RouteConfiguration. A Mapping with such a regex is dropped here, before
 * grouping, so only it is affected (sources/re2.ts explains the bound).
 */
import type { Diagnostic } from '../contracts.ts';
import { re2ProgramSizeAtLeast } from '../sources/re2.ts';
import type { MappingSpec } from '../sources/types.ts';

/** Every regex of a Mapping with the field it was written in. */
export function mappingRegexes(m: MappingSpec): { field: string; pattern: string }[] {
  const out: { field: string; pattern: string }[] = [];
  if (m.pathMatch === 'regex') out.push({ field: 'prefix', pattern: m.prefix });
  for (const h of m.headers)
    if (h.regex && typeof h.value === 'string') out.push({ field: headerField(h.name), pattern: h.value });
  for (const q of m.queryParameters)
    if (q.regex && typeof q.value === 'string')
      out.push({ field: `regex_query_parameters.${q.name}`, pattern: q.value });
  if (m.hostRegex) out.push({ field: 'hostname', pattern: m.hostname });
  if (m.regexRewrite) out.push({ field: 'regex_rewrite.pattern', pattern: m.regexRewrite.pattern });
  if (m.hostRedirect?.regex)
    out.push({ field: 'regex_redirect.pattern', pattern: m.hostRedirect.regex.pattern });
  return out;
}

function headerField(name: string): string {
  if (name === ':method') return 'method';
  if (name === ':authority') return 'hostname';
  return `regex_headers.${name}`;
}

/** Mappings whose regexes fit `maxProgramSize`; the others become error diagnostics. */
export function withinRegexLimits(
  mappings: readonly MappingSpec[],
  maxProgramSize: number,
  diagnostics: Diagnostic[],
): MappingSpec[] {
  return mappings.filter((m) => {
    for (const { field, pattern } of mappingRegexes(m)) {
      const size = re2ProgramSizeAtLeast(pattern);
      if (size <= maxProgramSize) continue;
      diagnostics.push({
        severity: 'error',
        source: m.source,
        field,
        message:
          `the regex compiles to an RE2 program of at least ${size} instructions, over the ` +
          `max_program_size of ${maxProgramSize} (Module regex_max_size) that Envoy enforces; the Mapping is not routed`,
      });
      return false;
    }
    return true;
  });
}
