/**
 * Structural validation of generated Envoy resources against the protoc-gen-validate rules in
 * Envoy's own protos, so Attaché never sends configuration Envoy would reject on structure.
 *
 * The resource is decoded from the exact bytes that will be sent, with the same proto root, and
 * walked field by field: message/oneof presence, the value rule families (pgv-checks.ts),
 * repeated and map rules, and every `Any` is decoded by its type URL and walked in turn. Subtrees
 * whose types carry no rules at all are not visited (pgv-rules.ts `isRelevant`), which keeps a
 * large RouteConfiguration cheap. Problems carry a path such as
 * `ClusterLoadAssignment[name=foo].endpoints[0].lb_endpoints[1].load_balancing_weight: must be >= 1`.
 */
import type protobuf from 'protobufjs';
import { envoyRoot, messageType } from '../../../proto/root.ts';
import { messageNameOf } from '../../../shared/xds/type-urls.ts';
import {
  checkAnyType,
  checkBool,
  checkBytes,
  checkDuration,
  checkEnum,
  checkNumber,
  checkString,
  NUMERIC_FAMILIES,
  toBig,
} from './pgv-checks.ts';
import { type FieldPlan, type FieldRules, isRelevant, planFor } from './pgv-rules.ts';

export interface PgvProblem {
  /** Where: resource type and name, then the proto field path (`[i]` for list items, `["k"]` for map keys). */
  path: string;
  /** What rule is violated, e.g. `must be > 0`. */
  message: string;
}

/** What the validator could not check; accumulated across calls when the same object is passed. */
export interface PgvStats {
  /** Messages visited. */
  messages: number;
  /** Rules present but not evaluated (untranslatable RE2 patterns, `lt_now`, …), by rule. */
  skippedRules: Map<string, number>;
  /** `Any` values whose type is not in the proto root, by type URL. */
  unknownAnyTypes: Map<string, number>;
}

export function newPgvStats(): PgvStats {
  return { messages: 0, skippedRules: new Map(), unknownAnyTypes: new Map() };
}

export function formatPgvProblem(p: PgvProblem): string {
  return `${p.path}: ${p.message}`;
}

type Msg = Record<string, unknown>;

/**
 * Where a walk is: the root's text, or a step below a parent. Rendered to text only when a problem
 * is reported, so walking a 30,000-route configuration builds no path strings.
 */
type Path = string | { parent: Path; field?: string; index?: number; text?: string };

function render(path: Path): string {
  if (typeof path === 'string') return path;
  const parent = render(path.parent);
  if (path.field !== undefined) return `${parent}.${path.field}`;
  if (path.index !== undefined) return `${parent}[${path.index}]`;
  return `${parent}${path.text ?? ''}`;
}

interface Walk {
  problems: PgvProblem[];
  stats: PgvStats;
  skip(rule: string): void;
}

/** Validates one encoded resource of `typeUrl`; returns its problems (empty when it is valid). */
export function validateResourceBytes(
  typeUrl: string,
  name: string,
  bytes: Uint8Array,
  stats: PgvStats = newPgvStats(),
): PgvProblem[] {
  const type = messageType(messageNameOf(typeUrl));
  const root = `${type.name}[name=${name}]`;
  let message: Msg;
  try {
    message = type.decode(bytes) as unknown as Msg;
  } catch (err) {
    return [{ path: root, message: `does not decode: ${err instanceof Error ? err.message : String(err)}` }];
  }
  return validateDecoded(type, message, root, stats);
}

/** Validates a message already decoded with the Envoy root (a protobufjs message instance). */
export function validateDecoded(
  type: protobuf.Type,
  message: Msg,
  path: string,
  stats: PgvStats = newPgvStats(),
): PgvProblem[] {
  const w: Walk = {
    problems: [],
    stats,
    skip: (rule) => stats.skippedRules.set(rule, (stats.skippedRules.get(rule) ?? 0) + 1),
  };
  walkMessage(type, message, path, w);
  return w.problems;
}

function has(msg: Msg, field: string): boolean {
  return Object.hasOwn(msg, field) && msg[field] !== null && msg[field] !== undefined;
}

/** Whether any of `fields` is set (a loop: a closure over `msg` would be made per message). */
function hasAny(msg: Msg, fields: readonly string[]): boolean {
  for (const f of fields) if (has(msg, f)) return true;
  return false;
}

