/**
 * Patch bodies the fake API server accepts: JSON merge patch (RFC 7386), which it also uses for
 * `application/strategic-merge-patch+json` (lists are replaced, never merged by key — a known
 * difference), and JSON patch (RFC 6902) operations add, remove, replace and test.
 */

export class PatchError extends Error {}

type Json = unknown;

function isObject(v: Json): v is Record<string, Json> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

export function mergePatch(target: Json, patch: Json): Json {
  if (!isObject(patch)) return structuredClone(patch);
  const out: Record<string, Json> = isObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

interface Operation {
  op: string;
  path: string;
  value?: Json;
}

function pointer(path: string): string[] {
  if (path === '') return [];
  if (!path.startsWith('/')) throw new PatchError(`invalid JSON pointer ${path}`);
  return path
    .slice(1)
    .split('/')
    .map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
}

export function jsonPatch(target: Json, ops: Json): Json {
  if (!Array.isArray(ops)) throw new PatchError('JSON patch must be an array of operations');
  let doc = structuredClone(target);
  for (const raw of ops as Operation[]) {
    const tokens = pointer(raw.path);
    if (tokens.length === 0) {
      if (raw.op === 'test') continue;
      if (raw.op !== 'add' && raw.op !== 'replace')
        throw new PatchError(`cannot ${raw.op} the whole document`);
      doc = structuredClone(raw.value);
      continue;
    }
    const last = tokens[tokens.length - 1] as string;
    let parent: Json = doc;
    for (const t of tokens.slice(0, -1)) {
      parent = Array.isArray(parent) ? parent[Number(t)] : isObject(parent) ? parent[t] : undefined;
      if (parent === undefined) throw new PatchError(`path ${raw.path} does not exist`);
    }
    const container = parent as Record<string, Json> | Json[];
    switch (raw.op) {
      case 'add':
        if (Array.isArray(container)) {
          container.splice(last === '-' ? container.length : Number(last), 0, structuredClone(raw.value));
        } else container[last] = structuredClone(raw.value);
        break;
      case 'replace':
      case 'remove': {
        const exists = Array.isArray(container) ? Number(last) < container.length : last in container;
        if (!exists) throw new PatchError(`path ${raw.path} does not exist`);
        if (raw.op === 'replace') {
          if (Array.isArray(container)) container[Number(last)] = structuredClone(raw.value);
          else container[last] = structuredClone(raw.value);
        } else if (Array.isArray(container)) container.splice(Number(last), 1);
        else delete container[last];
        break;
      }
      case 'test': {
        const actual = Array.isArray(container) ? container[Number(last)] : container[last];
        if (JSON.stringify(actual) !== JSON.stringify(raw.value))
          throw new PatchError(`test failed at ${raw.path}`);
        break;
      }
      default:
        throw new PatchError(`JSON patch operation ${raw.op} is not supported by the fake API server`);
    }
  }
  return doc;
}
