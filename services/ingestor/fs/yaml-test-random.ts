/**
 * What the YAML property tests (parse-file.property.test.ts, simple-yaml.test.ts) draw their
 * random documents from: a picker over a seeded generator and the scalar texts both need — every
 * core-schema form (integers in each base, floats, infinities, NaN, booleans, nulls), YAML 1.1
 * words that must stay strings, quoting, comments and one-line flow collections.
 */
export type Random = () => number;

export const pick = <T>(r: Random, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;

export const CORE_SCALAR_TEXTS: readonly string[] = [
  '1',
  '-0',
  '+12',
  '0o17',
  '0x1F',
  '0b11',
  '1_000',
  '012',
  '1.50',
  '.5',
  '1e3',
  '-.inf',
  '.NaN',
  'true',
  'False',
  'yes',
  'on',
  '~',
  'null',
  '',
  '2001-12-14',
  "'single ''q'''",
  'plain text',
  'x # comment',
  '[1, "two", {three: 3}]',
  '{a: 1, b: [x, y]}',
];
