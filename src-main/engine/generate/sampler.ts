/**
 * Samplers: pure functions from one position's logits [d_vocab] to a token id, in the
 * spirit of the sampler section of llama2.c's run.c (`sample_argmax`, `sample_mult`,
 * `sample_topp`), plus top-k and a CTRL-style repetition penalty. None of them mutate
 * their input; randomness comes only from the Rng passed in.
 *
 * Cost per token for a vocabulary of V (V can be ~150k):
 *   greedy            one O(V) scan, no allocation.
 *   temperature only  O(V) softmax and inverse-CDF walk; no sort.
 *   top-k             O(V log k) heap selection, then a sort of the k survivors.
 *   top-p             O(V) filter (run.c's cutoff trick, see `nucleus`), then a sort of
 *                     the survivors. On a flat distribution few tokens are filtered and
 *                     this approaches a full O(V log V) sort; accepted, because top-p
 *                     needs the probabilities in order.
 */
import type { Rng } from './rng';

// ---------------------------------------------------------------------------
// Logit transforms

/**
 * CTRL-style repetition penalty (Keskar et al. 2019, as in HF's
 * RepetitionPenaltyLogitsProcessor): for each distinct id in the context, a positive
 * logit is divided by `penalty` and a negative one multiplied, so penalty > 1 always makes
 * the token less likely. Returns `logits` itself when penalty is 1 (callers must not mutate it).
 */
export function applyRepetitionPenalty(
  logits: Float32Array,
  contextIds: readonly number[],
  penalty: number,
): Float32Array {
  if (penalty === 1) return logits;
  const penalized = new Float32Array(logits);
  for (const id of contextIds) {
    const logit = logits[id]; // read the original, so an id repeated in the context is penalised once
    penalized[id] = logit > 0 ? logit / penalty : logit * penalty;
  }
  return penalized;
}

/** log_softmax(logits) [d_vocab], computed in float64 with the max subtracted for stability. */
export function logSoftmax(logits: Float32Array): Float32Array {
  // Indexed loops throughout this file: at 150k entries they are measurably faster than for-of.
  let maxLogit = -Infinity;
  for (let id = 0; id < logits.length; id++) if (logits[id] > maxLogit) maxLogit = logits[id];
  let sumExp = 0;
  for (let id = 0; id < logits.length; id++) sumExp += Math.exp(logits[id] - maxLogit);
  const logNormalizer = maxLogit + Math.log(sumExp);
  const logprobs = new Float32Array(logits.length);
  for (let id = 0; id < logits.length; id++) logprobs[id] = logits[id] - logNormalizer;
  return logprobs;
}

/** softmax(logits[ids] / temperature), in the order of `ids`. Temperature must be > 0. */
export function softmaxWithTemperature(logits: Float32Array, ids: Int32Array, temperature: number): Float64Array {
  let maxLogit = -Infinity;
  for (let i = 0; i < ids.length; i++) if (logits[ids[i]] > maxLogit) maxLogit = logits[ids[i]];
  const probs = new Float64Array(ids.length);
  let sum = 0;
  for (let i = 0; i < ids.length; i++) {
    const weight = Math.exp((logits[ids[i]] - maxLogit) / temperature);
    probs[i] = weight;
    sum += weight;
  }
  for (let i = 0; i < probs.length; i++) probs[i] /= sum;
  return probs;
}

// ---------------------------------------------------------------------------
// Selection

/** Greedy decoding (run.c `sample_argmax`): the id of the largest value; ties go to the lowest id. */
export function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let id = 1; id < values.length; id++) if (values[id] > values[best]) best = id;
  return best;
}

/**
 * The ids of the `k` largest values, best first; ties go to the lowest id (matching
 * `argmax`). A size-k min-heap keeps this O(V log k) with no vocab-sized copy.
 */
export function topKIds(values: ArrayLike<number>, k: number): Int32Array {
  const count = Math.max(0, Math.min(k, values.length));
  const ranksAbove = (a: number, b: number): boolean => values[a] > values[b] || (values[a] === values[b] && a < b);
  // heap[0] is the weakest of the best `count` ids seen so far.
  const heap = new Int32Array(count);
  const siftDown = (): void => {
    for (let parent = 0; ; ) {
      const left = 2 * parent + 1;
      const right = left + 1;
      let weakest = parent;
      if (left < count && ranksAbove(heap[weakest], heap[left])) weakest = left;
      if (right < count && ranksAbove(heap[weakest], heap[right])) weakest = right;
      if (weakest === parent) return;
      [heap[parent], heap[weakest]] = [heap[weakest], heap[parent]];
      parent = weakest;
    }
  };
  for (let id = 0; id < count; id++) {
    heap[id] = id;
    for (let child = id; child > 0; ) {
      const parent = (child - 1) >> 1;
      if (!ranksAbove(heap[parent], heap[child])) break;
      [heap[parent], heap[child]] = [heap[child], heap[parent]];
      child = parent;
    }
  }
  for (let id = count; id < values.length; id++) {
    if (count > 0 && ranksAbove(id, heap[0])) {
      heap[0] = id;
      siftDown();
    }
  }
  return heap.sort((a, b) => (ranksAbove(a, b) ? -1 : 1));
}

