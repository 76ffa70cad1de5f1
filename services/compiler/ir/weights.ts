/**
 * Emissary's canary weight normalisation (emissary.md §2.2, `normalize_weights_in_mappings`):
 * weighted Mappings get cumulative thresholds in group order, unweighted ones share the remainder
 * and the last of them is forced to 100. A lone Mapping always gets 100.
 */

export type WeightResult =
  | {
      ok: true;
      /** Indices into the input, in route order: weighted first, then unweighted. */
      order: number[];
      /** Cumulative threshold (0–100) for each entry of `order`. */
      cumulative: number[];
    }
  | { ok: false; message: string };

/** `weights[i]` is Mapping i's weight (undefined when it has none), in group insertion order. */
export function normalizeWeights(weights: readonly (number | undefined)[]): WeightResult {
  if (weights.length === 1) return { ok: true, order: [0], cumulative: [100] };
  const order: number[] = [];
  const cumulative: number[] = [];
  const unweighted: number[] = [];
  let current = 0;
  weights.forEach((w, i) => {
    if (w === undefined) {
      unweighted.push(i);
      return;
    }
    current += w;
    order.push(i);
    cumulative.push(current);
  });
  if (weights.some((w) => w !== undefined && w > 100)) return { ok: false, message: 'a weight is above 100' };
  if (current > 100) {
    return {
      ok: false,
      message: `the weights of the Mappings in this group add up to ${current}, more than 100`,
    };
  }
  const share = unweighted.length > 0 ? (100 - current) / unweighted.length : 0;
  unweighted.forEach((i, k) => {
    // Rounding up several shares could pass 100 before the last Mapping; thresholds never exceed 100.
    current = k === unweighted.length - 1 ? 100 : Math.min(100, current + roundHalfEven(share));
    order.push(i);
    cumulative.push(current);
  });
  return { ok: true, order, cumulative };
}

/** Python's round(): halves go to the even neighbour, so results match Emissary exactly. */
export function roundHalfEven(x: number): number {
  const floor = Math.floor(x);
  const diff = x - floor;
  if (diff > 0.5) return floor + 1;
  if (diff < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}
