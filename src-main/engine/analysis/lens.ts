/**
 * Logit lens (METHODS.md 3.1): every block's residual stream (or a component output)
 * through the final norm and the unembedding, at every position of a prompt. The lens
 * heads are the model graph's own (graph/taps.ts LensHead), so the readout is the
 * family's final norm and head exactly as the forward pass applies them; the layers are
 * read in as few passes as the output size allows (each layer's logits are positions x
 * vocabulary floats).
 */
import type { ModelHandle } from '../engine';
import type { LensHead } from '../graph/taps';
import { SITE_HOOK } from './sites';
import { lensRequestSchema, type LensRequestInput, type LensResult } from '../../../src-shared/analysis-schema';
import { outsideRange } from '../../../src-shared/issues';
import { validatePlan } from '../hooks/plan';
import { chunks, requestError, throwIfCancelled, type AnalysisControl } from './control';
import { klDivergence, logitStats, logProbs, rankOf } from './distribution';

/** Lens logits fetched per pass: bounds the memory of one pass's outputs. */
const LENS_BYTES_PER_PASS = 64 * 1024 * 1024;

export async function logitLens(model: ModelHandle, input: LensRequestInput, control: AnalysisControl = {}): Promise<LensResult> {
  const parsed = lensRequestSchema.safeParse(input);
  if (!parsed.success) throw requestError('lens', parsed.error.issues);
  const { ids, site, finalNorm, target } = parsed.data;
  const { nLayers, dVocab } = model.spec;
  if (target !== null && target >= dVocab) throw requestError('lens', [{ path: ['target'], message: outsideRange('token', target, dVocab) }]);

  const plan = validatePlan(model.spec, {});
  const positions = ids.map((_, i) => i);
  const layers = Array.from({ length: nLayers }, (_, layer) => layer);
  const perPass = Math.max(1, Math.floor(LENS_BYTES_PER_PASS / (ids.length * dVocab * 4)));
  const passes = chunks(layers, perPass);
  const grid = () => layers.map(() => new Array<number>(ids.length).fill(0));
  const result: LensResult = {
    site, finalNorm, ids, layers, positions,
    top1: grid(), top1Prob: grid(), entropy: grid(), klToFinal: grid(),
    targetProb: target === null ? null : grid(),
    targetRank: target === null ? null : grid(),
    final: { top1: [], top1Prob: [], entropy: [], targetProb: target === null ? null : [] },
    forwardPasses: 0,
  };
  let finalLogProbs: Float64Array[] = [];
  for (const [pass, chunk] of passes.entries()) {
    throwIfCancelled(control.signal, 'logit lens');
    const lenses: LensHead[] = chunk.map((layer) => ({ name: `analysis.lens.${site}.${layer}.${finalNorm ? 'norm' : 'raw'}`, hook: SITE_HOOK[site](layer), finalNorm, fuse: false }));
    const { logits, outputs } = await model.runRows(plan, [{ plan, patches: new Map() }], [ids], { lenses, logitsAt: positions });
    result.forwardPasses++;
    if (pass === 0) {
      finalLogProbs = logits[0].map((row) => logProbs(row));
      for (const row of logits[0]) {
        const stats = logitStats(row);
        result.final.top1.push(stats.top1);
        result.final.top1Prob.push(stats.top1Prob);
        result.final.entropy.push(stats.entropy);
        if (target !== null) result.final.targetProb?.push(Math.exp(row[target] - stats.logSumExp));
      }
    }
    chunk.forEach((layer, j) => {
      const data = outputs[lenses[j].name].data as Float32Array; // [1, positions, vocab]
      for (const p of positions) {
        const row = data.subarray(p * dVocab, (p + 1) * dVocab);
        const stats = logitStats(row);
        result.top1[layer][p] = stats.top1;
        result.top1Prob[layer][p] = stats.top1Prob;
        result.entropy[layer][p] = stats.entropy;
        result.klToFinal[layer][p] = klDivergence(finalLogProbs[p], row);
        if (target !== null && result.targetProb && result.targetRank) {
          result.targetProb[layer][p] = Math.exp(row[target] - stats.logSumExp);
          result.targetRank[layer][p] = rankOf(row, target);
        }
      }
    });
    control.onProgress?.({ done: pass + 1, total: passes.length, unit: 'forward passes' });
  }
  return result;
}
