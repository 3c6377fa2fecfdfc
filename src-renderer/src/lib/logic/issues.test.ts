import { describe, expect, it } from 'vitest';
import type { Decoding, Variant } from '../api/types';
import { newVariant } from './defaults';
import { checkVariant, errorsOf, normalizeIssues, warningsOf } from './issues';
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

describe('blocks past the model’s last, found without the engine', () => {
  const withStep = (step: Variant['interventions'][number]): Variant => ({ ...newVariant('v'), interventions: [step] });
  const vector = [0.1, 0.2, 0.3, 0.4]; // MODEL's d_model

  it('flags the block of a steering op or a patch, besides any other problem', () => {
    expect(checkVariant(withStep({ op: 'add', hook: 'blocks.9.hook_resid_post', vector, scale: 1, positions: 'all' }), MODEL)).toEqual([
      { path: 'interventions.0.hook', message: 'block 9 is out of range (0..4)' },
    ]);
    expect(checkVariant(withStep({ op: 'add', hook: 'blocks.9.hook_resid_post', vector: [1, 2], scale: 1, positions: 'all' }), MODEL).map((issue) => issue.path)).toEqual([
      'interventions.0.hook',
      'interventions.0.vector',
    ]);
    expect(checkVariant(withStep({ op: 'patch', hook: 'blocks.5.hook_resid_pre', positions: 'all', source: { prompt_ids: [1] } }), MODEL)).toEqual([
      { path: 'interventions.0.hook', message: 'block 5 is out of range (0..4)' },
    ]);
  });

  it('flags lens layers and weight_delta params past the last block', () => {
    expect(checkVariant(withStep({ op: 'lens', layers: [2, 7] }), MODEL)).toEqual([{ path: 'interventions.0.layers.1', message: 'block 7 is out of range (0..4)' }]);
    expect(checkVariant(withStep({ op: 'weight_delta', param: 'blocks.6.mlp.down_proj', u: [1], v: [1] }), MODEL)).toEqual([
      { path: 'interventions.0.param', message: 'block 6 is out of range (0..4)' },
    ]);
  });
});

describe('warnings', () => {
  it('warns, without an error, about a contrast vector measured at another hook than its op’s', () => {
    const variant: Variant = {
      ...newVariant('v'),
      interventions: [{ op: 'add', hook: 'blocks.3.hook_resid_post', vector: [1, 0, 0, 0], scale: 4, positions: 'all' }],
      origins: { '0': { kind: 'contrast', hook: 'blocks.1.hook_resid_post', positive: 'a', negative: 'b', reduce: 'mean' } },
    };
    const issues = checkVariant(variant, MODEL);
    expect(errorsOf(issues)).toEqual([]);
    expect(warningsOf(issues)).toEqual([
      { path: 'interventions.0.vector', message: 'measured at blocks.1.hook_resid_post, not at blocks.3.hook_resid_post: compute it again for this hook', severity: 'warning' },
    ]);
  });

  it('keeps the engine’s severity when normalizing its paths', () => {
    expect(normalizeIssues([{ path: 'interventions[1]', message: 'no effect', severity: 'warning' }, { path: 'decoding.layers[0]', message: 'bad' }])).toEqual([
      { path: 'interventions.1', message: 'no effect', severity: 'warning' },
      { path: 'decoding.layers.0', message: 'bad' },
    ]);
  });
});
