/**
 * ActAdd (METHODS.md 7.1): one contrast pair, p+ and p-, padded to one token length;
 * the vector is the per-position difference h(p+)[j] - h(p-)[j] at one hook (a short
 * matrix, not averaged), injected front-aligned on the user's prompt:
 * h[a + j] += c * v[j], with a = 1 (just after BOS) by default.
 */
import { graphOutput } from '../../graph-io';
import type { ModelHandle } from '../../engine';
import { EngineError } from '../../errors';

import { validatePlan, type Intervention, type Plan } from '../../hooks/plan';
import { shapeCapture } from '../../plan/captures';
import { checkVectorHook } from './readout';
import { dot } from './pca';

export interface ActAddResult {
  hook: string;
  /** One difference row per position of the padded pair. */
  rows: Float32Array[];
  /** Mean L2 norm of the activations read (both prompts, every position): the scale a row's norm compares with. */
  residualNorm: number;
  /** The pair's tokens after padding, so a UI can show what lined up with what. */
  positiveIds: number[];
  negativeIds: number[];
}

export async function actAdd(model: ModelHandle, positive: string, negative: string, hook: string): Promise<ActAddResult> {
  checkVectorHook(model, hook);
  const space = model.tokenizer.encode(' ', { addSpecialTokens: false });
  if (space.length !== 1) throw new EngineError('bad_argument', `this tokenizer encodes a space as ${space.length} tokens; ActAdd pads the shorter prompt with a one-token space`);
  const a = model.tokenizer.encode(positive);
  const b = model.tokenizer.encode(negative);
  const length = Math.max(a.length, b.length);
  const pad = (ids: number[]) => [...ids, ...Array<number>(length - ids.length).fill(space[0])];
  const ids = [pad(a), pad(b)];
  const plan: Plan = validatePlan(model.spec, { captures: [{ hook, positions: 'all' }] });
  const { outputs, run } = await model.runRows(plan, ids.map(() => ({ plan, patches: new Map() })), ids);
  const [plus, minus] = [0, 1].map((row) => shapeCapture(model.spec, hook, outputs[graphOutput.capture(hook)], row, 'all', run).data);
  const width = plus.length / length;
  const rows = Array.from({ length }, (_, j) => Float32Array.from({ length: width }, (_, i) => plus[j * width + i] - minus[j * width + i]));
  const rowNorm = (data: Float32Array, j: number) => Math.sqrt(dot(data.subarray(j * width, (j + 1) * width), data.subarray(j * width, (j + 1) * width)));
  let normSum = 0;
  for (let j = 0; j < length; j++) normSum += rowNorm(plus, j) + rowNorm(minus, j);
  return { hook, rows, residualNorm: normSum / (2 * length), positiveIds: ids[0], negativeIds: ids[1] };
}

/** The add interventions that inject ActAdd rows at positions at, at + 1, ... */
export function actAddInterventions(result: ActAddResult, scale: number, at = 1): Intervention[] {
  return result.rows.map((row, j) => ({ op: 'add', hook: result.hook, vector: Array.from(row), scale, positions: [at + j] }));
}
