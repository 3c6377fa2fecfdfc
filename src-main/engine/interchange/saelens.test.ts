/** SAELens folders built from real SAEs' fields: features, decoder directions, encoder activations, and refusals. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { expectEngineError } from '../../test/expect-engine-error';
import { writeSaeFolder, type SaeFixture } from '../../test/fixtures/sae-folder';
import { storiesSpec } from '../../test/fixtures/specs';
import { sharedPath } from '../../test/shared-paths';
import { Engine } from '../engine';
import { saeFeaturesOnPrompt } from './sae-features';
import { Sae, topFeatures } from './saelens';

const root = mkdtempSync(join(tmpdir(), 'tiller-sae-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const spec = storiesSpec(); // d_model 64, 8 heads of 8
const dIn = 64;
const dSae = 24;
let count = 0;
const folder = () => join(root, `sae-${count++}`);

/** SAELens's encoder in float64, written out as the formula. */
function referenceEncode(fixture: SaeFixture, x: number[], architecture: string, k?: number): number[] {
  const centered = x.map((value, i) => value - fixture.b_dec[i]);
  const pre = Array.from({ length: dSae }, (_, j) => centered.reduce((sum, value, i) => sum + value * fixture.W_enc[i * dSae + j], fixture.b_enc[j]));
  if (architecture === 'jumprelu') return pre.map((value, j) => (value > fixture.threshold[j] ? value : 0));
  const relu = pre.map((value) => Math.max(0, value));
  if (architecture !== 'topk') return relu;
  const kept = new Set([...relu.keys()].sort((a, b) => relu[b] - relu[a]).slice(0, k));
  return relu.map((value, j) => (kept.has(j) ? value : 0));
}

const activations = (rows: number) => Float32Array.from({ length: rows * dIn }, (_, i) => Math.cos(i * 0.37) * 2);