/** A distribution over some of the vocabulary: `ids[i]` has probability `probs[i]`. */
export interface Candidates {
  ids: Int32Array;
  probs: Float64Array;
}

/**
 * Nucleus (top-p) filtering (Holtzman et al. 2019): keep the smallest set of most likely
 * candidates whose cumulative probability is >= topP, always at least one, renormalised
 * and sorted most likely first (ties: lowest id). Input probabilities must sum to 1.
 */
export function nucleus(candidates: Candidates, topP: number): Candidates {
  const { ids, probs } = candidates;
  if (topP >= 1 || ids.length <= 1) return candidates;
  // run.c's sample_topp trick: a candidate with probability below (1 - topP) / (n - 1)
  // can never be needed (the tail from the last needed candidate on holds more than
  // 1 - topP, spread over at most n - 1 candidates), so drop those before sorting.
  // run.c misses one case: when topP < 1/n the bound can exceed even the most likely
  // candidate, which must always survive, hence the min().
  let maxProb = 0;
  for (let i = 0; i < probs.length; i++) if (probs[i] > maxProb) maxProb = probs[i];
  const cutoff = Math.min((1 - topP) / (ids.length - 1), maxProb);
  const survivors: number[] = []; // indexes into `candidates`
  for (let i = 0; i < probs.length; i++) if (probs[i] >= cutoff) survivors.push(i);
  survivors.sort((a, b) => probs[b] - probs[a] || ids[a] - ids[b]);

  let keptCount = survivors.length; // if rounding keeps the sum below topP, keep every survivor
  let keptMass = 0;
  for (let rank = 0; rank < survivors.length; rank++) {
    keptMass += probs[survivors[rank]];
    if (keptMass >= topP) {
      keptCount = rank + 1;
      break;
    }
  }
  const kept: Candidates = { ids: new Int32Array(keptCount), probs: new Float64Array(keptCount) };
  for (let rank = 0; rank < keptCount; rank++) {
    kept.ids[rank] = ids[survivors[rank]];
    kept.probs[rank] = probs[survivors[rank]] / keptMass;
  }
  return kept;
}

/**
 * Inverse-CDF sampling (run.c `sample_mult`): the first index whose cumulative
 * probability exceeds `draw` (uniform in [0, 1)).
 */
export function sampleIndex(probs: Float64Array, draw: number): number {
  let cumulative = 0;
  for (let i = 0; i < probs.length; i++) {
    cumulative += probs[i];
    if (draw < cumulative) return i;
  }
  return probs.length - 1; // rounding left the total just below `draw`
}

// ---------------------------------------------------------------------------
// The sampler

export interface SamplingParams {
  temperature: number; // 0 means greedy
  topK: number; // 0 (or >= vocab) means off
  topP: number; // 1 means off
}

/**
 * Choose the next token from (already penalised) logits, in HF's order: temperature,
 * then top-k, then top-p over the top-k survivors, then one inverse-CDF draw from `rng`.
 * Greedy (temperature 0) draws nothing.
 */
export function chooseToken(logits: Float32Array, params: SamplingParams, rng: Rng): number {
  if (params.temperature === 0) return argmax(logits);
  const ids = params.topK > 0 && params.topK < logits.length ? topKIds(logits, params.topK) : allIds(logits.length);
  const candidates = nucleus({ ids, probs: softmaxWithTemperature(logits, ids, params.temperature) }, params.topP);
  return candidates.ids[sampleIndex(candidates.probs, rng.nextFloat())];
}

function allIds(vocabSize: number): Int32Array {
  const ids = new Int32Array(vocabSize);
  for (let id = 0; id < vocabSize; id++) ids[id] = id;
  return ids;
}

/** One entry of a top-k readout. */
export interface TokenLogprob {
  id: number;
  logprob: number;
}

/**
 * The `k` most likely tokens of a log-probability vector, most likely first (ties: lowest
 * id). Only tokens that can occur: a strategy that rules tokens out (DoLa's plausibility
 * filter) leaves fewer than k, never padding at logprob -Infinity.
 */
export function topAlternatives(logprobs: Float32Array, k = 5): TokenLogprob[] {
  return Array.from(topKIds(logprobs, k), (id) => ({ id, logprob: logprobs[id] })).filter((alt) => alt.logprob > -Infinity);
}
