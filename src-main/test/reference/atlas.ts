/**
 * Reference neuron decoding (METHODS.md 5), for tests only: a neuron's direction taken
 * from the Hugging Face weights (up/gate rows, down columns), the final norm without its
 * bias, then a plain float64 matrix product with the unembedding and a full sort.
 */
import { paramName, type ModelSpec } from '../../engine/model/spec';
import type { WeightGetter } from './forward';

export type Matrix = 'up' | 'gate' | 'down';

export function referenceDirection(spec: ModelSpec, weight: WeightGetter, layer: number, matrix: Matrix, neuron: number): Float64Array {
  const { dModel, dMlp } = spec;
  if (matrix === 'down') {
    const down = weight(paramName.down(layer)); // [d_model, d_mlp]
    return Float64Array.from({ length: dModel }, (_, d) => down[d * dMlp + neuron]);
  }
  const w = weight(matrix === 'up' ? paramName.up(layer) : paramName.gate(layer)); // [d_mlp, d_model]
  return Float64Array.from(w.subarray(neuron * dModel, (neuron + 1) * dModel));
}

/** The direction through the final norm's scaling and gain (LayerNorm: centred too, its bias left out), then the head. */
export function referenceDecode(spec: ModelSpec, weight: WeightGetter, direction: Float64Array, finalNorm = true): Float64Array {
  const { dModel, dVocab, normEps } = spec;
  let x = direction;
  if (finalNorm) {
    const gain = weight(paramName.lnFinal());
    const mean = spec.traits.norm === 'layer' ? x.reduce((a, b) => a + b, 0) / dModel : 0;
    const centred = x.map((v) => v - mean);
    const scale = 1 / Math.sqrt(centred.reduce((a, v) => a + v * v, 0) / dModel + normEps);
    x = centred.map((v, d) => v * scale * gain[d]);
  }
  const unembed = spec.tiedEmbeddings ? weight(paramName.embed()) : weight(paramName.unembed()); // [d_vocab, d_model]
  const logits = new Float64Array(dVocab);
  for (let v = 0; v < dVocab; v++) {
    let sum = 0;
    for (let d = 0; d < dModel; d++) sum += x[d] * unembed[v * dModel + d];
    logits[v] = sum;
  }
  return logits;
}

/** Token ids by logit, highest first. */
export function sortedIds(logits: Float64Array): number[] {
  return Array.from(logits.keys()).sort((a, b) => logits[b] - logits[a] || a - b);
}

/** log sum exp and entropy (nats) of the softmax of `logits`. */
export function distributionOf(logits: Float64Array): { logSumExp: number; entropy: number } {
  const max = Math.max(...logits);
  let sum = 0;
  let weighted = 0;
  for (const z of logits) {
    const e = Math.exp(z - max);
    sum += e;
    weighted += e * z;
  }
  const logSumExp = max + Math.log(sum);
  return { logSumExp, entropy: logSumExp - weighted / sum };
}

/**
 * Every neuron's logits of one layer and matrix as z-scores across the neurons: each
 * token's logit minus its mean over the neurons, over its standard deviation (1/n), [neuron][token].
 */
export function referenceZScores(spec: ModelSpec, weight: WeightGetter, layer: number, matrix: Matrix, finalNorm = true): Float64Array[] {
  const n = spec.dMlp;
  const logits = Array.from({ length: n }, (_, neuron) => referenceDecode(spec, weight, referenceDirection(spec, weight, layer, matrix, neuron), finalNorm));
  const mean = new Float64Array(spec.dVocab);
  const square = new Float64Array(spec.dVocab);
  for (const row of logits) row.forEach((z, t) => (mean[t] += z / n));
  for (const row of logits) row.forEach((z, t) => (square[t] += (z - mean[t]) ** 2 / n));
  return logits.map((row) => row.map((z, t) => (z - mean[t]) / Math.sqrt(square[t])));
}
