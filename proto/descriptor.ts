/**
 * The Envoy proto root as a JSON descriptor, so a process does not parse the `.proto` text at
 * start (≈0.25 s). `proto/generate-types.ts` writes it at install time from the same files the
 * runtime would parse; `envoyRoot()` loads it when it matches ENVOY_PROTO_FILES.
 *
 * protobufjs's own `toJSON()` flattens field options to `"(validate.rules).string.min_len": 1`
 * and drops message-valued ones (`duration: { gt: {} }`), while the protoc-gen-validate walker
 * reads `parsedOptions`; so the descriptor carries every object's `parsedOptions` beside the
 * protobufjs JSON, keyed by full name, and restores them after loading.
 */
import protobuf from 'protobufjs';

/** The descriptor file's shape. */
export interface EnvoyDescriptor {
  /** ENVOY_PROTO_FILES at generation time: a different list means the descriptor is stale. */
  files: string[];
  root: protobuf.INamespace;
  /** Full name (with leading dot) → that reflection object's parsedOptions. */
  parsedOptions: Record<string, unknown[]>;
}

/** File name of the descriptor, next to the generated types (proto/gen/) and in dist/gen/. */
export const DESCRIPTOR_FILE = 'envoy-root.json';

export function toDescriptor(root: protobuf.Root, files: readonly string[]): EnvoyDescriptor {
  const parsedOptions: Record<string, unknown[]> = {};
  const visit = (obj: protobuf.ReflectionObject): void => {
    const opts = parsedOptionsOf(obj);
    if (opts && opts.length > 0) parsedOptions[obj.fullName] = opts;
    if (obj instanceof protobuf.Type) {
      for (const f of obj.fieldsArray) visit(f);
      for (const o of obj.oneofsArray) visit(o);
    }
    if (obj instanceof protobuf.Namespace) for (const n of obj.nestedArray) visit(n);
  };
  visit(root);
  const json = root.toJSON();
  qualifyFieldTypes(root, json);
  return { files: [...files], root: json, parsedOptions };
}

/**
 * Rewrites every message or enum field type in `json` to its fully qualified name (".pkg.Type").
 * protobufjs resolves a relative name by walking up the scopes and, at each, searching every
 * nested namespace depth-first; a qualified name is one table lookup. Loading the descriptor took
 * 190–320 ms with relative names, most of it in those searches.
 */
function qualifyFieldTypes(ns: protobuf.NamespaceBase, json: protobuf.INamespace): void {
  for (const child of ns.nestedArray) {
    const childJson = json.nested?.[child.name] as
      | (protobuf.INamespace & { fields?: Record<string, { type: string }> })
      | undefined;
    if (!childJson) continue;
    if (child instanceof protobuf.Type && childJson.fields) {
      for (const field of child.fieldsArray) {
        const target = childJson.fields[field.name];
        if (target && field.resolvedType) target.type = field.resolvedType.fullName;
      }
    }
    if (child instanceof protobuf.Namespace || child instanceof protobuf.Type)
      qualifyFieldTypes(child, childJson);
  }
}

/** Builds a resolved root from a descriptor; null when it was made from another file list. */
export function fromDescriptor(d: EnvoyDescriptor, files: readonly string[]): protobuf.Root | null {
  if (d.files.length !== files.length || d.files.some((f, i) => f !== files[i])) return null;
  const root = protobuf.Root.fromJSON(d.root);
  for (const [name, opts] of Object.entries(d.parsedOptions)) {
    const obj = lookupAny(root, name);
    if (obj) (obj as unknown as { parsedOptions: unknown[] }).parsedOptions = opts;
  }
  root.resolveAll();
  return root;
}

/**
 * Finds a type, enum, field or oneof by full name (with its leading dot), walking down from the
 * root by the name's parts: as Root.lookup finds them (fields before nested objects), and oneofs,
 * which Root.lookup does not reach. Root.lookup's search for ~1,000 names was ~15 ms of every
 * process's start.
 */
function lookupAny(root: protobuf.Root, fullName: string): protobuf.ReflectionObject | null {
  const parts = fullName.split('.');
  let obj: protobuf.ReflectionObject | null = root;
  for (let i = parts[0] === '' ? 1 : 0; i < parts.length && obj; i++) {
    const part = parts[i] as string;
    if (obj instanceof protobuf.Type) {
      const last = i === parts.length - 1;
      obj = obj.fields[part] ?? obj.nested?.[part] ?? (last ? obj.oneofs?.[part] : undefined) ?? null;
    } else if (obj instanceof protobuf.Namespace) obj = obj.nested?.[part] ?? null;
    else obj = null;
  }
  return obj;
}

/** protobufjs's typings declare parsedOptions as a map; at run time it is an array of one-key objects. */
function parsedOptionsOf(obj: protobuf.ReflectionObject): unknown[] | undefined {
  return (obj as unknown as { parsedOptions?: unknown[] }).parsedOptions;
}
