/** Distributions of latencies, by nearest rank (no interpolation: every reported value was observed). */

export interface Dist {
  count: number;
  min: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

/** Null for an empty sample. Values are rounded to 0.1 ms. */
export function dist(values: readonly number[]): Dist | null {
  if (values.length === 0) return null;
  const s = [...values].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))] as number;
  const r = (v: number) => Math.round(v * 10) / 10;
  return {
    count: s.length,
    min: r(s[0] as number),
    p50: r(at(0.5)),
    p90: r(at(0.9)),
    p99: r(at(0.99)),
    max: r(s[s.length - 1] as number),
    mean: r(s.reduce((a, b) => a + b, 0) / s.length),
  };
}

/** `times[i] - base` for every recorded time (nulls are streams that never got there). */
export function since(times: ReadonlyArray<number | null>, base: number): number[] {
  const out: number[] = [];
  for (const t of times) if (t !== null) out.push(t - base);
  return out;
}
