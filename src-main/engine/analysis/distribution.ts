/**
 * Statistics of one row of logits, computed in float64 (METHODS.md 3.1: fp32 softmax
 * over large vocabularies loses the tail). Shared by the lens grid, the patching
 * metrics and internal consistency, which all read distributions the same way.
 */

export interface LogitStats {
  /** log sum exp of the row: log p(t) = z[t] - logSumExp. */
  logSumExp: number;
  top1: number;
  top1Prob: number;
  /** Shannon entropy in nats. */
  entropy: number;
}

export function logitStats(z: ArrayLike<number>): LogitStats {
  let top1 = 0;
  for (let i = 1; i < z.length; i++) if (z[i] > z[top1]) top1 = i;
  const max = z[top1];
  let sum = 0;
  let weighted = 0; // sum of e^(z - max) * (z - max)
  for (let i = 0; i < z.length; i++) {
    const shifted = z[i] - max;
    const e = Math.exp(shifted);
    sum += e;
    weighted += e * shifted;
  }
  const logSumExp = max + Math.log(sum);
  // H = -sum p log p, with log p = shifted - log(sum).
  const entropy = Math.log(sum) - weighted / sum;
  return { logSumExp, top1, top1Prob: Math.exp(max - logSumExp), entropy };
}

/** Rank of token `id` in the row: 0 for the most likely (ties go to the lower id, like argmax). */
export function rankOf(z: ArrayLike<number>, id: number): number {
  const value = z[id];
  let rank = 0;
  for (let i = 0; i < z.length; i++) if (z[i] > value || (z[i] === value && i < id)) rank++;
  return rank;
}

/** p of token `id` under the row's softmax. */
export function tokenProb(z: ArrayLike<number>, id: number): number {
  return Math.exp(z[id] - logitStats(z).logSumExp);
}

/** log p of every token, as float64. */
export function logProbs(z: ArrayLike<number>): Float64Array {
  const { logSumExp } = logitStats(z);
  return Float64Array.from({ length: z.length }, (_, i) => z[i] - logSumExp);
}

/** KL(P || Q) in nats, with P given by its log-probabilities and Q by logits. */
export function klDivergence(logP: Float64Array, zQ: ArrayLike<number>): number {
  const { logSumExp } = logitStats(zQ);
  let kl = 0;
  for (let i = 0; i < logP.length; i++) {
    const p = Math.exp(logP[i]);
    if (p > 0) kl += p * (logP[i] - (zQ[i] - logSumExp));
  }
  return Math.max(0, kl);
}
