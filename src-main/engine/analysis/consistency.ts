/**
 * The lens readings internal consistency is scored from (src-shared/consistency.ts): for
 * each generated token, every block's logit-lens top-1 at the position that predicted it,
 * under the variant's own plan. One forward pass over the prompt and the response (teacher
 * forcing gives the activations generation had), with a lens head per block reduced to its
 * argmax in the graph, so only [tokens x blocks] ids leave it.
 *
 * Why after generation rather than during it: a lens head per block on every decode step
 * multiplies each block's stream by the whole unembedding one token at a time (reading the
 * d_model x d_vocab matrix once per block per token), while one pass afterwards does the
 * same products for all tokens at once as matrix-matrix products (measured: README, Compare).
 */
import type { ModelHandle } from '../engine';
import type { LensHead } from '../graph/taps';
import { hookName } from '../hooks/names';

/** [token][block]: the lens top-1 id of each block at the position that predicted generated token t. */
export async function lensTopTokens(model: ModelHandle, plan: unknown, promptIds: number[], generated: number[]): Promise<number[][]> {
  if (generated.length === 0) return [];
  const { nLayers } = model.spec;
  // Token t is predicted at position promptLength - 1 + t; the last token predicts nothing here.
  const ids = [...promptIds, ...generated.slice(0, -1)];
  const logitsAt = generated.map((_, t) => promptIds.length - 1 + t);
  const lenses: LensHead[] = Array.from({ length: nLayers }, (_, layer) => ({ name: `consistency.lens.${layer}`, hook: hookName.residPost(layer), finalNorm: true, fuse: false, argmax: true }));
  const outputs = await model.runLenses(ids, plan, lenses, { promptLength: promptIds.length, logitsAt });
  const top = lenses.map((lens) => outputs[lens.name].data as BigInt64Array); // [1, tokens] each
  return generated.map((_, t) => top.map((row) => Number(row[t])));
}
