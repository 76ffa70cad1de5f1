/**
 * What Host `mappingSelector`s contribute to Mapping groups (emissary.md §1.1, §2.1):
 *
 * - a Mapping without an exact host (host-less, or `host_regex`) adds to its group identity the
 *   matchLabels of every Host whose mappingSelector selects it (irhttpmapping.py `_group_id`,
 *   emissary#4170), so host-less Mappings selected by different Hosts never share a group;
 * - a group's labels, which Host mappingSelectors are matched against, are the union of its
 *   forwarding Mappings' labels in member order, later Mappings winning
 *   (irhttpmappinggroup.py `finalize`; shadow and host_redirect Mappings contribute none).
 *
 * Selection is Emissary's strict `selector_matches`: every matchLabels entry must be present with
 * the same value (an empty matchLabels selects everything). Emissary gives a Host without
 * mappingSelector no default selector.
 */
import type { MappingSpec } from '../sources/types.ts';
import { type HostSpec, mappingKey } from '../sources/types-edge.ts';
import { labelsMatch } from './host-match.ts';

/** `metadata.labels` of a Mapping (empty when it has none). */
export function mappingLabels(
  m: MappingSpec,
  labels: ReadonlyMap<string, Record<string, string>>,
): Record<string, string> {
  return labels.get(mappingKey(m.source)) ?? {};
}

/** The group-identity contribution of Host selectors for one Mapping ('' when none applies). */
export function hostSelectorLabels(
  m: MappingSpec,
  hosts: readonly HostSpec[],
  labels: ReadonlyMap<string, Record<string, string>>,
): string {
  if (!m.hostless && !m.hostRegex) return '';
  const own = mappingLabels(m, labels);
  const parts: [string, string][] = [];
  for (const h of hosts) {
    if (!h.mappingSelector || !labelsMatch(h.mappingSelector, own)) continue;
    parts.push(...Object.entries(h.mappingSelector));
  }
  return parts.length === 0 ? '' : JSON.stringify(parts);
}

/** A group's labels: the union of its members' labels, later members winning. */
export function groupLabels(
  members: readonly MappingSpec[],
  labels: ReadonlyMap<string, Record<string, string>>,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of members) Object.assign(out, mappingLabels(m, labels));
  return out;
}
