/**
 * Mapping groups (emissary.md §2.1, `IRHTTPMappingGroup.add_mapping`). Mappings with the same group
 * key share a group; the first Mapping fixes the CoreMappingKeys, and a later Mapping that sets one
 * of them to a different value is rejected with an error naming the field. A group has at most one
 * shadow, and host_redirect Mappings cannot be mixed with forwarding ones.
 */
import type { Diagnostic } from '../contracts.ts';
import type { MappingSpec } from '../sources/types.ts';
import type { AmbassadorModule } from '../sources/types-module.ts';
import { groupKey } from './route-order.ts';

/** One group's members after Emissary's admission rules. */
export interface MappingGroup {
  key: string;
  /** Forwarding Mappings in insertion order. */
  mappings: MappingSpec[];
  /** The group's shadow Mapping, if any. */
  shadow?: MappingSpec;
  /** The group's host_redirect Mapping, if any (then `mappings` is empty). */
  redirect?: MappingSpec;
}

/**
 * The CoreMappingKeys a Mapping sets, by Emissary field name (only keys the Mapping has; the
 * Module's circuit_breakers count as set, as Emissary fills them in before grouping).
 */
function coreKeys(m: MappingSpec, module: AmbassadorModule): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const put = (k: string, v: unknown): void => {
    if (v !== undefined) out[k] = v;
  };
  put('bypass_auth', m.bypassAuth);
  put('circuit_breakers', m.circuitBreakers ?? module.circuitBreakers);
  put('connect_timeout_ms', m.connectTimeoutMs);
  put('cluster_idle_timeout_ms', m.clusterIdleTimeoutMs);
  put('cluster_max_connection_lifetime_ms', m.clusterMaxConnectionLifetimeMs);
  put('keepalive', m.keepalive);
  put('labels', m.labels);
  put('load_balancer', m.loadBalancer);
  put('prefix_regex', m.pathFlags.prefix_regex);
  put('prefix_exact', m.pathFlags.prefix_exact);
  return out;
}

/**
 * Groups Mappings in the given order, which becomes each group's member order (Emissary's: by
 * resource key `name.namespace`; it decides the weight remainder and last-wins merges).
 */
export function groupMappings(
  mappings: readonly MappingSpec[],
  module: AmbassadorModule,
  diagnostics: Diagnostic[],
  keyOf: (m: MappingSpec) => string = groupKey,
): MappingGroup[] {
  const groups = new Map<string, MappingGroup & { core: Record<string, unknown>; firstName: string }>();
  for (const m of mappings) {
    const key = keyOf(m);
    const core = coreKeys(m, module);
    let g = groups.get(key);
    if (!g) {
      g = { key, mappings: [], core, firstName: m.source.name };
      groups.set(key, g);
    } else {
      const mismatches = Object.keys(core).filter(
        (k) => JSON.stringify(core[k]) !== JSON.stringify(g!.core[k]),
      );
      if (mismatches.length > 0) {
        diagnostics.push({
          severity: 'error',
          source: m.source,
          field: mismatches[0]!,
          message:
            `cannot accept new mapping ${m.source.name} with mismatched ` +
            mismatches
              .map(
                (k) =>
                  `${k}: ${JSON.stringify(core[k])} != ${k in g!.core ? JSON.stringify(g!.core[k]) : '-unset-'}`,
              )
              .join(', ') +
            `. Please verify field is set with the same value in all related mappings (group started by ${g.firstName})`,
        });
        continue;
      }
    }
    admit(g, m, diagnostics);
  }
  return [...groups.values()].map(({ core: _c, firstName: _f, ...g }) => g);
}

function admit(g: MappingGroup, m: MappingSpec, diagnostics: Diagnostic[]): void {
  const reject = (field: string, message: string): void => {
    diagnostics.push({ severity: 'error', source: m.source, field, message });
  };
  if (m.shadow) {
    if (g.shadow)
      reject('shadow', `cannot accept ${m.source.name} as second shadow after ${g.shadow.source.name}`);
    else g.shadow = m;
  } else if (m.hostRedirect) {
    if (g.redirect)
      reject(
        'host_redirect',
        `cannot accept ${m.source.name} as second host_redirect after ${g.redirect.source.name}`,
      );
    else if (g.mappings.length > 0)
      reject(
        'host_redirect',
        `cannot accept ${m.source.name} with host_redirect after mappings without host_redirect (eg ${g.mappings[0]!.source.name})`,
      );
    else g.redirect = m;
  } else if (g.redirect) {
    reject(
      'host_redirect',
      `cannot accept ${m.source.name} without host_redirect after ${g.redirect.source.name} with host_redirect`,
    );
  } else g.mappings.push(m);
}
