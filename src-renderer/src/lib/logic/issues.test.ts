import { describe, expect, it } from 'vitest';
import type { Decoding, Variant } from '../api/types';
import { newVariant } from './defaults';
import { checkVariant } from './issues';
import { MODEL } from '../../test/fixtures';

const withDecoding = (decoding: Decoding): Variant => ({ ...newVariant('v'), decoding });
const lfd = (candidateLayers: number[]): Decoding => ({ strategy: 'lfd', candidateLayers, fusion: 'logprob', lambda: 0.5, plausibilityAlpha: null, applyFinalNorm: true });
const dola = (layers: number[]): Decoding => ({ strategy: 'dola', layers, alpha: 0.1, prematureFinalNorm: false, repetitionPenalty: 1.2 });

// MODEL has 5 blocks: hidden-state layers 0..5, where 5 is the final layer.
describe('decoding layers, as the engine checks them (engine/generate/decoding/layers.ts)', () => {
  it('lets LFD fuse layers 1..N-1 only: not the final layer, not the embeddings', () => {
    expect(checkVariant(withDecoding(lfd([1, 4])), MODEL)).toEqual([]);
    expect(checkVariant(withDecoding(lfd([0, 3, 5])), MODEL)).toEqual([
      { path: 'decoding.candidateLayers.0', message: 'LFD candidate layer 0 is outside 1..4: layer 5 is the final layer it fuses with, and layer 0 has no block to score' },
      { path: 'decoding.candidateLayers.2', message: 'LFD candidate layer 5 is outside 1..4: layer 5 is the final layer it fuses with, and layer 0 has no block to score' },
    ]);
    expect(checkVariant(withDecoding(lfd([1])), { ...MODEL, nLayers: 1 })).toEqual([{ path: 'decoding.strategy', message: 'LFD needs a model with at least 2 blocks; this one has 1' }]);
  });

  it('refuses DoLa only a list with no premature layer left (0..N-1); larger layers alone are dropped, as Hugging Face does', () => {
    expect(checkVariant(withDecoding(dola([0, 4])), MODEL)).toEqual([]);
    expect(checkVariant(withDecoding(dola([2, 5])), MODEL)).toEqual([]);
    expect(checkVariant(withDecoding(dola([5])), MODEL)).toEqual([
      { path: 'decoding.layers', message: 'DoLa has no premature layer: layers [5] leaves none for a 5-block model; give layers in 0..4' },
    ]);
  });

  it('needs a model to check layers', () => {
    expect(checkVariant(withDecoding(lfd([9])), null)).toEqual([]);
  });
});
