/**
 * DoLa, Decoding by Contrasting Layers (Chuang et al., arXiv 2309.03883; METHODS.md 2):
 * one generation step at the last position, following Hugging Face's `_dola_select_contrast`
 * and `_relative_top_filter` [verified: HF code]:
 *
 *   q_N = softmax(final logits),  q_j = softmax(lens logits of premature layer j)
 *   M   = argmax_j JSD(q_N, q_j)                       the most different premature layer
 *   tau = min(log max q_N + log alpha, log q_N(top-1))  APC, min_tokens_to_keep = 1
 *   F(x) = log q_N(x) - log q_M(x)  if log q_N(x) >= tau,  else -Infinity
 *   then the CTRL repetition penalty on F for ids already in the context.
 *
 * Differences from HF, none of which changes the chosen token for one sequence:
 * - M is chosen per sequence (HF averages JSD over the batch, one layer for all rows).
 * - JSD is a true sum over the vocabulary (HF takes the mean; same argmax).
 * - Exact JSD ties go to the lowest layer (HF: first in the caller's list).
 * With a single candidate this is DoLa-static: M is that layer.
 */
import { applyRepetitionPenalty, logSoftmax } from '../sampler';
import type { DolaDecoding } from '../../../../src-shared/decoding-schema';
import { jensenShannon } from './divergence';
import { lensLogits, pickLayer, requireCandidates, type LensStepResult } from './layers';

export interface DolaInput {
  final: Float32Array; // [d_vocab] the model's output logits z_N (already through the final norm)
  premature: ReadonlyMap<number, Float32Array>; // layer j -> [d_vocab] lens logits of h_j, for every candidate
}

export interface DolaStepResult extends LensStepResult {
  headSize: number; // |V_head|, the tokens that passed the plausibility constraint
}

/**
 * The adaptive plausibility constraint's threshold tau: tokens with score >= tau form V_head,
 * i.e. p(x) >= alpha * max p. `scores` may be logits or log-probs (the test only compares
 * against the maximum, so it is shift-invariant). The min() with the top score mirrors HF's
 * min_tokens_to_keep = 1: the most likely token always survives.
 */
export function plausibilityThreshold(scores: Float32Array, alpha: number): number {
  let top = -Infinity;
  for (let id = 0; id < scores.length; id++) if (scores[id] > top) top = scores[id];
  return Math.min(top + Math.log(alpha), top);
}

/**
 * One DoLa step. `previousIds` are all ids in the context so far (prompt and generated), as
 * HF's repetition processor sees input_ids. The penalty here is options.repetitionPenalty;
 * a caller that also applies the generation settings' penalty would apply it twice.
 */
export function dolaStep(
  input: DolaInput,
  options: Pick<DolaDecoding, 'alpha' | 'repetitionPenalty'>,
  candidates: readonly number[],
  previousIds: readonly number[],
): DolaStepResult {
  requireCandidates(candidates, 'DoLa');
  const dVocab = input.final.length;
  const logqFinal = logSoftmax(input.final); // [d_vocab] log q_N

  // 1. Premature layer M: the candidate whose distribution differs most from the final one.
  const candidateScores: Record<number, number> = {};
  for (const layer of candidates) {
    const logq = logSoftmax(lensLogits(input.premature, layer, 'premature', dVocab));
    candidateScores[layer] = jensenShannon(logqFinal, logq);
  }
  const layer = pickLayer(candidates, candidateScores, 'max');
  const logqPremature = logSoftmax(lensLogits(input.premature, layer, 'premature', dVocab)); // [d_vocab] log q_M

  // 2. Contrast inside V_head; tokens the final layer finds implausible can never be chosen.
  const tau = plausibilityThreshold(logqFinal, options.alpha);
  const contrast = new Float32Array(dVocab);
  let headSize = 0;
  for (let id = 0; id < dVocab; id++) {
    if (logqFinal[id] >= tau) {
      contrast[id] = logqFinal[id] - logqPremature[id];
      headSize++;
    } else {
      contrast[id] = -Infinity;
    }
  }

  // 3. Repetition penalty on the contrast scores (HF runs its logits processors after the contrast).
  const scores = applyRepetitionPenalty(contrast, previousIds, options.repetitionPenalty);
  return { scores, layer, candidateScores, headSize };
}
