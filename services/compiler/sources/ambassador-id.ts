/**
 * `ambassador_id` filtering (emissary.md §6). A resource belongs to a group when its
 * `spec.ambassador_id` (a string or a list of strings) contains the group, or is exactly
 * `['_automatic_']`. Absent or empty means `['default']`.
 */

/** Outcome of reading `ambassador_id`: whether the object belongs to the group, or why it is invalid. */
export type AmbassadorIdResult = { ok: true; matches: boolean } | { ok: false; message: string };

export function matchAmbassadorId(value: unknown, group: string): AmbassadorIdResult {
  let ids: string[];
  if (value === undefined || value === null) ids = [];
  else if (typeof value === 'string') ids = [value];
  else if (Array.isArray(value) && value.every((v): v is string => typeof v === 'string')) ids = value;
  else return { ok: false, message: 'ambassador_id must be a string or a list of strings' };
  if (ids.length === 0) ids = ['default'];
  if (ids.length === 1 && ids[0] === '_automatic_') return { ok: true, matches: true };
  return { ok: true, matches: ids.includes(group) };
}
