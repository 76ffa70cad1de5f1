/**
 * Emissary cluster names (emissary.md §2.2): `cluster_[marker_]<service as written>[_otls][_<ctx>]
 * [_hr-<host>]_<namespace>[_<breakers>][_er-<lb>]` with every non-alphanumeric turned into `_`; names over 60 characters become
 * `name[:40]-<SHA1(name)[:16] uppercase>-<n>`, n counting names that share the shortened form.
 * Distinct clusters whose names would coincide after sanitising get a hash suffix so they stay apart.
 */
import { createHash } from 'node:crypto';

const MAX_NAME = 60;

/** What goes into an Emissary cluster name besides the service and namespace (`IRCluster.__init__`). */
export interface ClusterNameParts {
  /** `shadow` for a shadow Mapping's cluster, else the Mapping's `cluster_tag`. */
  marker?: string;
  /** The service string as written. */
  service: string;
  /** TLS is originated (`otls`). */
  originateTls: boolean;
  /** TLSContext name, added only when TLS comes from `tls` without an `https://` scheme. */
  contextName?: string;
  /** `host_rewrite`, added (as `hr-<host>`) only when TLS is originated. */
  hostRewrite?: string;
  /** Mapping namespace. */
  namespace: string;
  /** Circuit-breaker markers (`cbdc100`, …). */
  breakers: readonly string[];
  /** Endpoint-routing marker from the load balancer (`er-ring_hash-hdr-x-user`, …). */
  lbMarker?: string;
}

/** The unshortened Emissary name for a cluster. */
export function baseClusterName(p: ClusterNameParts): string {
  const fields = [
    'cluster',
    ...(p.marker ? [p.marker] : []),
    p.service,
    ...(p.originateTls ? ['otls'] : []),
    ...(p.contextName ? [p.contextName] : []),
    ...(p.originateTls && p.hostRewrite ? [`hr-${p.hostRewrite}`] : []),
    p.namespace,
    ...p.breakers,
    ...(p.lbMarker ? [p.lbMarker] : []),
  ];
  return fields.join('_').replace(/[^0-9A-Za-z_]/g, '_');
}

/**
 * Assigns final names to clusters given as (id → base name); ids are any unique, stable strings.
 * The result depends only on the set of inputs, never on their order.
 */
export function assignClusterNames(bases: ReadonlyMap<string, string>): Map<string, string> {
  const byBase = new Map<string, string[]>();
  for (const [id, base] of bases) byBase.set(base, [...(byBase.get(base) ?? []), id]);
  const unique = new Map<string, string>();
  for (const [base, ids] of byBase) {
    ids.sort();
    ids.forEach((id, i) => {
      unique.set(id, i === 0 ? base : `${base}_${sha1(id).slice(0, 8)}`);
    });
  }

  const out = new Map<string, string>();
  const shortened = new Map<string, { id: string; name: string }[]>();
  for (const [id, name] of unique) {
    if (name.length <= MAX_NAME) {
      out.set(id, name);
      continue;
    }
    const short = `${name.slice(0, 40)}-${sha1(name).slice(0, 16).toUpperCase()}`;
    shortened.set(short, [...(shortened.get(short) ?? []), { id, name }]);
  }
  for (const [short, list] of shortened) {
    list.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    list.forEach(({ id }, i) => {
      out.set(id, `${short}-${i}`);
    });
  }
  return out;
}

function sha1(s: string): string {
  return createHash('sha1').update(s).digest('hex');
}