describe('SAELens SAE folders', () => {
  it.each([
    ['standard', undefined, 'metadata'],
    ['jumprelu', undefined, 'flat'],
    ['topk', 3, 'metadata'],
  ] as const)('%s: the encoder matches SAELens\'s formula on every token', (architecture, k, layout) => {
    const fixture = writeSaeFolder(folder(), { hook: 'blocks.2.hook_resid_post', dIn, dSae, architecture, k, layout });
    const sae = Sae.open(fixture.folder);
    try {
      sae.checkModel(spec);
      expect(sae.info).toMatchObject({ hook: 'blocks.2.hook_resid_post', dIn, dSae, architecture, model: 'stories260K' });
      const x = activations(3);
      const acts = sae.encode(x);
      for (let t = 0; t < 3; t++) {
        const expected = referenceEncode(fixture, Array.from(x.subarray(t * dIn, (t + 1) * dIn)), architecture, k);
        Array.from(acts.subarray(t * dSae, (t + 1) * dSae)).forEach((value, j) => expect(value).toBeCloseTo(expected[j], 4));
        if (architecture === 'topk') expect(expected.filter((value) => value > 0).length).toBeLessThanOrEqual(3);
      }
      expect(acts.some((value) => value > 0)).toBe(true);
    } finally {
      sae.close();
    }
  });

  it("gives a feature's decoder row as its steering direction", () => {
    const fixture = writeSaeFolder(folder(), { hook: 'blocks.1.hook_resid_pre', dIn, dSae });
    const sae = Sae.open(fixture.folder);
    try {
      expect(sae.featureDirection(5)).toEqual(fixture.W_dec.subarray(5 * dIn, 6 * dIn));
      expect(() => sae.featureDirection(dSae)).toThrow(`features 0..${dSae - 1}`);
    } finally {
      sae.close();
    }
  });

  it('ranks the most active features of each token', () => {
    const acts = Float32Array.from([0, 3, 1, 0, /* token 1 */ 0, 0, 0, 0, /* token 2 */ 2, 2, 5, 0.5]);
    expect(topFeatures(acts, 4, 2)).toEqual([
      [{ feature: 1, activation: 3 }, { feature: 2, activation: 1 }],
      [],
      [{ feature: 2, activation: 5 }, { feature: 0, activation: 2 }],
    ]);
  });

  it('reads attention SAEs at hook_z, n_heads * d_head wide', () => {
    const sae = Sae.open(writeSaeFolder(folder(), { hook: 'blocks.0.attn.hook_z', dIn: 64, dSae }).folder);
    expect(() => sae.checkModel(spec)).not.toThrow();
    sae.close();
  });

  it('refuses an SAE that does not fit the model, with the reason', async () => {
    const wide = Sae.open(writeSaeFolder(folder(), { hook: 'blocks.2.hook_resid_post', dIn: 768, dSae: 4, cfg: { metadata: { model_name: 'gpt2-small', hook_name: 'blocks.2.hook_resid_post' } } }).folder);
    await expectEngineError(() => wide.checkModel(spec), 'bad_argument', 'd_in is 768 but blocks.2.hook_resid_post of this model is 64 wide', 'gpt2-small');
    wide.close();
    const deep = Sae.open(writeSaeFolder(folder(), { hook: 'blocks.11.hook_resid_post', dIn, dSae }).folder);
    await expectEngineError(() => deep.checkModel(spec), 'bad_argument', 'reads blocks.11.hook_resid_post, which this model does not have', 'layer 11 is out of range');
    deep.close();
    const foreign = Sae.open(writeSaeFolder(folder(), { hook: 'blocks.3.mlp.hook_in', dIn, dSae }).folder);
    await expectEngineError(() => foreign.checkModel(spec), 'bad_argument', 'blocks.3.mlp.hook_in', 'unknown hook');
    foreign.close();
  });

  it('refuses SAEs it cannot apply as SAELens does, and broken folders', async () => {
    const make = (options: Partial<Parameters<typeof writeSaeFolder>[1]>) => writeSaeFolder(folder(), { hook: 'blocks.0.hook_resid_pre', dIn, dSae, ...options }).folder;
    await expectEngineError(() => Sae.open(make({ architecture: 'jumprelu_transcoder' })), 'bad_argument', 'jumprelu_transcoder', 'hook_name_out');
    await expectEngineError(() => Sae.open(make({ cfg: { normalize_activations: 'layer_norm' } })), 'bad_argument', 'normalize_activations is "layer_norm"');
    await expectEngineError(() => Sae.open(make({ cfg: { metadata: { hook_name: 'blocks.0.attn.hook_z', hook_head_index: 3 } } })), 'bad_argument', 'only head 3');
    await expectEngineError(() => Sae.open(make({ cfg: { metadata: {} } })), 'bad_argument', 'names no hook');
    await expectEngineError(() => Sae.open(make({ architecture: 'topk' })), 'bad_argument', 'needs k');
    await expectEngineError(() => Sae.open(make({ architecture: 'gated' })), 'bad_argument', 'architecture "gated"');
    await expectEngineError(() => Sae.open(make({ cfg: { d_sae: 'many' } })), 'bad_argument', 'cfg.json: d_sae');
    await expectEngineError(() => Sae.open(make({ cfg: { d_sae: 25 } })), 'bad_argument', 'W_enc is [64, 24]', 'needs [64, 25]');
    const broken = make({});
    writeFileSync(join(broken, 'cfg.json'), '{');
    await expectEngineError(() => Sae.open(broken), 'bad_argument', 'not valid JSON');
    await expectEngineError(() => Sae.open(join(root, 'nowhere')), 'not_found', 'no cfg.json');
    const jumpWithout = make({ architecture: 'jumprelu' });
    writeSaeFolder(jumpWithout, { hook: 'blocks.0.hook_resid_pre', dIn, dSae, cfg: { architecture: 'jumprelu' } });
    await expectEngineError(() => Sae.open(jumpWithout), 'bad_argument', 'has no threshold');
  });
});

describe('SAE features on a prompt', () => {
  it("encodes the model's own activations at the SAE's hook, token by token", async () => {
    const engine = Engine.create({ cacheDir: join(root, 'cache'), threads: 1 });
    try {
      const model = await engine.loadModel(sharedPath('models', 'stories260K-hf'));
      const sae = Sae.open(writeSaeFolder(folder(), { hook: 'blocks.2.hook_resid_post', dIn: 64, dSae: 32, seed: 9 }).folder);
      const ids = model.tokenizer.encode('Once upon a time');
      const result = await saeFeaturesOnPrompt(model, sae, ids, 3);
      const captured = (await model.run(ids, { captures: [{ hook: 'blocks.2.hook_resid_post', positions: 'all' }] })).captures['blocks.2.hook_resid_post'].data;
      expect(result.tokens.map((token) => token.id)).toEqual(ids);
      expect(result.tokens.map((token) => token.features)).toEqual(topFeatures(sae.encode(captured), 32, 3));
      expect(result.tokens.some((token) => token.features.length > 0)).toBe(true);
      const wrong = Sae.open(writeSaeFolder(folder(), { hook: 'blocks.2.hook_resid_post', dIn: 768, dSae: 4 }).folder);
      await expectEngineError(() => saeFeaturesOnPrompt(model, wrong, ids, 3), 'bad_argument', 'd_in is 768');
      sae.close();
      wrong.close();
    } finally {
      await engine.close();
    }
  });
});
