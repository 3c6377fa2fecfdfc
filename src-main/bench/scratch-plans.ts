// SCRATCH (not committed): heavy/no-plan before (unfolded) and after (folded), stepped side by side in one process.
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { Engine, generationSettingsSchema, type ModelHandle, type VariantRun } from '../engine/api';
import { Taps } from '../engine/graph/taps';
import { buildRandomModel } from '../test/fixtures/random-model';
import { spreadOf } from './stats';

const META = 'HuggingFaceTB__SmolLM2-135M-Instruct';
const REPO_ROOT = resolve(__dirname, '..', '..');
const dir = '/tmp/quant2/smol';
if (!existsSync(join(dir, 'config.json'))) {
  const c = z.object({ num_hidden_layers: z.number(), hidden_size: z.number(), intermediate_size: z.number(), num_attention_heads: z.number(), num_key_value_heads: z.number(), max_position_embeddings: z.number() }).parse(JSON.parse(readFileSync(resolve(REPO_ROOT, '..', 'shared', 'hf-meta', META, 'config.json'), 'utf8')));
  buildRandomModel(dir, { config: META, layers: c.num_hidden_layers, dModel: c.hidden_size, dMlp: c.intermediate_size, nHeads: c.num_attention_heads, nKvHeads: c.num_key_value_heads, dHead: c.hidden_size / c.num_attention_heads, maxPositions: c.max_position_embeddings, seed: 135 });
}
const median = (xs: number[]) => spreadOf(xs).median;

async function main() {
  const spinning = process.argv[4] === 'spin';
  const engines = [Engine.create({ cacheDir: '/tmp/quant2/cacheA', threads: 2, spinning }), Engine.create({ cacheDir: '/tmp/quant2/cacheB', threads: 2, spinning })];
  const models: ModelHandle[] = [await engines[0].loadModel(dir), await engines[1].loadModel(dir)];
  const { nLayers, dModel } = models[0].spec;
  const vector = (seed: number) => Array.from({ length: dModel }, (_, i) => 0.01 * Math.sin(seed + i));
  const steer = (layer: number, seed: number) => ({ op: 'add', hook: `blocks.${layer}.hook_resid_post`, vector: vector(seed), scale: 4, positions: 'all' });
  const clamp = (layer: number) => ({ op: 'set', hook: `blocks.${layer}.mlp.hook_post`, indices: Array.from({ length: 16 }, (_, i) => i * 37), values: [2], positions: 'all' });
  const heavy: VariantRun = { plan: { captures: [{ hook: `blocks.${nLayers >> 1}.hook_resid_post`, positions: 'last' }], interventions: [...Array.from({ length: nLayers }, (_, l) => steer(l, l)), clamp(3), clamp(nLayers - 4)] } };
  const tokens = Number(process.argv[2] ?? 24);
  const rounds = Number(process.argv[3] ?? 3);
  const settings = generationSettingsSchema.parse({ maxNewTokens: tokens, stopAtEos: false });
  const prompt = Array.from({ length: 16 }, (_, i) => (i * 7919 + 13) % models[0].spec.dVocab);
  // compile: A's heavy graph without folding (the code before), B's with
  const original = Taps.prototype.foldedAdds;
  Taps.prototype.foldedAdds = function () { return null; };
  for await (const _ of models[0].generateVariants(prompt, generationSettingsSchema.parse({ maxNewTokens: 2, stopAtEos: false }), [heavy])) void _;
  Taps.prototype.foldedAdds = original;
  const work: [ModelHandle, VariantRun][] = [[models[0], {}], [models[0], heavy], [models[1], {}], [models[1], heavy]];
  const samples = work.map((): number[] => []);
  for (let round = 0; round <= rounds; round++) {
    for (const pair of [[0, 1], [2, 3]]) {
      const gens = pair.map((k) => work[k][0].generateVariants(prompt, settings, [work[k][1]]));
      for (let step = 0; step < tokens; step++) {
        for (const j of step % 2 ? [1, 0] : [0, 1]) { const s = performance.now(); await gens[j].next(); if (round > 0 && step > 0) samples[pair[j]].push(performance.now() - s); }
      }
      for (const g of gens) await g.return([]);
    }
  }
  const show = (x: { median: number; p25: number; p75: number }) => `${x.median.toFixed(3)} (IQR ${x.p25.toFixed(3)}-${x.p75.toFixed(3)})`;
  console.log(`spinning ${spinning}; steps ${samples[0].length}; medians ms: noPlanA ${median(samples[0]).toFixed(2)} heavyBefore ${median(samples[1]).toFixed(2)} noPlanB ${median(samples[2]).toFixed(2)} heavyAfter ${median(samples[3]).toFixed(2)}`);
  console.log(`before (unfolded) noPlan/heavy per step: ${show(spreadOf(samples[0].map((x, i) => x / samples[1][i])))}`);
  console.log(`after  (folded)   noPlan/heavy per step: ${show(spreadOf(samples[2].map((x, i) => x / samples[3][i])))}`);
  for (const e of engines) await e.close();
}
main();
