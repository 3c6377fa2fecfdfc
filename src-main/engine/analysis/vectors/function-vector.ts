/**
 * Function vectors (Todd et al., METHODS.md 7.5): the mean output of chosen attention
 * heads at the last token of in-context prompts of one task, summed over the heads, to be
 * added to the residual stream at one layer.
 *
 * A head's output is its slice of attn.hook_z projected through W_O into the residual
 * stream, without o_proj's bias b_O (TransformerLens' hook_result): the heads' outputs
 * plus b_O sum to hook_attn_out. The engine reads it without the weights: a row that
 * zeroes every OTHER head of the layer (scale at attn.hook_z) makes blocks.L.hook_attn_out
 * that head's output plus b_O, and a row that zeroes every head reads b_O alone, which is
 * subtracted (GPT-2 has a b_O; counting it once per head would add it n times to the
 * vector). Each (prompt, head) is one batch row with only its layer's scale active; the
 * layers before it run clean, so the read is exact.
 * Choosing the heads (the paper ranks them by causal indirect effect) is the caller's.
 */
import { graphOutput } from '../../graph-io';
import { z } from 'zod';
import type { ModelHandle, RowsRunResult } from '../../engine';
import { EngineError } from '../../errors';

import { hookName } from '../../hooks/names';
import { validatePlan, type Plan } from '../../hooks/plan';
import { shapeCapture } from '../../plan/captures';
import { chunks, requestError, throwIfCancelled, type AnalysisControl } from '../control';
import { dot } from './pca';
import { readActivations } from './readout';

export const functionVectorRequestSchema = z.strictObject({
  prompts: z.array(z.string().min(1, 'must not be empty')).min(1, 'must hold at least one prompt').max(10_000),
  heads: z.array(z.strictObject({ layer: z.int().min(0), head: z.int().min(0) })).min(1, 'must name at least one head').max(4096),
  /** The block whose output (resid_post) receives the vector; default about a third of the way in. */
  layer: z.int().min(0).optional(),
  batchSize: z.int().min(1).max(256).default(16),
});
export type FunctionVectorRequestInput = z.input<typeof functionVectorRequestSchema>;

export interface FunctionVectorResult {
  hook: string;
  vector: Float32Array;
  norm: number;
  /** Mean L2 norm of the residual stream at `hook`, last token of each prompt (where it is added), and norm / it. */
  residualNorm: number;
  relativeNorm: number;
  /** Each head's mean output, in the order asked. */
  heads: { layer: number; head: number; output: Float32Array; norm: number }[];
  forwardPasses: number;
}

export async function functionVector(model: ModelHandle, input: FunctionVectorRequestInput, control: AnalysisControl = {}): Promise<FunctionVectorResult> {
  const parsed = functionVectorRequestSchema.safeParse(input);
  if (!parsed.success) throw requestError('function vector', parsed.error.issues);
  const { prompts, heads, batchSize } = parsed.data;
  const { nLayers, nHeads, dModel } = model.spec;
  for (const { layer, head } of heads) {
    if (layer >= nLayers || head >= nHeads) throw new EngineError('bad_argument', `head ${layer}.${head} does not exist: this model has layers 0..${nLayers - 1} of ${nHeads} heads`);
  }
  const layer = parsed.data.layer ?? Math.floor(nLayers / 3);
  if (layer >= nLayers) throw new EngineError('bad_argument', `layer ${layer} is out of range: this model has blocks 0..${nLayers - 1}`);

  // One scale op per layer used (its indices are every head; a row zeroes all but its own).
  const layers = [...new Set(heads.map((entry) => entry.layer))].sort((a, b) => a - b);
  const allHeads = Array.from({ length: nHeads }, (_, h) => h);
  const structure: Plan = validatePlan(model.spec, {
    captures: layers.map((l) => ({ hook: hookName.attnOut(l), positions: 'last' })),
    interventions: layers.map((l) => ({ op: 'scale', hook: hookName.z(l), indices: allHeads, values: allHeads.map(() => 0), positions: 'all' })),
  });
  /** The row that keeps only `head` of layer `l`, or none of its heads (head = null: b_O alone). */
  const rowPlan = (l: number, head: number | null) => {
    const plan: Plan = { ...structure, interventions: structure.interventions.map((step, i) => (i === layers.indexOf(l) ? { ...step, values: allHeads.map((h) => (h === head ? 1 : 0)) } : step)) };
    return { plan, active: new Set([layers.indexOf(l)]), patches: new Map() };
  };
  const readAttnOut = ({ outputs, run }: RowsRunResult, l: number, row: number): Float32Array => {
    const hook = hookName.attnOut(l);
    return shapeCapture(model.spec, hook, outputs[graphOutput.capture(hook)], row, 'last', run).data;
  };

  const encoded = prompts.map((text) => model.tokenizer.encode(text));
  const cells = encoded.flatMap((ids) => heads.map((entry, h) => ({ ids, h, ...entry })));
  const byLength = new Map<number, typeof cells>();
  for (const cell of cells) byLength.set(cell.ids.length, [...(byLength.get(cell.ids.length) ?? []), cell]);
  const batches = [...byLength.values()].flatMap((group) => chunks(group, batchSize));

  const total = batches.length + 1;
  // b_O of each layer used: with every head zeroed, hook_attn_out is the bias whatever the prompt.
  throwIfCancelled(control.signal, 'function vector');
  control.onProgress?.({ done: 0, total, unit: 'forward passes' });
  const biasRun = await model.runRows(structure, layers.map((l) => rowPlan(l, null)), layers.map(() => encoded[0]));
  const bias = new Map(layers.map((l, row) => [l, readAttnOut(biasRun, l, row)]));

  const sums = heads.map(() => new Float64Array(dModel));
  for (const [pass, batch] of batches.entries()) {
    throwIfCancelled(control.signal, 'function vector');
    control.onProgress?.({ done: pass + 1, total, unit: 'forward passes' });
    const result = await model.runRows(structure, batch.map((cell) => rowPlan(cell.layer, cell.head)), batch.map((cell) => cell.ids));
    batch.forEach((cell, row) => {
      const output = readAttnOut(result, cell.layer, row);
      const bO = bias.get(cell.layer) as Float32Array;
      for (let i = 0; i < dModel; i++) sums[cell.h][i] += (output[i] - bO[i]) / prompts.length;
    });
  }
  control.onProgress?.({ done: total, total, unit: 'forward passes' });
  const hook = hookName.residPost(layer);
  const clean = await readActivations(model, prompts, [hook], { readout: 'last', answerPosition: -1, batchSize }, { signal: control.signal });
  const vector = new Float32Array(dModel);
  const perHead = heads.map(({ layer: l, head }, h) => {
    const output = Float32Array.from(sums[h]);
    output.forEach((value, i) => (vector[i] += value));
    return { layer: l, head, output, norm: Math.sqrt(dot(output, output)) };
  });
  const norm = Math.sqrt(dot(vector, vector));
  const residualNorm = clean.residualNorms[0];
  return { hook, vector, norm, residualNorm, relativeNorm: residualNorm > 0 ? norm / residualNorm : 0, heads: perHead, forwardPasses: total + clean.forwardPasses };
}
