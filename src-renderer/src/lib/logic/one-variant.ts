/**
 * Regenerating one variant (the live strength slider moves one variant's scale): the
 * engine runs the baseline and that variant only (generate's `only`), and the results on
 * screen keep every other column, the baseline's included; only that column is replaced.
 */
import type { Experiment, ExperimentResults, GenerationSettings } from '../api/types';

/** What a run's results depend on besides the variants: one string, compared as a whole. */
export function runInputs(prompt: Experiment['prompt'], settings: GenerationSettings, consistency: Experiment['consistency'], modelPath: string): string {
  return JSON.stringify({ prompt, settings, consistency, modelPath });
}

/** The variants a one-variant run generates, in the order of its token events (the engine's order too). */
export function oneVariantIds(variantIds: readonly string[], only: string): string[] {
  return only === variantIds[0] ? [only] : [variantIds[0], only];
}

/**
 * Whether the stored results can take a one-variant run: they were made from the same
 * inputs (made === current) and hold exactly today's variants in order, so every column
 * but the regenerated one is still what a full run would show.
 */
export function canRegenerateOne(stored: ExperimentResults | null, variantIds: readonly string[], only: string, made: string | null, current: string): boolean {
  if (stored === null || made !== current || !variantIds.includes(only)) return false;
  return stored.variants.length === variantIds.length && stored.variants.every((result, i) => result.variantId === variantIds[i]);
}

/** The stored results with `only`'s column taken from a one-variant run (the baseline it ran beside is the stored one's twin). */
export function mergeOneVariant(stored: ExperimentResults, fresh: ExperimentResults, only: string): ExperimentResults {
  const replacement = fresh.variants.find((result) => result.variantId === only);
  if (!replacement) return stored;
  return { ...stored, ranAt: fresh.ranAt, provider: fresh.provider, variants: stored.variants.map((result) => (result.variantId === only ? replacement : result)) };
}
