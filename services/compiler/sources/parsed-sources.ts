/** What parseSources returns for one group: the validated objects of every kind and their problems. */
import type { Diagnostic } from '../contracts.ts';
import type { KubeEndpoints, KubeService, MappingSpec } from './types.ts';
import type { EdgeSources } from './types-edge.ts';
import type { AmbassadorModule } from './types-module.ts';

/** Everything parsed from the records for one group. */
export interface ParsedSources {
  /** Valid Mappings of this group. */
  mappings: MappingSpec[];
  /** Every Service, any namespace. */
  services: KubeService[];
  /** Every EndpointSlice and Endpoints object. */
  endpoints: KubeEndpoints[];
  /** Every `ambassador` Module of this group (normally one), sorted by source identity. */
  modules: AmbassadorModule[];
  /** Hosts, Listeners, TLS, TCPMappings, auth/rate-limit services, resolvers, Secrets (ir/types-edge.ts). */
  edge: EdgeSources;
  /** Problems found while parsing (invalid objects are skipped). */
  diagnostics: Diagnostic[];
}