function walkMessage(type: protobuf.Type, msg: Msg, path: Path, w: Walk): void {
  const plan = planFor(type);
  if (plan.disabled) return;
  w.stats.messages++;
  for (const oneof of plan.requiredOneofs) {
    if (!hasAny(msg, oneof.members))
      w.problems.push({
        path: render(path),
        message: `one of ${oneof.members.join(', ')} must be set (oneof ${oneof.name})`,
      });
  }
  plan.visited ??= plan.fields.filter(
    (f) => f.rules || f.shape === 'any' || (f.resolvedType && isRelevant(f.resolvedType)),
  );
  for (const f of plan.visited) {
    if (f.inOneof && !has(msg, f.name)) continue;
    const value = msg[f.name];
    if (f.mapKeyType === undefined && !f.repeated && (f.shape === 'scalar' || f.shape === 'enum')) {
      // A singular scalar: its path is spelled only if it has a problem (most fields have none).
      const problems = scalarProblems(f, value, f.rules, w);
      if (problems !== undefined) report(w, { parent: path, field: f.name }, problems);
      continue;
    }
    const fpath: Path = { parent: path, field: f.name };
    if (f.mapKeyType !== undefined) walkMap(f, (value ?? {}) as Msg, fpath, w);
    else if (f.repeated) walkRepeated(f, Array.isArray(value) ? value : [], fpath, w);
    else checkValue(f, value, f.rules, fpath, w);
  }
}

function report(w: Walk, path: Path, messages: readonly string[]): void {
  for (const message of messages) w.problems.push({ path: render(path), message });
}

/** The problems of a scalar or enum value (`f.shape` one of those), undefined when it has none. */
function scalarProblems(
  f: FieldPlan,
  value: unknown,
  rules: FieldRules | undefined,
  w: Walk,
): string[] | undefined {
  let problems: string[] | undefined;
  if (f.shape === 'scalar') {
    if (rules) problems = scalarRules(rules, value, w);
  } else if (rules?.enum) problems = checkEnum(rules.enum, value, f.resolvedEnum);
  return problems !== undefined && problems.length > 0 ? problems : undefined;
}

function walkRepeated(f: FieldPlan, items: unknown[], path: Path, w: Walk): void {
  const rules = f.rules?.repeated as Record<string, unknown> | undefined;
  if (rules && !(rules.ignore_empty === true && items.length === 0)) {
    if (rules.min_items !== undefined && items.length < Number(rules.min_items))
      w.problems.push({ path: render(path), message: `must have at least ${rules.min_items} item(s)` });
    if (rules.max_items !== undefined && items.length > Number(rules.max_items))
      w.problems.push({ path: render(path), message: `must have at most ${rules.max_items} item(s)` });
    if (rules.unique === true) {
      const seen = new Set<string>();
      items.forEach((item, i) => {
        const key = scalarKey(item);
        if (seen.has(key))
          w.problems.push({
            path: render({ parent: path, index: i }),
            message: 'must be unique in the list',
          });
        seen.add(key);
      });
    }
  }
  const itemRules = rules?.items as FieldRules | undefined;
  if (!itemRules && !(f.resolvedType && (f.shape === 'any' || isRelevant(f.resolvedType)))) return;
  for (let i = 0; i < items.length; i++) checkValue(f, items[i], itemRules, { parent: path, index: i }, w);
}

function walkMap(f: FieldPlan, entries: Msg, path: Path, w: Walk): void {
  const keys = Object.keys(entries);
  const rules = f.rules?.map as Record<string, unknown> | undefined;
  if (rules && !(rules.ignore_empty === true && keys.length === 0)) {
    if (rules.min_pairs !== undefined && keys.length < Number(rules.min_pairs))
      w.problems.push({ path: render(path), message: `must have at least ${rules.min_pairs} entr(ies)` });
    if (rules.max_pairs !== undefined && keys.length > Number(rules.max_pairs))
      w.problems.push({ path: render(path), message: `must have at most ${rules.max_pairs} entr(ies)` });
  }
  const keyRules = rules?.keys as FieldRules | undefined;
  const valueRules = rules?.values as FieldRules | undefined;
  const keyPlan: FieldPlan = {
    name: f.name,
    protoType: f.mapKeyType ?? 'string',
    shape: 'scalar',
    repeated: false,
    inOneof: false,
  };
  for (const key of keys) {
    const entryPath: Path = { parent: path, text: `[${JSON.stringify(key)}]` };
    if (keyRules)
      checkValue(
        keyPlan,
        keyPlan.protoType === 'string' ? key : mapKeyValue(key),
        keyRules,
        { parent: entryPath, text: '(key)' },
        w,
      );
    checkValue(f, entries[key], valueRules, entryPath, w);
  }
}

