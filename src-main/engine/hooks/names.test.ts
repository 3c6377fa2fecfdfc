import { describe, expect, it } from 'vitest';
import { EngineError } from '../errors';
import { readFileSync } from 'node:fs';
import { storiesSpec } from '../../test/fixtures/specs';
import { sharedPath } from '../../test/shared-paths';
import { specFromConfig } from '../model/config';
import { hookInfo, hookName, listHooks, parseHookName } from './names';
import { GEMMA2_CONFIG } from '../../test/fixtures/gemma2-config';
import { gemma2Family } from '../model/families/gemma2';

function thrown(fn: () => unknown): EngineError {
  try {
    fn();
  } catch (error) {
    if (error instanceof EngineError) return error;
    throw error;
  }
  throw new Error('expected an EngineError');
}

describe('listHooks', () => {
  it("lists GPT-2's hooks exactly as TransformerLens's catalogue, in its order, less the SoLU-only sites", () => {
    const transformerLens = JSON.parse(readFileSync(sharedPath('interchange', 'transformerlens', 'solu-1l_cache_hook_names.json'), 'utf8')) as string[];
    const soluOnly = (name: string) => /\.mlp\.(hook_mid|ln\.)/.test(name);
    // unembed.hook_out is Tiller's 'logits'.
    const expected = transformerLens.filter((name) => !soluOnly(name)).map((name) => (name === 'unembed.hook_out' ? 'logits' : name));
    expect(expected).toContain('blocks.0.attn.hook_attn_scores');
    const gpt2 = { ...specFromConfig(sharedPath('hf-meta', 'openai-community__gpt2')), nLayers: 1 };
    expect(listHooks(gpt2).map((hook) => hook.name)).toEqual(expected);
  });

  it("lists a Gemma 2 block's sandwich-norm sites where they run: after o_proj and after down_proj", () => {
    const gemma2 = { ...gemma2Family.specFromConfig(GEMMA2_CONFIG, 'config.json'), nLayers: 1 };
    expect(listHooks(gemma2).map((hook) => hook.name)).toEqual([
      'hook_embed',
      'blocks.0.hook_resid_pre',
      'blocks.0.ln1.hook_scale',
      'blocks.0.ln1.hook_normalized',
      'blocks.0.attn.hook_q',
      'blocks.0.attn.hook_k',
      'blocks.0.attn.hook_v',
      'blocks.0.attn.hook_rot_q',
      'blocks.0.attn.hook_rot_k',
      'blocks.0.attn.hook_attn_scores',
      'blocks.0.attn.hook_pattern',
      'blocks.0.attn.hook_z',
      'blocks.0.ln1_post.hook_scale',
      'blocks.0.ln1_post.hook_normalized',
      'blocks.0.hook_attn_out',
      'blocks.0.hook_resid_mid',
      'blocks.0.ln2.hook_scale',
      'blocks.0.ln2.hook_normalized',
      'blocks.0.mlp.hook_pre',
      'blocks.0.mlp.hook_pre_linear',
      'blocks.0.mlp.hook_post',
      'blocks.0.ln2_post.hook_scale',
      'blocks.0.ln2_post.hook_normalized',
      'blocks.0.hook_mlp_out',
      'blocks.0.hook_resid_post',
      'ln_final.hook_scale',
      'ln_final.hook_normalized',
      'unembed.hook_in',
      'logits',
    ]);
  });

  // Golden list: renaming, dropping or reordering a hook breaks users, so it must fail here.
  it('lists every hook of a 2-block model in execution order', () => {
    expect(listHooks(storiesSpec({ nLayers: 2 })).map((hook) => hook.name)).toEqual([
      'hook_embed',
      'blocks.0.hook_resid_pre',
      'blocks.0.ln1.hook_scale',
      'blocks.0.ln1.hook_normalized',
      'blocks.0.attn.hook_q',
      'blocks.0.attn.hook_k',
      'blocks.0.attn.hook_v',
      'blocks.0.attn.hook_rot_q',
      'blocks.0.attn.hook_rot_k',
      'blocks.0.attn.hook_attn_scores',
      'blocks.0.attn.hook_pattern',
      'blocks.0.attn.hook_z',
      'blocks.0.hook_attn_out',
      'blocks.0.hook_resid_mid',
      'blocks.0.ln2.hook_scale',
      'blocks.0.ln2.hook_normalized',
      'blocks.0.mlp.hook_pre',
      'blocks.0.mlp.hook_pre_linear',
      'blocks.0.mlp.hook_post',
      'blocks.0.hook_mlp_out',
      'blocks.0.hook_resid_post',
      'blocks.1.hook_resid_pre',
      'blocks.1.ln1.hook_scale',
      'blocks.1.ln1.hook_normalized',
      'blocks.1.attn.hook_q',
      'blocks.1.attn.hook_k',
      'blocks.1.attn.hook_v',
      'blocks.1.attn.hook_rot_q',
      'blocks.1.attn.hook_rot_k',
      'blocks.1.attn.hook_attn_scores',
      'blocks.1.attn.hook_pattern',
      'blocks.1.attn.hook_z',
      'blocks.1.hook_attn_out',
      'blocks.1.hook_resid_mid',
      'blocks.1.ln2.hook_scale',
      'blocks.1.ln2.hook_normalized',
      'blocks.1.mlp.hook_pre',
      'blocks.1.mlp.hook_pre_linear',
      'blocks.1.mlp.hook_post',
      'blocks.1.hook_mlp_out',
      'blocks.1.hook_resid_post',
      'ln_final.hook_scale',
      'ln_final.hook_normalized',
      'unembed.hook_in',
      'logits',
    ]);
  });

  it('agrees with hookInfo on every hook', () => {
    const spec = storiesSpec();
    const hooks = listHooks(spec);
    expect(hooks).toHaveLength(1 + 20 * 5 + 4);
    for (const hook of hooks) expect(hookInfo(spec, hook.name)).toEqual(hook);
  });
});

