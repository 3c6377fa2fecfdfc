/**
 * Layer Fused Decoding (Sun et al., arXiv 2508.19614; METHODS.md 1): one generation step at
 * the last position. Only the selection rule, "the layer with the lowest IKS in the latter
 * half", is from the paper's abstract; the IKS formula, the three fusion forms and the
 * optional plausibility filter are this engine's design and UNVERIFIED as the paper's method,
 * so outputs must be labelled "LFD (approximate)".
 *
 *   IKS_l = JSD(softmax(lens(resid_mid l)), softmax(lens(resid_post l)))   [UNVERIFIED]
 *           how much block l's MLP moves the prediction: parametric knowledge written there
 *   l*    = argmin over candidates of IKS_l                                  [abstract]
 *   fused = logprob: (1-lambda) log p_N + lambda log p_l*                   [UNVERIFIED]
 *           logit:   z_N + lambda z_l*
 *           hidden:  W_U Norm_f(h_N + lambda h_l*)
 *   optional filter: tokens with p_N < alpha max p_N get -Infinity          [not known to be in LFD]
 *
 * l* is re-chosen at every step (the paper's TL;DR says "dynamically identifies"; UNVERIFIED).
 */
import { logSoftmax } from '../sampler';
import type { LfdDecoding } from '../../../../src-shared/decoding-schema';
import { jensenShannon } from './divergence';
import { plausibilityThreshold } from './dola';
import { lensLogits, pickLayer, requireCandidates, type LensStepResult } from './layers';

export interface LfdInput {
  final: Float32Array; // [d_vocab] the model's output logits z_N (already through the final norm)
  residPost: ReadonlyMap<number, Float32Array>; // layer l -> [d_vocab] lens logits of h_l, every candidate
  residMid: ReadonlyMap<number, Float32Array>; // layer l -> [d_vocab] lens logits of blocks.{l-1}.hook_resid_mid, every candidate
  /** layer l -> [d_vocab] logits W_U Norm_f(h_N + lambda h_l); 'hidden' fusion only, and only l* is read. */
  hiddenFused?: ReadonlyMap<number, Float32Array>;
}

/** IKS of one layer: JSD between the lens distributions just before and just after its MLP. [UNVERIFIED form] */
export function internalKnowledgeScore(residMidLogits: Float32Array, residPostLogits: Float32Array): number {
  return jensenShannon(logSoftmax(residMidLogits), logSoftmax(residPostLogits));
}

/**
 * l* = argmin IKS over the candidates (ties: lowest layer). Exported on its own so an engine
 * may decode the hidden fusion for l* only, after choosing it.
 */
export function lfdSelectLayer(
  input: Pick<LfdInput, 'final' | 'residPost' | 'residMid'>,
  candidates: readonly number[],
): { layer: number; candidateScores: Record<number, number> } {
  requireCandidates(candidates, 'LFD');
  const dVocab = input.final.length;
  const candidateScores: Record<number, number> = {};
  for (const layer of candidates) {
    candidateScores[layer] = internalKnowledgeScore(
      lensLogits(input.residMid, layer, 'resid_mid lens', dVocab),
      lensLogits(input.residPost, layer, 'resid_post lens', dVocab),
    );
  }
  return { layer: pickLayer(candidates, candidateScores, 'min'), candidateScores };
}

/**
 * One LFD step. The scores are logits for the sampler, not normalised log-probs: softmax is
 * shift-invariant, so the logprob form uses z_N in place of log p_N = z_N - logZ_N, and all
 * three forms are then exactly z_N at lambda = 0 (greedy decoding; 'hidden' given Norm_f(h_N)).
 */
export function lfdStep(
  input: LfdInput,
  options: Pick<LfdDecoding, 'fusion' | 'lambda' | 'plausibilityAlpha'>,
  candidates: readonly number[],
): LensStepResult {
  const { final } = input;
  const dVocab = final.length;
  const { lambda } = options;

  // 1. The layer to fuse with: lowest IKS.
  const { layer, candidateScores } = lfdSelectLayer(input, candidates);

  // 2. Fuse the final layer with l*.
  const scores = new Float32Array(dVocab);
  if (options.fusion === 'logprob') {
    const logpLayer = logSoftmax(lensLogits(input.residPost, layer, 'resid_post lens', dVocab)); // [d_vocab] log p_l*
    for (let id = 0; id < dVocab; id++) scores[id] = weighted(1 - lambda, final[id]) + weighted(lambda, logpLayer[id]);
  } else if (options.fusion === 'logit') {
    const zLayer = lensLogits(input.residPost, layer, 'resid_post lens', dVocab); // [d_vocab] z_l*
    for (let id = 0; id < dVocab; id++) scores[id] = final[id] + weighted(lambda, zLayer[id]);
  } else {
    scores.set(lensLogits(input.hiddenFused ?? new Map(), layer, 'hidden fusion', dVocab));
  }

  // 3. Optional plausibility filter on the final layer's distribution (DoLa's APC).
  if (options.plausibilityAlpha !== null) {
    const tau = plausibilityThreshold(final, options.plausibilityAlpha); // on logits: same set as on log-probs
    for (let id = 0; id < dVocab; id++) if (final[id] < tau) scores[id] = -Infinity;
  }
  return { scores, layer, candidateScores };
}

/** weight * value, with a zero weight giving 0 even for an infinite value (0 * -Infinity is NaN). */
function weighted(weight: number, value: number): number {
  return weight === 0 ? 0 : weight * value;
}
