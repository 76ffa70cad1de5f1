/**
 * protoc-gen-validate rules as carried by Envoy's own protos, read once per message type from
 * protobufjs reflection and cached. protobufjs exposes `[(validate.rules).string.min_len = 1]` as
 * the field's `parsedOptions` entry `{ '(validate.rules)': { string: { min_len: 1 } } }`, and
 * `option (validate.required) = true` on a oneof the same way. A plan lists, per type, only what
 * the walker needs: the fields with rules or with something to recurse into, and required oneofs.
 */
import protobuf from 'protobufjs';

/** The `(validate.rules)` object of one field: a rule family (`string`, `uint32`, …) → its rules. */
export type FieldRules = Record<string, Record<string, unknown>>;

/** How the walker treats a field's value. */
export type FieldShape =
  | 'scalar' /* string, bytes, bool, numbers */
  | 'enum'
  | 'message'
  | 'any' /* google.protobuf.Any: recurse into the packed message by type URL */
  | 'duration'
  | 'timestamp'
  | 'wrapper' /* google.protobuf.*Value: scalar rules apply to `.value` */;

export interface FieldPlan {
  name: string;
  /** Proto scalar type name (`uint32`, `string`, …) or the message / enum type name. */
  protoType: string;
  shape: FieldShape;
  repeated: boolean;
  /** Map fields: the key's scalar type; the value is described by protoType/shape. */
  mapKeyType?: string;
  /** Set when the field is a member of a oneof (real or proto3-optional): only checked when present. */
  inOneof: boolean;
  rules?: FieldRules;
  resolvedType?: protobuf.Type;
  resolvedEnum?: protobuf.Enum;
}

export interface OneofPlan {
  name: string;
  members: string[];
}

export interface TypePlan {
  type: protobuf.Type;
  /** `option (validate.disabled) = true` / `(validate.ignored)`: the message is not checked at all. */
  disabled: boolean;
  fields: FieldPlan[];
  requiredOneofs: OneofPlan[];
  /** The fields a walk visits (rules, an Any, or a message type with rules below), once known. */
  visited?: FieldPlan[];
}

const WRAPPERS = new Set([
  'google.protobuf.DoubleValue',
  'google.protobuf.FloatValue',
  'google.protobuf.Int64Value',
  'google.protobuf.UInt64Value',
  'google.protobuf.Int32Value',
  'google.protobuf.UInt32Value',
  'google.protobuf.BoolValue',
  'google.protobuf.StringValue',
  'google.protobuf.BytesValue',
]);

const plans = new Map<protobuf.Type, TypePlan>();
/** Whether a walk into the type can find anything to check (rules, required oneofs or Anys). */
const relevance = new Map<protobuf.Type, boolean>();

/** The cached plan of a message type. */
export function planFor(type: protobuf.Type): TypePlan {
  let plan = plans.get(type);
  if (!plan) {
    plan = buildPlan(type);
    plans.set(type, plan);
  }
  return plan;
}

/** True when validating a message of this type could report a problem or reach an Any. */
export function isRelevant(type: protobuf.Type): boolean {
  const known = relevance.get(type);
  if (known !== undefined) return known;
  computeRelevance(type);
  return relevance.get(type) ?? true;
}

function typeName(t: protobuf.ReflectionObject): string {
  return t.fullName.replace(/^\./, '');
}

function fullTypeName(field: protobuf.Field): string | undefined {
  return field.resolvedType ? typeName(field.resolvedType) : undefined;
}

function shapeOf(field: protobuf.Field): FieldShape {
  if (field.resolvedType instanceof protobuf.Enum) return 'enum';
  if (!(field.resolvedType instanceof protobuf.Type)) return 'scalar';
  const name = typeName(field.resolvedType);
  if (name === 'google.protobuf.Any') return 'any';
  if (name === 'google.protobuf.Duration') return 'duration';
  if (name === 'google.protobuf.Timestamp') return 'timestamp';
  if (WRAPPERS.has(name)) return 'wrapper';
  return 'message';
}

function optionValue(parsed: unknown, key: string): unknown {
  if (!Array.isArray(parsed)) return undefined;
  for (const entry of parsed) {
    if (entry && typeof entry === 'object' && key in entry) return (entry as Record<string, unknown>)[key];
  }
  return undefined;
}

function buildPlan(type: protobuf.Type): TypePlan {
  type.resolveAll();
  const disabled =
    optionValue(type.parsedOptions, '(validate.disabled)') === true ||
    optionValue(type.parsedOptions, '(validate.ignored)') === true;
  const fields: FieldPlan[] = [];
  for (const field of type.fieldsArray) {
    field.resolve();
    const shape = shapeOf(field);
    const rules = optionValue(field.parsedOptions, '(validate.rules)') as FieldRules | undefined;
    const plan: FieldPlan = {
      name: field.name,
      protoType: fullTypeName(field) ?? field.type,
      shape,
      repeated: field.repeated,
      inOneof: field.partOf !== null && field.partOf !== undefined,
      ...(rules && typeof rules === 'object' ? { rules } : {}),
    };
    if (field instanceof protobuf.MapField) plan.mapKeyType = field.keyType;
    if (field.resolvedType instanceof protobuf.Type) plan.resolvedType = field.resolvedType;
    if (field.resolvedType instanceof protobuf.Enum) plan.resolvedEnum = field.resolvedType;
    fields.push(plan);
  }
  const requiredOneofs: OneofPlan[] = [];
  for (const oneof of type.oneofsArray) {
    const parsed = (oneof as unknown as { parsedOptions?: unknown }).parsedOptions;
    if (optionValue(parsed, '(validate.required)') === true) {
      requiredOneofs.push({ name: oneof.name, members: oneof.fieldsArray.map((f) => f.name) });
    }
  }
  return { type, disabled, fields, requiredOneofs };
}

/**
 * Relevance over the types reachable from `start`: a type is relevant when it is not disabled and
 * has a rule, a required oneof or an Any field, or a field of a relevant type. Computed as a
 * fixpoint so recursive types (e.g. matchers nesting matchers) are handled.
 */
function computeRelevance(start: protobuf.Type): void {
  const reachable: protobuf.Type[] = [];
  const seen = new Set<protobuf.Type>();
  const stack = [start];
  while (stack.length > 0) {
    const t = stack.pop()!;
    if (seen.has(t) || relevance.has(t)) continue;
    seen.add(t);
    reachable.push(t);
    for (const f of planFor(t).fields) if (f.resolvedType) stack.push(f.resolvedType);
  }
  const state = new Map<protobuf.Type, boolean>();
  for (const t of reachable) {
    const plan = planFor(t);
    state.set(
      t,
      !plan.disabled &&
        (plan.requiredOneofs.length > 0 ||
          plan.fields.some((f) => f.rules !== undefined || f.shape === 'any')),
    );
  }
  const value = (t: protobuf.Type): boolean => relevance.get(t) ?? state.get(t) ?? false;
  for (let changed = true; changed; ) {
    changed = false;
    for (const t of reachable) {
      if (state.get(t) || planFor(t).disabled) continue;
      if (planFor(t).fields.some((f) => f.resolvedType !== undefined && value(f.resolvedType))) {
        state.set(t, true);
        changed = true;
      }
    }
  }
  for (const [t, v] of state) relevance.set(t, v);
}
