/**
 * The decode graph a plan compiles to: steering adds on the residual stream keep the fused
 * skip-norms (Taps.foldedAdds), so a plan of adds costs an Add and a Mul per site and no
 * unfused norm. That the values are right is interventions.test.ts's job.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildRandomModel } from '../../test/fixtures/random-model';
import { expectedParams, type WeightSource } from '../model/spec';
import { F32_WEIGHTS } from '../model/weight-format';
import { buildForwardGraph, graphWeights } from './forward';
import { NO_TAPS, type TapIntervention, type TapSpec } from './taps';
import type { WeightManifest } from './weights-file';

const dir = mkdtempSync(join(tmpdir(), 'tiller-forward-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const { spec } = buildRandomModel(dir, { config: 'HuggingFaceTB__SmolLM2-135M-Instruct', layers: 4, dModel: 32, dMlp: 64, nHeads: 4, nKvHeads: 2, dHead: 8, seed: 5 });

/** The manifest of the f32 weight file, from the checkpoint's shapes alone (nothing is read or written). */
function manifestOf(): WeightManifest {
  const shapes = new Map(expectedParams(spec));
  const source = { files: [], has: (name: string) => shapes.has(name), info: (name: string) => ({ shape: shapes.get(name)!, dtype: 'F32' }) } as unknown as WeightSource;
  const tensors: WeightManifest['tensors'] = {};
  for (const group of graphWeights(spec, source, F32_WEIGHTS)) for (const t of group.tensors) tensors[t.name] = { elemType: t.elemType, dims: t.dims, offset: 0, length: 4 };
  return { format: 'tiller-weights', version: 2, fingerprint: 'test', weights: F32_WEIGHTS, file: 'weights.bin', tensors } as WeightManifest;
}

function opCounts(taps: TapSpec): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const node of buildForwardGraph(spec, manifestOf(), taps).graph.nodes) counts[node.opType] = (counts[node.opType] ?? 0) + 1;
  return counts;
}

const tapsOf = (interventions: Omit<TapIntervention, 'index'>[], captures: string[] = []): TapSpec => ({ ...NO_TAPS, captures, interventions: interventions.map((step, index) => ({ ...step, index })) });
const residPostAdds = Array.from({ length: 4 }, (_, layer) => ({ op: 'add' as const, hook: `blocks.${layer}.hook_resid_post` }));

describe('residual interventions and the fused skip-norms', () => {
  const plain = opCounts(NO_TAPS);

  it('the plain graph fuses every residual add with the norm after it', () => {
    expect(plain.SkipSimplifiedLayerNormalization).toBe(2 * spec.nLayers);
    expect(plain.SimplifiedLayerNormalization).toBe(1); // block 0's ln1, on the embedding
  });

  it('adds at every resid_post, with a capture of one, keep every fused norm: one Add and one Mul each', () => {
    const steered = opCounts(tapsOf(residPostAdds, ['blocks.2.hook_resid_post']));
    expect(steered.SkipSimplifiedLayerNormalization).toBe(plain.SkipSimplifiedLayerNormalization);
    expect(steered.SimplifiedLayerNormalization).toBe(plain.SimplifiedLayerNormalization);
    expect(steered.Add - (plain.Add ?? 0)).toBe(4);
    expect(steered.Mul - (plain.Mul ?? 0)).toBe(4);
  });

  it('splits the fused norm where an op needs the summed residual, or a capture must not see a later hook\'s add', () => {
    const set = opCounts(tapsOf([{ op: 'set', hook: 'blocks.1.hook_resid_post' }]));
    expect(set.SkipSimplifiedLayerNormalization).toBe(plain.SkipSimplifiedLayerNormalization - 1);
    const capturedBefore = opCounts(tapsOf([{ op: 'add', hook: 'blocks.2.hook_resid_pre' }], ['blocks.1.hook_resid_post']));
    expect(capturedBefore.SkipSimplifiedLayerNormalization).toBe(plain.SkipSimplifiedLayerNormalization - 1);
    const capturedAfter = opCounts(tapsOf([{ op: 'add', hook: 'blocks.1.hook_resid_post' }], ['blocks.2.hook_resid_pre']));
    expect(capturedAfter.SkipSimplifiedLayerNormalization).toBe(plain.SkipSimplifiedLayerNormalization);
  });
});
