import { describe, expect, it } from 'vitest';
import type { Variant } from '../api/types';
import { newVariant } from './defaults';
import { checkVariant, errorsOf, normalizeIssues, warningsOf } from './issues';
import { hooksOf, MODEL } from '../../test/fixtures';

const HOOKS = hooksOf(MODEL);
const withStep = (step: Variant['interventions'][number]): Variant => ({ ...newVariant('v'), interventions: [step] });

describe('vector widths, by the hook’s last dim as the engine checks them', () => {
  const add = (hook: string, width: number) => withStep({ op: 'add', hook, vector: new Array<number>(width).fill(0.5), scale: 1, positions: 'all' });

  it('accepts d_model at residual hooks, d_head at head sites and d_mlp at MLP sites', () => {
    expect(checkVariant(add('blocks.1.hook_resid_post', MODEL.dModel), MODEL, HOOKS)).toEqual([]);
    expect(checkVariant(add('blocks.1.attn.hook_z', MODEL.dHead), MODEL, HOOKS)).toEqual([]);
    expect(checkVariant(add('blocks.1.mlp.hook_post', MODEL.dMlp), MODEL, HOOKS)).toEqual([]);
  });

  it('names the width the hook needs', () => {
    expect(checkVariant(add('blocks.1.mlp.hook_post', MODEL.dModel), MODEL, HOOKS)).toEqual([{ path: 'interventions.0.vector', message: 'has 4 values; blocks.1.mlp.hook_post needs d_mlp = 8' }]);
    expect(checkVariant(add('blocks.1.hook_resid_post', 3), MODEL, HOOKS)).toEqual([{ path: 'interventions.0.vector', message: 'has 3 values; blocks.1.hook_resid_post needs d_model = 4' }]);
  });

  it('leaves widths to the engine without a hook list, and decoding layers always', () => {
    expect(checkVariant(add('blocks.1.mlp.hook_post', 3), MODEL, [])).toEqual([]);
    const dola: Variant = { ...newVariant('v'), decoding: { strategy: 'dola', layers: [9], alpha: 0.1, prematureFinalNorm: false, repetitionPenalty: 1.2 } };
    expect(checkVariant(dola, MODEL, HOOKS)).toEqual([]);
  });
});

describe('blocks past the model’s last, found without the engine', () => {
  const vector = [0.1, 0.2, 0.3, 0.4]; // MODEL's d_model

  it('flags the block of a steering op or a patch, besides any other problem', () => {
    expect(checkVariant(withStep({ op: 'add', hook: 'blocks.9.hook_resid_post', vector, scale: 1, positions: 'all' }), MODEL, HOOKS)).toEqual([
      { path: 'interventions.0.hook', message: 'block 9 is out of range (0..4)' },
    ]);
    expect(checkVariant(withStep({ op: 'add', hook: 'blocks.9.hook_resid_post', vector: [], scale: 1, positions: 'all' }), MODEL, HOOKS).map((issue) => issue.path)).toEqual([
      'interventions.0.hook',
      'interventions.0.vector',
    ]);
    expect(checkVariant(withStep({ op: 'patch', hook: 'blocks.5.hook_resid_pre', positions: 'all', source: { prompt_ids: [1] } }), MODEL, HOOKS)).toEqual([
      { path: 'interventions.0.hook', message: 'block 5 is out of range (0..4)' },
    ]);
  });

  it('flags lens layers and weight_delta params past the last block', () => {
    expect(checkVariant(withStep({ op: 'lens', layers: [2, 7] }), MODEL, HOOKS)).toEqual([{ path: 'interventions.0.layers.1', message: 'block 7 is out of range (0..4)' }]);
    expect(checkVariant(withStep({ op: 'weight_delta', param: 'blocks.6.mlp.down_proj', u: [1], v: [1] }), MODEL, HOOKS)).toEqual([
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
    const issues = checkVariant(variant, MODEL, HOOKS);
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
