/**
 * A variant's output against the baseline's (variants[0]), aligned as a diff (align.ts):
 * a token is changed when the alignment pairs it with no baseline token, so a single
 * inserted token does not mark everything after it as different.
 *
 * The baseline's logprob of a variant's token means something only in the same context:
 * while every earlier generated token is the same (up to and including the first
 * divergence). After it the two models read different text, so no logprob change is given
 * there, even for tokens the alignment matches.
 */
import type { TokenRecord } from '../api/types';
import { alignIds } from './align';

export interface TokenComparison {
  /** The alignment pairs this token with no baseline token (inserted or substituted). */
  differs: boolean;
  /** The baseline token this one is aligned with (same id), or null. */
  baselineIndex: number | null;
  /** Every earlier token equals the baseline's: the baseline saw the same context here. */
  sameContext: boolean;
  /**
   * The baseline's logprob of THIS token in the same context: reported by the engine, or
   * (results saved without it) the baseline's own token or one of its top alternatives;
   * null after the divergence or when unknown.
   */
  baselineLogprob: number | null;
  /** logprob - baselineLogprob, null when baselineLogprob is. */
  deltaLogprob: number | null;
}

export interface TokenDiff {
  comparisons: TokenComparison[];
  /** The first index where the outputs differ (or where one ends first); null when identical. */
  firstDivergence: number | null;
  /** Variant tokens the alignment pairs with nothing in the baseline. */
  inserted: number;
  /** Baseline tokens the alignment pairs with nothing in the variant. */
  dropped: number;
}

export function diffTokens(baseline: readonly TokenRecord[], tokens: readonly TokenRecord[]): TokenDiff {
  const pairs = alignIds(
    baseline.map((token) => token.id),
    tokens.map((token) => token.id),
  );
  const matched = new Map(pairs.map(([i, j]) => [j, i]));
  const divergence = firstDivergence(baseline, tokens);
  const comparisons = tokens.map((token, j): TokenComparison => {
    const baselineIndex = matched.get(j) ?? null;
    const sameContext = divergence === null || j <= divergence;
    const baselineLogprob = sameContext ? sameContextLogprob(token, baseline[j]) : null;
    return {
      differs: baselineIndex === null,
      baselineIndex,
      sameContext,
      baselineLogprob,
      deltaLogprob: baselineLogprob === null ? null : token.logprob - baselineLogprob,
    };
  });
  return { comparisons, firstDivergence: divergence, inserted: tokens.length - pairs.length, dropped: baseline.length - pairs.length };
}

/** The index where the streams first differ (or where one ends first); null when identical. */
export function firstDivergence(baseline: readonly TokenRecord[], tokens: readonly TokenRecord[]): number | null {
  const n = Math.min(baseline.length, tokens.length);
  for (let i = 0; i < n; i++) if (baseline[i].id !== tokens[i].id) return i;
  return baseline.length === tokens.length ? null : n;
}

/** The baseline's logprob of `token` at its step, given the baseline's record of that step (same context). */
function sameContextLogprob(token: TokenRecord, reference: TokenRecord | undefined): number | null {
  if (token.baselineLogprob !== undefined) return token.baselineLogprob;
  if (reference === undefined) return null;
  if (reference.id === token.id) return reference.logprob;
  return reference.top.find((alt) => alt.id === token.id)?.logprob ?? null;
}