describe('hookInfo shapes (stories260K-like spec)', () => {
  const spec = storiesSpec();
  it.each([
    ['hook_embed', null, 'hook_embed', ['pos', 'd_model'], ['pos', 64], 'dim', 64],
    ['blocks.0.hook_resid_pre', 0, 'hook_resid_pre', ['pos', 'd_model'], ['pos', 64], 'dim', 64],
    ['blocks.1.ln1.hook_scale', 1, 'ln1.hook_scale', ['pos', 'scale'], ['pos', 1], 'dim', 1],
    ['blocks.1.ln1.hook_normalized', 1, 'ln1.hook_normalized', ['pos', 'd_model'], ['pos', 64], 'dim', 64],
    ['blocks.2.attn.hook_q', 2, 'attn.hook_q', ['pos', 'head', 'd_head'], ['pos', 8, 8], 'head', 8],
    ['blocks.2.attn.hook_k', 2, 'attn.hook_k', ['pos', 'head', 'd_head'], ['pos', 4, 8], 'head', 4],
    ['blocks.2.attn.hook_v', 2, 'attn.hook_v', ['pos', 'head', 'd_head'], ['pos', 4, 8], 'head', 4],
    ['blocks.2.attn.hook_rot_q', 2, 'attn.hook_rot_q', ['pos', 'head', 'd_head'], ['pos', 8, 8], 'head', 8],
    ['blocks.2.attn.hook_rot_k', 2, 'attn.hook_rot_k', ['pos', 'head', 'd_head'], ['pos', 4, 8], 'head', 4],
    ['blocks.3.attn.hook_attn_scores', 3, 'attn.hook_attn_scores', ['head', 'q_pos', 'k_pos'], [8, 'pos', 'pos'], 'head', 8],
    ['blocks.3.attn.hook_pattern', 3, 'attn.hook_pattern', ['head', 'q_pos', 'k_pos'], [8, 'pos', 'pos'], 'head', 8],
    ['blocks.3.attn.hook_z', 3, 'attn.hook_z', ['pos', 'head', 'd_head'], ['pos', 8, 8], 'head', 8],
    ['blocks.3.hook_attn_out', 3, 'hook_attn_out', ['pos', 'd_model'], ['pos', 64], 'dim', 64],
    ['blocks.3.hook_resid_mid', 3, 'hook_resid_mid', ['pos', 'd_model'], ['pos', 64], 'dim', 64],
    ['blocks.3.ln2.hook_scale', 3, 'ln2.hook_scale', ['pos', 'scale'], ['pos', 1], 'dim', 1],
    ['blocks.3.ln2.hook_normalized', 3, 'ln2.hook_normalized', ['pos', 'd_model'], ['pos', 64], 'dim', 64],
    ['blocks.1.mlp.hook_pre', 1, 'mlp.hook_pre', ['pos', 'd_mlp'], ['pos', 172], 'neuron', 172],
    ['blocks.1.mlp.hook_pre_linear', 1, 'mlp.hook_pre_linear', ['pos', 'd_mlp'], ['pos', 172], 'neuron', 172],
    ['blocks.1.mlp.hook_post', 1, 'mlp.hook_post', ['pos', 'd_mlp'], ['pos', 172], 'neuron', 172],
    ['blocks.4.hook_mlp_out', 4, 'hook_mlp_out', ['pos', 'd_model'], ['pos', 64], 'dim', 64],
    ['blocks.4.hook_resid_post', 4, 'hook_resid_post', ['pos', 'd_model'], ['pos', 64], 'dim', 64],
    ['ln_final.hook_scale', null, 'ln_final.hook_scale', ['pos', 'scale'], ['pos', 1], 'dim', 1],
    ['ln_final.hook_normalized', null, 'ln_final.hook_normalized', ['pos', 'd_model'], ['pos', 64], 'dim', 64],
    ['unembed.hook_in', null, 'unembed.hook_in', ['pos', 'd_model'], ['pos', 64], 'dim', 64],
    ['logits', null, 'logits', ['pos', 'd_vocab'], ['pos', 512], null, 0],
  ])('%s', (name, layer, site, dims, shape, indexUnit, nIndex) => {
    expect(hookInfo(spec, name)).toEqual({ name, layer, site, dims, shape, indexUnit, nIndex });
  });
});

