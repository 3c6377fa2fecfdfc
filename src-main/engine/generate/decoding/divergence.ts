/**
 * Divergence between two next-token distributions, for the lens-based decoding strategies
 * (METHODS.md 0.1). Inputs are log-probabilities [d_vocab], as `logSoftmax` in ../sampler
 * returns them; the sum runs in float64.
 */

const LN_HALF = Math.log(0.5);

/**
 * Jensen-Shannon divergence in nats, summed over the whole vocabulary:
 *   JSD(P, Q) = ½ KL(P || M) + ½ KL(Q || M),  M = ½ (P + Q).
 * Symmetric, exactly 0 for identical inputs, at most ln 2 (reached for disjoint supports).
 * Tokens with probability 0 (log-prob -Infinity) contribute nothing (0 log 0 = 0).
 *
 * The DoLa reference code and Hugging Face reduce with `.mean(-1)` over the vocabulary,
 * i.e. this value divided by d_vocab: the layer with the largest JSD is the same, but their
 * numbers are not comparable with these.
 */
export function jensenShannon(logP: Float32Array, logQ: Float32Array): number {
  let sum = 0; // Σ_x p log(p/m) + q log(q/m)
  for (let id = 0; id < logP.length; id++) {
    const lp = logP[id];
    const lq = logQ[id];
    if (lp === lq) continue; // p = q = m: both terms are 0 (also covers both -Infinity)
    // log m = log ½ + logaddexp(lp, lq), kept in log space so tiny probabilities keep their precision.
    const hi = Math.max(lp, lq);
    const lo = Math.min(lp, lq);
    const logM = LN_HALF + hi + Math.log1p(Math.exp(lo - hi));
    const termP = lp === -Infinity ? 0 : Math.exp(lp) * (lp - logM);
    const termQ = lq === -Infinity ? 0 : Math.exp(lq) * (lq - logM);
    sum += termP + termQ; // one addition per token keeps JSD(P, Q) === JSD(Q, P) exactly
  }
  // Rounding can leave the sum a hair outside [0, ln 2]; clamp to the true range.
  return Math.min(Math.max(0.5 * sum, 0), Math.LN2);
}
