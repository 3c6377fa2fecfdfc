/**
 * Rotary position embedding tables (rotate-half convention, as Hugging Face Llama).
 * Mirrors transformers' `_compute_default_rope_parameters` and
 * `_compute_llama3_parameters`; products are rounded to float32 like the reference.
 */
import type { ModelSpec } from '../model/spec';

export function ropeInverseFrequencies(spec: ModelSpec): Float64Array {
  const half = spec.dHead / 2;
  const invFreq = new Float64Array(half);
  for (let j = 0; j < half; j++) invFreq[j] = Math.fround(1 / Math.pow(spec.ropeTheta, (2 * j) / spec.dHead));
  const scaling = spec.ropeScaling;
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

/** cos and sin of position * frequency, each [nPositions, dHead / 2]. */
export function ropeTables(spec: ModelSpec, nPositions: number): { cos: Float32Array; sin: Float32Array } {
  const invFreq = ropeInverseFrequencies(spec);
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
