/**
 * Emissary cluster names (emissary.md §2.2): `cluster_<service as written>[_otls]_<namespace>` with
 * every non-alphanumeric turned into `_`; names over 60 characters become
 * `name[:40]-<SHA1(name)[:16] uppercase>-<n>`, n counting names that share the shortened form.
 * Distinct clusters whose names would coincide after sanitising get a hash suffix so they stay apart.
 */
import { createHash } from 'node:crypto';

const MAX_NAME = 60;

/** The unshortened Emissary name for a cluster of `service` (as written) used from `namespace`. */
export function baseClusterName(service: string, originateTls: boolean, namespace: string): string {
  const fields = ['cluster', service, ...(originateTls ? ['otls'] : []), namespace];
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
