/** Order statistics the bench reports: timings on a shared machine are skewed, so medians and quartiles, not means. */

/** The q-quantile of `xs` (0 <= q <= 1), interpolating between the two nearest values. */
export function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  const at = (s.length - 1) * q;
  return s[Math.floor(at)] + (s[Math.ceil(at)] - s[Math.floor(at)]) * (at - Math.floor(at));
}

export const median = (xs: number[]): number => quantile(xs, 0.5);

/** A median with the spread around it: the 25th and 75th percentiles. */
export interface Spread {
  median: number;
  p25: number;
  p75: number;
}

export const spreadOf = (xs: number[]): Spread => ({ median: quantile(xs, 0.5), p25: quantile(xs, 0.25), p75: quantile(xs, 0.75) });
