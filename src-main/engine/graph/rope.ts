/**
 * Rotary position embedding tables (rotate-half convention, as Hugging Face Llama).
 * Mirrors transformers' `_compute_default_rope_parameters` and
 * `_compute_llama3_parameters`; products are rounded to float32 like the reference.
 */
import type { ModelSpec } from '../model/spec';

/**
 * The rotary frequencies of the global blocks (ropeTheta with ropeScaling), or with
 * `local` of the sliding-window blocks of a model with a second base (Gemma 3:
 * rope_local_base_freq, unscaled, as transformers builds its local rotary embedding with
 * rope_type "default").
 */
export function ropeInverseFrequencies(spec: ModelSpec, local = false): Float64Array {
  const half = spec.dHead / 2;
  const invFreq = new Float64Array(half);
  const theta = local ? (spec.traits.ropeLocalTheta ?? spec.ropeTheta) : spec.ropeTheta;
  for (let j = 0; j < half; j++) invFreq[j] = Math.fround(1 / Math.pow(theta, (2 * j) / spec.dHead));
  const scaling = local && spec.traits.ropeLocalTheta !== null ? null : spec.ropeScaling;
  if (scaling?.type === 'linear') {
    for (let j = 0; j < half; j++) invFreq[j] /= scaling.factor;
  } else if (scaling?.type === 'llama3') {
    // Long wavelengths are slowed by `factor`, short ones kept, the band between interpolated.
    const lowFreqWavelen = scaling.originalMaxPositions / scaling.lowFreqFactor;
    const highFreqWavelen = scaling.originalMaxPositions / scaling.highFreqFactor;
    for (let j = 0; j < half; j++) {
      const wavelen = (2 * Math.PI) / invFreq[j];
      if (wavelen > lowFreqWavelen) {
        invFreq[j] /= scaling.factor;
      } else if (wavelen >= highFreqWavelen) {
        const smooth = (scaling.originalMaxPositions / wavelen - scaling.lowFreqFactor) / (scaling.highFreqFactor - scaling.lowFreqFactor);
        invFreq[j] = (1 - smooth) * (invFreq[j] / scaling.factor) + smooth * invFreq[j];
      }
    }
  }
  return invFreq;
}

/** cos and sin of position * frequency, each [nPositions, dHead / 2] (`local`: see ropeInverseFrequencies). */
export function ropeTables(spec: ModelSpec, nPositions: number, local = false): { cos: Float32Array; sin: Float32Array } {
  const invFreq = ropeInverseFrequencies(spec, local);
  const half = invFreq.length;
  const cos = new Float32Array(nPositions * half);
  const sin = new Float32Array(nPositions * half);
  for (let pos = 0; pos < nPositions; pos++) {
    for (let j = 0; j < half; j++) {
      const angle = Math.fround(pos * Math.fround(invFreq[j]));
      cos[pos * half + j] = Math.cos(angle);
      sin[pos * half + j] = Math.sin(angle);
    }
  }
  return { cos, sin };
}
