/**
 * Position selectors shared by captures and interventions. A selector is resolved per
 * run (one feed of tokens into the KV cache) against absolute positions, so a "prompt"
 * intervention is not re-applied to generated tokens and a "generated" one applies to
 * each new token.
 *
 *   "all"        every position fed
 *   "prompt"     positions < promptLength
 *   "generated"  positions >= promptLength
 *   "last"       the LAST TOKEN FED IN EACH RUN. In one forward pass (ModelHandle.run) that
 *                is the last position. During generation with the KV cache the prompt is
 *                one run and each generated token another, so "last" selects the last
 *                prompt position and then every generated token as it is fed: the same as
 *                explicit positions [promptLength - 1, promptLength, promptLength + 1, ...].
 *                This is the cache-consistent reading: a position's activations are computed
 *                once, when it is fed, and stay in the cache as they were (re-steering an
 *                earlier token would need recomputing every later one).
 *   [p, ...]     these absolute positions. In one forward pass they must lie inside it
 *                (hooks/plan.ts validateRunPositions); during generation they may name
 *                tokens not generated yet (below n_ctx), applied when those are fed.
 */
import type { Positions } from './plan';

export interface RunPositions {
  /** Absolute position of the first token fed in this run. */
  start: number;
  /** Number of tokens fed in this run. */
  count: number;
  /** Length of the prompt; positions at or past it are generated tokens. */
  promptLength: number;
}

/** Whether the token at absolute `position` is selected. "last" means the last token fed in this run (see above). */
export function isSelected(selector: Positions, position: number, run: RunPositions): boolean {
  if (Array.isArray(selector)) return selector.includes(position);
  switch (selector) {
    case 'all':
      return true;
    case 'last':
      return position === run.start + run.count - 1;
    case 'prompt':
      return position < run.promptLength;
    case 'generated':
      return position >= run.promptLength;
  }
}

/** The selected positions of this run, as indices into the fed tokens. */
export function selectedIndices(selector: Positions, run: RunPositions): number[] {
  const indices: number[] = [];
  for (let i = 0; i < run.count; i++) if (isSelected(selector, run.start + i, run)) indices.push(i);
  return indices;
}

/** A [count] mask of 1 at selected positions and 0 elsewhere (fed as [batch, seq, 1]). */
export function positionMask(selector: Positions, run: RunPositions): Float32Array {
  const mask = new Float32Array(run.count);
  for (let i = 0; i < run.count; i++) mask[i] = isSelected(selector, run.start + i, run) ? 1 : 0;
  return mask;
}
