import { describe, expect, it } from 'vitest';
import { EngineError } from '../../errors';
import { dolaDecodingSchema, lfdDecodingSchema } from '../../../../src-shared/decoding-schema';
import { dolaCandidateLayers, dolaLensNeeds, lfdCandidateLayers, lfdLensNeeds, pickLayer } from './layers';

const range = (start: number, stop: number, step = 1): number[] =>
  Array.from({ length: Math.max(0, Math.ceil((stop - start) / step)) }, (_, i) => start + i * step);

/** Runs `f` and returns the EngineError it throws. */
function engineError(f: () => unknown): EngineError {
  try {
    f();
  } catch (error) {
    if (error instanceof EngineError) return error;
    throw error;
  }
  throw new Error('expected an EngineError');
}

describe('lfdCandidateLayers', () => {
  it.each([
    [2, [1]],
    [3, [2]],
    [5, [3, 4]],
    [30, range(15, 30)],
    [48, range(24, 48)],
  ])('defaults to the latter half ceil(N/2)..N-1 for N = %i', (nLayers, expected) => {
    expect(lfdCandidateLayers(nLayers, {})).toEqual(expected);
  });

  it('sorts and deduplicates an explicit list', () => {
    expect(lfdCandidateLayers(30, { candidateLayers: [20, 3, 20, 29] })).toEqual([3, 20, 29]);
  });

  it.each([0, 30, 31])('rejects layer %i of a 30-block model, naming it and the valid range', (layer) => {
    const error = engineError(() => lfdCandidateLayers(30, { candidateLayers: [15, layer] }));
    expect(error.code).toBe('bad_plan');
    expect(error.message).toContain(`layer ${layer} `);
    expect(error.message).toContain('1..29');
    expect(error.details).toEqual({ layer, min: 1, max: 29 });
  });

  it('rejects a one-block model, which has no intermediate layer to fuse', () => {
    expect(engineError(() => lfdCandidateLayers(1, {})).code).toBe('bad_plan');
  });
});

describe('dolaCandidateLayers (Hugging Face buckets)', () => {
  it.each([
    // N, tied, low, high
    [5, true, [2], [2, 4]], // tied: start = 2 = N//2, so low is [start]
    [5, false, [0], [2, 4]],
    [30, true, range(2, 15, 2), range(15, 30, 2)], // SmolLM2-135M
    [30, false, range(0, 15, 2), range(15, 30, 2)],
    [32, false, range(0, 16, 2), range(16, 32, 2)], // LLaMA-7B, as in the DoLa README
    [40, true, range(2, 20, 2), range(20, 40, 2)],
    [48, false, range(0, 20, 2), range(28, 48, 2)], // N > 40: first and last 20 layers
    [48, true, range(2, 20, 2), range(28, 48, 2)],
    [2, true, [1], [1]],
    [1, true, [0], [0]],
  ])('N = %i, tied = %s', (nLayers, tied, low, high) => {
    expect(dolaCandidateLayers(nLayers, tied, 'low')).toEqual(low);
    expect(dolaCandidateLayers(nLayers, tied, 'high')).toEqual(high);
  });

  it('drops explicit layers >= N as HF does, and sorts the rest', () => {
    expect(dolaCandidateLayers(30, true, [31, 4, 0, 30, 4])).toEqual([0, 4]);
  });

  it('rejects a choice that leaves no premature layer', () => {
    const allTooDeep = engineError(() => dolaCandidateLayers(30, true, [30, 31]));
    expect(allTooDeep.code).toBe('bad_plan');
    expect(allTooDeep.message).toContain('0..29');
    // Tied 3-block model: start = 2 > N//2 = 1, so HF's low bucket is empty.
    expect(engineError(() => dolaCandidateLayers(3, true, 'low')).code).toBe('bad_plan');
  });
});

describe('lens needs', () => {
  it('LFD decodes resid_mid and resid_post of every candidate, and the fused state only for hidden fusion', () => {
    const logprob = lfdDecodingSchema.parse({ strategy: 'lfd' });
    expect(lfdLensNeeds([3, 4], logprob)).toEqual({ residPost: [3, 4], residMid: [3, 4], hiddenFusion: [], applyFinalNorm: true });
    const hidden = lfdDecodingSchema.parse({ strategy: 'lfd', fusion: 'hidden', applyFinalNorm: false });
    expect(lfdLensNeeds([3, 4], hidden)).toEqual({ residPost: [3, 4], residMid: [3, 4], hiddenFusion: [3, 4], applyFinalNorm: false });
  });

  it('DoLa decodes only the premature layers, without the final norm by default', () => {
    const options = dolaDecodingSchema.parse({ strategy: 'dola' });
    expect(dolaLensNeeds([0, 2], options)).toEqual({ residPost: [0, 2], residMid: [], hiddenFusion: [], applyFinalNorm: false });
  });
});

describe('pickLayer', () => {
  it('takes the smallest or largest score, ties to the lowest layer in any order', () => {
    const scores = { 4: 0.5, 2: 0.1, 6: 0.5, 8: 0.1 };
    expect(pickLayer([8, 6, 4, 2], scores, 'min')).toBe(2);
    expect(pickLayer([8, 6, 4, 2], scores, 'max')).toBe(4);
  });

  it('never picks a NaN score unless all are NaN', () => {
    expect(pickLayer([1, 2, 3], { 1: Number.NaN, 2: 0.3, 3: 0.2 }, 'max')).toBe(2);
    expect(pickLayer([3, 1], { 1: Number.NaN, 3: Number.NaN }, 'min')).toBe(1);
  });
});
