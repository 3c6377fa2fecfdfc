/**
 * Token-level comparison of a variant's output with the baseline's (variants[0]) at the
 * same index. Once two streams differ they see different contexts, so later matches and
 * logprob changes are still shown, marked as coming after the first divergence.
 */
import type { TokenRecord } from '../api/types';

export interface TokenComparison {
  /** The baseline has no token here, or a different one. */
  differs: boolean;
  /** At or after the first differing index: the contexts are no longer the same. */
  diverged: boolean;
  /** The baseline's logprob of THIS token at this step: reported by the engine, or (older results) found among the baseline's top alternatives; null if unknown. */
  baselineLogprob: number | null;
  /** logprob - baselineLogprob, null when the baseline's value is unknown. */
  deltaLogprob: number | null;
}

/** The index where the streams first differ (or where one ends first); null when identical. */
export function firstDivergence(baseline: readonly TokenRecord[], tokens: readonly TokenRecord[]): number | null {
  const n = Math.min(baseline.length, tokens.length);
  for (let i = 0; i < n; i++) if (baseline[i].id !== tokens[i].id) return i;
  return baseline.length === tokens.length ? null : n;
}

export function compareTokens(baseline: readonly TokenRecord[], tokens: readonly TokenRecord[]): TokenComparison[] {
  const divergence = firstDivergence(baseline, tokens);
  return tokens.map((token, i) => {
    const reference = baseline[i];
    const differs = reference === undefined || reference.id !== token.id;
    // The engine reports the baseline's logprob of this token at the same step; results
    // saved without it fall back to the baseline's own token or its top alternatives.
    const baselineLogprob =
      token.baselineLogprob ?? (reference === undefined ? null : reference.id === token.id ? reference.logprob : (reference.top.find((alt) => alt.id === token.id)?.logprob ?? null));
    return {
      differs,
      diverged: divergence !== null && i >= divergence,
      baselineLogprob,
      deltaLogprob: baselineLogprob === null ? null : token.logprob - baselineLogprob,
    };
  });
}

/** How many tokens differ, for the column header. */
export function countDiffering(comparisons: readonly TokenComparison[]): number {
  return comparisons.reduce((count, comparison) => count + (comparison.differs ? 1 : 0), 0);
}
