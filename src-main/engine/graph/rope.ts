/**
 * Rotary position embedding tables (rotate-half convention, as Hugging Face Llama).
 * Mirrors transformers' `_compute_default_rope_parameters`, `_compute_llama3_parameters`
 * and `_compute_longrope_parameters`; products are rounded to float32 like the reference.
 */
import { ropeTableRows, rotaryDim, type ModelSpec } from '../model/spec';

/**
 * Which frequencies: the global blocks' (ropeTheta with ropeScaling; LongRoPE's short
 * factors), LongRoPE's long factors, or the sliding-window blocks' of a model with a second
 * base (Gemma 3: rope_local_base_freq, unscaled, as transformers builds its local rotary
 * embedding with rope_type "default").
 */
export type RopeTable = 'global' | 'long' | 'local';

/** Inverse frequencies of the rotary dims (rotaryDim / 2 of them). */
export function ropeInverseFrequencies(spec: ModelSpec, table: RopeTable = 'global'): Float64Array {
  const dim = rotaryDim(spec);
  const half = dim / 2;
  const invFreq = new Float64Array(half);
  const local = table === 'local' && spec.traits.ropeLocalTheta !== null;
  const theta = local ? (spec.traits.ropeLocalTheta ?? spec.ropeTheta) : spec.ropeTheta;
  for (let j = 0; j < half; j++) invFreq[j] = Math.fround(1 / Math.pow(theta, (2 * j) / dim));
  const scaling = local ? null : spec.ropeScaling;
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
  } else if (scaling?.type === 'longrope') {
    const factors = table === 'long' ? scaling.longFactor : scaling.shortFactor;
    for (let j = 0; j < half; j++) invFreq[j] = Math.fround(invFreq[j] / factors[j]);
  }
  return invFreq;
}

/**
 * cos and sin tables, each [rows, rotaryDim / 2]: row p holds position p. The global table
 * has ropeTableRows(spec) rows: LongRoPE's holds the short-factor rows of positions
 * 0..originalMaxPositions-1 and then the long-factor rows of every position (row
 * originalMaxPositions + p), all times its attention factor; the graph reads the long rows
 * once the sequence is longer than originalMaxPositions (forward.ts). With `local`, the
 * local blocks' table (one row per position).
 */
export function ropeTables(spec: ModelSpec, local = false): { rows: number; half: number; cos: Float32Array; sin: Float32Array } {
  const rows = local ? spec.nCtx : ropeTableRows(spec);
  const half = rotaryDim(spec) / 2;
  const cos = new Float32Array(rows * half);
  const sin = new Float32Array(rows * half);
  const fill = (invFreq: Float64Array, firstRow: number, positions: number, scale: number): void => {
    for (let pos = 0; pos < positions; pos++) {
      for (let j = 0; j < half; j++) {
        const angle = Math.fround(pos * Math.fround(invFreq[j]));
        cos[(firstRow + pos) * half + j] = Math.cos(angle) * scale;
        sin[(firstRow + pos) * half + j] = Math.sin(angle) * scale;
      }
    }
  };
  const scaling = spec.ropeScaling;
  if (local) {
    fill(ropeInverseFrequencies(spec, 'local'), 0, spec.nCtx, 1);
  } else if (scaling?.type === 'longrope') {
    fill(ropeInverseFrequencies(spec), 0, scaling.originalMaxPositions, scaling.attentionFactor);
    fill(ropeInverseFrequencies(spec, 'long'), scaling.originalMaxPositions, spec.nCtx, scaling.attentionFactor);
  } else {
    fill(ropeInverseFrequencies(spec), 0, spec.nCtx, 1);
  }
  return { rows, half, cos, sin };
}