/** protobufjs map keys are strings; numeric keys are compared as numbers. */
function mapKeyValue(key: string): unknown {
  return /^-?\d+$/.test(key) ? toBig(key) : key;
}

function scalarKey(v: unknown): string {
  if (v instanceof Uint8Array) return Buffer.from(v).toString('base64');
  return typeof v === 'object' && v !== null ? String(v) : `${typeof v}:${String(v)}`;
}

/** Checks one value (a singular field, a list item or a map value) against `rules`, then recurses. */
function checkValue(f: FieldPlan, value: unknown, rules: FieldRules | undefined, path: Path, w: Walk): void {
  if (f.shape === 'scalar' || f.shape === 'enum') {
    const problems = scalarProblems(f, value, rules, w);
    if (problems !== undefined) report(w, path, problems);
    return;
  }
  if (value === null || value === undefined) {
    if (rules !== undefined && isRequired(rules))
      w.problems.push({ path: render(path), message: 'is required' });
    return;
  }
  const msg = value as Msg;
  switch (f.shape) {
    case 'duration':
      if (rules?.duration) report(w, path, checkDuration(rules.duration, msg, w.skip));
      return;
    case 'timestamp':
      if (rules?.timestamp) report(w, path, checkDuration(rules.timestamp, msg, w.skip));
      return;
    case 'wrapper':
      if (rules) report(w, path, scalarRules(rules, msg.value, w));
      return;
    case 'any':
      if (rules?.any) report(w, path, checkAnyType(rules.any, String(msg.type_url ?? '')));
      if (rules?.message?.skip !== true) walkAny(msg, path, w);
      return;
    default:
      if (rules?.message?.skip !== true && f.resolvedType && isRelevant(f.resolvedType))
        walkMessage(f.resolvedType, msg, path, w);
  }
}

/** Rule families whose `required` makes an unset message field a problem. */
const REQUIRED_FAMILIES = ['message', 'duration', 'timestamp', 'any'] as const;

function isRequired(rules: FieldRules): boolean {
  for (const k of REQUIRED_FAMILIES) if (rules[k]?.required === true) return true;
  return false;
}

/** Each rules object's families, listed once (a walk checks the same rules on every route). */
const families = new WeakMap<FieldRules, [string, FieldRules[string]][]>();

function scalarRules(rules: FieldRules, value: unknown, w: Walk): string[] {
  const out: string[] = [];
  let entries = families.get(rules);
  if (!entries) {
    entries = Object.entries(rules);
    families.set(rules, entries);
  }
  for (const [family, r] of entries) {
    if (family === 'message' || !r || typeof r !== 'object') continue;
    let found: string[];
    if (NUMERIC_FAMILIES.has(family)) found = checkNumber(family, r, value);
    else if (family === 'string') found = checkString(r, value, w.skip);
    else if (family === 'bytes') found = checkBytes(r, value, w.skip);
    else if (family === 'bool') found = checkBool(r, value);
    else {
      w.skip(`${family} on a scalar`);
      continue;
    }
    if (found.length > 0) out.push(...found);
  }
  return out;
}

const anyTypes = new Map<string, protobuf.Type | null>();

function anyType(typeUrl: string): protobuf.Type | null {
  let t = anyTypes.get(typeUrl);
  if (t === undefined) {
    const name = typeUrl.slice(typeUrl.lastIndexOf('/') + 1);
    const found = name ? envoyRoot().lookup(name) : null;
    t = found && 'fieldsArray' in found ? (found as protobuf.Type) : null;
    anyTypes.set(typeUrl, t);
  }
  return t;
}

function walkAny(any: Msg, path: Path, w: Walk): void {
  const typeUrl = String(any.type_url ?? '');
  if (typeUrl === '') {
    w.problems.push({ path: render(path), message: 'Any has an empty type_url' });
    return;
  }
  const type = anyType(typeUrl);
  if (!type) {
    w.stats.unknownAnyTypes.set(typeUrl, (w.stats.unknownAnyTypes.get(typeUrl) ?? 0) + 1);
    return;
  }
  if (!isRelevant(type)) return;
  let inner: Msg;
  try {
    inner = type.decode((any.value as Uint8Array | undefined) ?? new Uint8Array()) as unknown as Msg;
  } catch (err) {
    w.problems.push({
      path: render(path),
      message: `does not decode as ${type.name}: ${err instanceof Error ? err.message : String(err)}`,
    });
    return;
  }
  walkMessage(type, inner, { parent: path, text: `<${type.name}>` }, w);
}
