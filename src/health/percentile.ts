/**
 * Percentiles by the nearest-rank method: the p-th percentile of n values is the value at rank
 * ceil(p/100 * n) (1-based) of the values sorted ascending. It is always one of the observed values, so a
 * report never shows a latency no probe had. With fewer than 20 values the p95 is therefore the maximum.
 */
export function nearestRankPercentile(values: readonly number[], percentile: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[nearestRank(values.length, percentile) - 1];
}

/** The 1-based rank of the p-th percentile among n values (n >= 1). */
export function nearestRank(n: number, percentile: number): number {
  // percentile * n is an integer for integer percentiles, so the division is exact and ceil cannot be off by one.
  return Math.min(n, Math.max(1, Math.ceil((percentile * n) / 100)));
}

/**
 * How many of n values may lie above a limit while the p-th percentile stays at or below it: the values
 * ranked above the percentile's rank. Never decreases as n grows.
 */
export function valuesAllowedAbove(n: number, percentile: number): number {
  return n === 0 ? 0 : n - nearestRank(n, percentile);
}
