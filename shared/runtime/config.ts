/**
 * Configuration from flags and environment. Every flag `--some-flag` can also be set with
 * `ATTACHE_SOME_FLAG`; a flag on the command line wins over the environment, which wins over the
 * default. Unknown flags are an error (a typo must not silently fall back to a default).
 */
import { parseArgs } from 'node:util';
import { ConfigError } from './errors.ts';

export interface FlagSpec {
  type: 'string' | 'number' | 'boolean';
  description: string;
  /** Repeatable (`--config a --config b`); the env form is comma-separated. */
  multiple?: boolean;
  default?: string | number | boolean;
  required?: boolean;
  /**
   * A secret (password, token): accepted from the environment only. On the command line it would
   * be visible to every user of the host (`ps`), so parsing refuses it there.
   */
  secret?: boolean;
}

export type FlagSpecs = Record<string, FlagSpec>;

export type FlagValue = string | number | boolean | string[] | undefined;

/** Name of the environment variable for a flag: `xds-port` → `ATTACHE_XDS_PORT`. */
export function envNameOf(flag: string): string {
  return `ATTACHE_${flag.toUpperCase().replace(/-/g, '_')}`;
}

/** Key of the positional arguments in a parsed record (a command that takes some). */
export const POSITIONALS = '_';

/**
 * Parses `argv` against `specs`, filling from `env` and defaults; throws ConfigError on bad input.
 * Up to `maxPositionals` arguments that are not flags are allowed, under {@link POSITIONALS}.
 */
export function parseFlags(
  specs: FlagSpecs,
  argv: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
  maxPositionals = 0,
): Record<string, FlagValue> {
  let parsed: ReturnType<typeof parseArgs>;
  const booleans = new Set(Object.keys(specs).filter((n) => specs[n]?.type === 'boolean'));
  const options: Record<string, { type: 'string' | 'boolean'; multiple?: boolean }> = {};
  for (const [name, s] of Object.entries(specs)) {
    options[name] = { type: s.type === 'boolean' ? 'boolean' : 'string', multiple: s.multiple ?? false };
    // Every boolean can be turned off on the command line: --no-<flag> (or --<flag>=false).
    if (s.type === 'boolean') options[`no-${name}`] = { type: 'boolean' };
  }
  try {
    parsed = parseArgs({
      args: argv.map((a) => booleanForm(a, booleans)),
      strict: true,
      allowPositionals: maxPositionals > 0,
      options,
    });
  } catch (err) {
    throw err instanceof ConfigError ? err : new ConfigError((err as Error).message);
  }
  for (const name of booleans) {
    if (parsed.values[`no-${name}`] === true) {
      if (parsed.values[name] === true)
        throw new ConfigError(`--${name} and --no-${name} contradict each other`);
      parsed.values[name] = false;
    }
  }
  const out: Record<string, FlagValue> = {};
  if (maxPositionals > 0) {
    if (parsed.positionals.length > maxPositionals)
      throw new ConfigError(
        `at most ${maxPositionals} arguments besides flags, got ${parsed.positionals.length}: ${parsed.positionals.join(' ')}`,
      );
    out[POSITIONALS] = parsed.positionals;
  }
  for (const [name, spec] of Object.entries(specs)) {
    let raw: unknown = parsed.values[name];
    if (raw !== undefined && spec.secret) {
      throw new ConfigError(
        `--${name} is a secret and is not accepted on the command line (other users see it in ps); set ${envNameOf(name)} or use --${name}-file`,
      );
    }
    if (raw === undefined) {
      const fromEnv = env[envNameOf(name)];
      if (fromEnv !== undefined && fromEnv !== '') {
        raw = spec.multiple ? fromEnv.split(',').map((s) => s.trim()) : fromEnv;
      }
    }
    if (raw === undefined) raw = spec.multiple && spec.default === undefined ? undefined : spec.default;
    if (raw === undefined) {
      if (spec.required) throw new ConfigError(`--${name} is required (or set ${envNameOf(name)})`);
      out[name] = spec.multiple ? [] : undefined;
      continue;
    }
    out[name] = coerce(name, spec, raw);
  }
  return out;
}

/** Rewrites `--flag=true|false` of a boolean flag into `--flag` / `--no-flag`. */
function booleanForm(arg: string, booleans: ReadonlySet<string>): string {
  const m = /^--([^=]+)=(.*)$/.exec(arg);
  if (!m || !booleans.has(m[1] ?? '')) return arg;
  const v = (m[2] ?? '').toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(v)) return `--${m[1]}`;
  if (['0', 'false', 'no', 'off'].includes(v)) return `--no-${m[1]}`;
  throw new ConfigError(`--${m[1]} must be true or false, got ${JSON.stringify(m[2])}`);
}

function coerce(name: string, spec: FlagSpec, raw: unknown): FlagValue {
  if (spec.multiple) {
    const list = Array.isArray(raw) ? raw.map(String) : [String(raw)];
    return list.filter((s) => s !== '');
  }
  if (spec.type === 'number') {
    const n = typeof raw === 'number' ? raw : Number(raw);
    if (!Number.isFinite(n)) throw new ConfigError(`--${name} must be a number, got ${JSON.stringify(raw)}`);
    return n;
  }
  if (spec.type === 'boolean') {
    if (typeof raw === 'boolean') return raw;
    const s = String(raw).toLowerCase();
    if (['1', 'true', 'yes', 'on'].includes(s)) return true;
    if (['0', 'false', 'no', 'off'].includes(s)) return false;
    throw new ConfigError(`--${name} must be true or false, got ${JSON.stringify(raw)}`);
  }
  return String(raw);
}

/** Reads a typed flag value out of a parsed record. */
export const flag = {
  str(v: Record<string, FlagValue>, name: string): string | undefined {
    const x = v[name];
    return typeof x === 'string' ? x : undefined;
  },
  /** A number flag without a default: undefined when not given. */
  optionalNum(v: Record<string, FlagValue>, name: string): number | undefined {
    const x = v[name];
    return typeof x === 'number' ? x : undefined;
  },
  num(v: Record<string, FlagValue>, name: string): number {
    const x = v[name];
    if (typeof x !== 'number') throw new ConfigError(`--${name} is required`);
    return x;
  },
  bool(v: Record<string, FlagValue>, name: string): boolean {
    return v[name] === true;
  },
  list(v: Record<string, FlagValue>, name: string): string[] {
    const x = v[name];
    return Array.isArray(x) ? x : [];
  },
};
