/**
 * Activations of many prompts at several hooks, one vector per prompt and hook: the
 * readout every extraction method starts from. Prompts of one token length run as rows of
 * one batched pass (runRows feeds equal lengths, no padding, so no position is disturbed).
 *
 *   last     the last token (repeng, CAA on open prompts)
 *   mean     the mean over the text's own tokens (special tokens the tokenizer adds, like
 *            BOS, look alike in every prompt and would only dilute a difference)
 *   answer   one token counted from the end: -2 is the answer letter of CAA's "(A)" format
 */
import { graphOutput } from '../../graph-io';
import { z } from 'zod';
import type { ModelHandle } from '../../engine';
import { EngineError } from '../../errors';

import { hookInfo, isAttentionGrid } from '../../hooks/names';
import { validatePlan, type Plan } from '../../hooks/plan';
import { shapeCapture } from '../../plan/captures';
import { chunks, throwIfCancelled, type AnalysisControl } from '../control';
import { dot } from './pca';

export const READOUTS = ['last', 'mean', 'answer'] as const;
export const readoutSchema = z.enum(READOUTS);
export type Readout = z.infer<typeof readoutSchema>;

export interface ReadoutOptions {
  readout: Readout;
  /** For 'answer': the position counted from the end (-1 is the last token). */
  answerPosition: number;
  batchSize: number;
}

export interface PromptActivations {
  /** [prompt][hook index] -> the read-out vector, in float64 for the statistics that follow. */
  vectors: Float64Array[][];
  /** Mean L2 norm of the activations at the read-out positions, per hook: the scale a vector is compared with. */
  residualNorms: number[];
  forwardPasses: number;
}

/** A hook a vector can be read at and added to: one vector per position. */
export function checkVectorHook(model: ModelHandle, hook: string): void {
  const info = hookInfo(model.spec, hook);
  if (info.dims[0] !== 'pos' || isAttentionGrid(info.site)) {
    throw new EngineError('bad_argument', `a steering vector needs a hook with one vector per position; ${hook} is [${info.dims.join(', ')}]`);
  }
}

export async function readActivations(model: ModelHandle, prompts: string[], hooks: string[], options: ReadoutOptions, control: AnalysisControl = {}): Promise<PromptActivations> {
  hooks.forEach((hook) => checkVectorHook(model, hook));
  const encoded = prompts.map((text, index) => {
    const ids = model.tokenizer.encode(text);
    const own = model.tokenizer.encode(text, { addSpecialTokens: false }).length;
    return { index, ids, firstOwn: Math.min(ids.length - own, ids.length - 1) };
  });
  if (options.readout === 'answer') {
    const short = encoded.find((prompt) => prompt.ids.length < -options.answerPosition);
    if (short) throw new EngineError('bad_argument', `prompt ${short.index + 1} (${JSON.stringify(prompts[short.index])}) has ${short.ids.length} tokens; answer position ${options.answerPosition} needs at least ${-options.answerPosition}`);
  }
  const plan: Plan = validatePlan(model.spec, { captures: hooks.map((hook) => ({ hook, positions: 'all' })) });
  const byLength = new Map<number, typeof encoded>();
  for (const prompt of encoded) byLength.set(prompt.ids.length, [...(byLength.get(prompt.ids.length) ?? []), prompt]);
  const batches = [...byLength.values()].flatMap((group) => chunks(group, options.batchSize));

  const vectors: Float64Array[][] = prompts.map(() => []);
  const normSums = hooks.map(() => 0);
  let normCount = 0;
  for (const [pass, batch] of batches.entries()) {
    throwIfCancelled(control.signal, 'vector extraction');
    control.onProgress?.({ done: pass, total: batches.length, unit: 'forward passes' });
    const rows = batch.map(() => ({ plan, patches: new Map() }));
    const { outputs, run } = await model.runRows(plan, rows, batch.map((prompt) => prompt.ids));
    batch.forEach((prompt, row) => {
      const length = prompt.ids.length;
      const positions = options.readout === 'last' ? [length - 1] : options.readout === 'answer' ? [length + options.answerPosition] : range(prompt.firstOwn, length);
      normCount += positions.length;
      hooks.forEach((hook, h) => {
        const capture = shapeCapture(model.spec, hook, outputs[graphOutput.capture(hook)], row, 'all', run);
        const width = capture.data.length / length;
        const mean = new Float64Array(width);
        for (const p of positions) {
          const activation = capture.data.subarray(p * width, (p + 1) * width);
          normSums[h] += Math.sqrt(dot(activation, activation));
          for (let i = 0; i < width; i++) mean[i] += activation[i] / positions.length;
        }
        vectors[prompt.index][h] = mean;
      });
    });
  }
  control.onProgress?.({ done: batches.length, total: batches.length, unit: 'forward passes' });
  return { vectors, residualNorms: normSums.map((sum) => sum / normCount), forwardPasses: batches.length };
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i);
}