describe('hookInfo errors', () => {
  const spec = storiesSpec();

  it('names the valid sites and layer range for an unknown hook', () => {
    const error = thrown(() => hookInfo(spec, 'blocks.2.hook_resid_postt'));
    expect(error.code).toBe('bad_argument');
    expect(error.message).toBe(
      "unknown hook 'blocks.2.hook_resid_postt'; valid: hook_embed, blocks.{0..4}.hook_resid_pre, blocks.{0..4}.ln1.hook_scale, blocks.{0..4}.ln1.hook_normalized, " +
        'blocks.{0..4}.attn.hook_q, blocks.{0..4}.attn.hook_k, blocks.{0..4}.attn.hook_v, blocks.{0..4}.attn.hook_rot_q, ' +
        'blocks.{0..4}.attn.hook_rot_k, blocks.{0..4}.attn.hook_attn_scores, blocks.{0..4}.attn.hook_pattern, blocks.{0..4}.attn.hook_z, blocks.{0..4}.hook_attn_out, ' +
        'blocks.{0..4}.hook_resid_mid, blocks.{0..4}.ln2.hook_scale, blocks.{0..4}.ln2.hook_normalized, blocks.{0..4}.mlp.hook_pre, blocks.{0..4}.mlp.hook_pre_linear, ' +
        'blocks.{0..4}.mlp.hook_post, blocks.{0..4}.hook_mlp_out, blocks.{0..4}.hook_resid_post, ln_final.hook_scale, ln_final.hook_normalized, unembed.hook_in, logits',
    );
  });

  it('names the block range for a layer out of range', () => {
    const error = thrown(() => hookInfo(spec, 'blocks.7.hook_resid_post'));
    expect(error.code).toBe('bad_argument');
    expect(error.message).toBe('layer 7 is out of range: this model has blocks 0..4');
    expect(thrown(() => hookInfo(spec, 'blocks.5.hook_resid_pre')).message).toBe('layer 5 is out of range: this model has blocks 0..4');
  });

  it.each(['', 'resid_post', 'blocks.2', 'blocks.-1.hook_resid_post', 'blocks.02.hook_resid_post', 'blocks.x.hook_resid_post', 'blocks.2.hook_embed', 'blocks.2.logits', 'Logits'])(
    'rejects %j as unknown',
    (name) => {
      expect(thrown(() => hookInfo(spec, name)).message).toMatch(/^unknown hook/);
    },
  );
});

describe('hookName builders and parseHookName', () => {
  it('build the names listHooks uses', () => {
    const names = new Set(listHooks(storiesSpec()).map((hook) => hook.name));
    const built = [
      hookName.embed(),
      ...[0, 4].flatMap((layer) => [
        hookName.residPre(layer),
        hookName.ln1Scale(layer),
        hookName.ln1Normalized(layer),
        hookName.q(layer),
        hookName.k(layer),
        hookName.v(layer),
        hookName.rotQ(layer),
        hookName.rotK(layer),
        hookName.attnScores(layer),
        hookName.pattern(layer),
        hookName.z(layer),
        hookName.attnOut(layer),
        hookName.residMid(layer),
        hookName.ln2Scale(layer),
        hookName.ln2Normalized(layer),
        hookName.mlpPre(layer),
        hookName.mlpPreLinear(layer),
        hookName.mlpPost(layer),
        hookName.mlpOut(layer),
        hookName.residPost(layer),
      ]),
      hookName.lnFinalScale(),
      hookName.lnFinalNormalized(),
      hookName.unembedIn(),
      hookName.logits(),
    ];
    expect(new Set(built).size).toBe(built.length);
    for (const name of built) expect(names.has(name)).toBe(true);
    expect(hookName.residPost(3)).toBe('blocks.3.hook_resid_post');
    expect(hookName.z(0)).toBe('blocks.0.attn.hook_z');
  });

  it('split names into layer and site without a model', () => {
    expect(parseHookName('blocks.12.attn.hook_z')).toEqual({ layer: 12, site: 'attn.hook_z' });
    expect(parseHookName('ln_final.hook_normalized')).toEqual({ layer: null, site: 'ln_final.hook_normalized' });
    expect(parseHookName('blocks.12.attn.hook_zz')).toBeNull();
  });
});
