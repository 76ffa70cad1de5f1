/**
 * Field-level differences between two JSON values: one entry per changed leaf path
 * (`virtual_hosts[0].routes[2].route.cluster`). Arrays are compared by position, objects by key.
 */
export interface FieldChange {
  path: string;
  /** Absent when the field was added. */
  before?: unknown;
  /** Absent when the field was removed. */
  after?: unknown;
}

export function diffJson(before: unknown, after: unknown, path = ''): FieldChange[] {
  if (isObject(before) && isObject(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
    return keys.flatMap((k) => {
      const p = path ? `${path}.${k}` : k;
      if (!(k in after)) return [{ path: p, before: before[k] }];
      if (!(k in before)) return [{ path: p, after: after[k] }];
      return diffJson(before[k], after[k], p);
    });
  }
  if (Array.isArray(before) && Array.isArray(after)) {
    const out: FieldChange[] = [];
    for (let i = 0; i < Math.max(before.length, after.length); i++) {
      const p = `${path}[${i}]`;
      if (i >= after.length) out.push({ path: p, before: before[i] });
      else if (i >= before.length) out.push({ path: p, after: after[i] });
      else out.push(...diffJson(before[i], after[i], p));
    }
    return out;
  }
  return JSON.stringify(before) === JSON.stringify(after) ? [] : [{ path: path || '.', before, after }];
}

/** One line per change: `path: before → after`. */
export function formatChanges(changes: readonly FieldChange[], indent = '    '): string[] {
  return changes.map((c) => {
    if (!('before' in c)) return `${indent}+ ${c.path}: ${short(c.after)}`;
    if (!('after' in c)) return `${indent}- ${c.path}: ${short(c.before)}`;
    return `${indent}~ ${c.path}: ${short(c.before)} → ${short(c.after)}`;
  });
}

function short(v: unknown): string {
  const s = JSON.stringify(v) ?? 'undefined';
  return s.length > 120 ? `${s.slice(0, 117)}...` : s;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}
