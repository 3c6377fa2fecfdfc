/**
 * A steering sweep: one vector added at a grid of layers x scales, each cell generated
 * from the same prompt and seed, with two measures per cell (METHODS.md 7, "Common
 * steering pitfalls"):
 *
 *   perplexity   of the BASELINE's continuation under the cell's steering: how much less
 *                likely the unsteered text became (the fluency cost); exp(mean NLL)
 *   targetProb   p(target token) at the first generated position (the behaviour asked for)
 *
 * Cells generate as rows of batched variants (`batchSize` a call); the measures come from
 * one teacher-forced pass per `batchSize` cells over prompt + baseline continuation, the
 * grid's add steps in one plan and each row turning on only its own layer's.
 */
import { z } from 'zod';
import type { ModelHandle } from '../../engine';
import { EngineError } from '../../errors';
import { generationSettingsSchema, type GenerationSettings } from '../../generate/settings';
import type { GenerationResult } from '../../generate/generate';
import { hookName } from '../../hooks/names';
import { validatePlan, type Plan } from '../../hooks/plan';
import { chunks, requestError, throwIfCancelled, type AnalysisControl } from '../control';
import { logProbs } from '../distribution';

export const SWEEP_SITES = ['resid_pre', 'resid_post', 'resid_mid', 'attn_out', 'mlp_out'] as const;
const SITE_HOOKS = { resid_pre: hookName.residPre, resid_post: hookName.residPost, resid_mid: hookName.residMid, attn_out: hookName.attnOut, mlp_out: hookName.mlpOut } as const;
const vector = z.array(z.number()).min(1, 'must not be empty');

export const sweepRequestSchema = z.strictObject({
  promptIds: z.array(z.int().min(0)).min(1, 'must not be empty'),
  site: z.enum(SWEEP_SITES).default('resid_post'),
  layers: z
    .array(z.int().min(0))
    .min(1, 'must name at least one layer')
    .max(256)
    .refine((list) => new Set(list).size === list.length, 'must not repeat a layer'),
  scales: z.array(z.number()).min(1, 'must hold at least one scale').max(256),
  /** One vector for every layer, or one per layer in `layers` order (an extracted set). */
  vectors: z.array(vector).min(1, 'must hold a vector'),
  settings: generationSettingsSchema.default(() => generationSettingsSchema.parse({ maxNewTokens: 24 })),
  target: z.int().min(0).nullable().default(null),
  batchSize: z.int().min(1).max(256).default(8),
});
export type SweepRequestInput = z.input<typeof sweepRequestSchema>;

export interface SweepCell {
  layer: number;
  scale: number;
  text: string;
  generatedIds: number[];
  perplexity: number;
  targetProb: number | null;
}

export interface SweepResult {
  hooks: string[];
  layers: number[];
  scales: number[];
  baseline: Omit<SweepCell, 'layer' | 'scale'>;
  /** cells[i][j]: layers[i] at scales[j]. */
  cells: SweepCell[][];
  forwardPasses: number;
}

export async function steeringSweep(model: ModelHandle, input: SweepRequestInput, control: AnalysisControl = {}): Promise<SweepResult> {
  const parsed = sweepRequestSchema.safeParse(input);
  if (!parsed.success) throw requestError('sweep', parsed.error.issues);
  const request = parsed.data;
  const { layers, scales, vectors, promptIds, target, settings } = request;
  if (vectors.length !== 1 && vectors.length !== layers.length) throw new EngineError('bad_argument', `vectors: give one vector, or one per layer (${layers.length}); got ${vectors.length}`);
  if (target !== null && target >= model.spec.dVocab) throw new EngineError('bad_argument', `target ${target} is outside the vocabulary (0..${model.spec.dVocab - 1})`);
  const hooks = layers.map((layer) => SITE_HOOKS[request.site](layer));
  const vectorOf = (i: number) => vectors[vectors.length === 1 ? 0 : i];
  const cellPlan = (i: number, scale: number): Plan => validatePlan(model.spec, { interventions: [{ op: 'add', hook: hooks[i], vector: vectorOf(i), scale, positions: 'all' }] });
  const grid = layers.flatMap((_, i) => scales.map((scale) => ({ i, scale })));
  grid.forEach(({ i }) => cellPlan(i, 1)); // every hook and width checked before the first pass

  const baselineRun = await collect(model, promptIds, settings, [{}], control);
  const baseline = baselineRun[0];
  let forwardPasses = baseline.generatedTokens;
  const generated: GenerationResult[] = [];
  for (const batch of chunks(grid, request.batchSize)) {
    throwIfCancelled(control.signal, 'sweep');
    control.onProgress?.({ done: generated.length, total: grid.length, unit: 'cells' });
    const results = await collect(model, promptIds, settings, batch.map(({ i, scale }) => ({ plan: cellPlan(i, scale) })), control);
    forwardPasses += Math.max(...results.map((result) => result.generatedTokens));
    generated.push(...results);
  }

  // Teacher-forced measures: the grid's add steps in one plan, each row only its own layer's.
  const forced = [...promptIds, ...baseline.generatedIds];
  const union: Plan = validatePlan(model.spec, { interventions: layers.map((_, i) => ({ op: 'add', hook: hooks[i], vector: vectorOf(i), scale: 0, positions: 'all' })) });
  const measure = async (rows: { i: number; scale: number }[]) => {
    const rowPlans = rows.map(({ i, scale }) => ({ plan: { ...union, interventions: union.interventions.map((step, k) => (k === i && step.op === 'add' ? { ...step, scale } : step)) }, active: new Set([i]), patches: new Map() }));
    const logitsAt = Array.from({ length: forced.length - promptIds.length + 1 }, (_, k) => promptIds.length - 1 + k);
    const { logits } = await model.runRows(union, rowPlans, rows.map(() => forced), { logitsAt });
    forwardPasses++;
    return logits.map((rowLogits) => measures(rowLogits, baseline.generatedIds, target));
  };
  const measured: { perplexity: number; targetProb: number | null }[] = [];
  for (const batch of chunks(grid, request.batchSize)) {
    throwIfCancelled(control.signal, 'sweep');
    measured.push(...(await measure(batch)));
  }
  const [base] = await measure([{ i: 0, scale: 0 }]);
  control.onProgress?.({ done: grid.length, total: grid.length, unit: 'cells' });

  const cells = layers.map((layer, i) =>
    scales.map((scale, j) => {
      const k = i * scales.length + j;
      return { layer, scale, text: generated[k].text, generatedIds: generated[k].generatedIds, ...measured[k] };
    }),
  );
  return { hooks, layers, scales, baseline: { text: baseline.text, generatedIds: baseline.generatedIds, ...base }, cells, forwardPasses };
}

async function collect(model: ModelHandle, promptIds: number[], settings: GenerationSettings, variants: { plan?: Plan }[], control: AnalysisControl): Promise<GenerationResult[]> {
  const generation = model.generateVariants(promptIds, settings, variants, { signal: control.signal });
  let step = await generation.next();
  while (!step.done) step = await generation.next();
  return step.value;
}

/**
 * rowLogits[k] predicts continuation token k (rowLogits[0] is at the last prompt position).
 * An empty continuation has no perplexity to measure: 1 (no surprise).
 */
function measures(rowLogits: Float32Array[], continuation: number[], target: number | null): { perplexity: number; targetProb: number | null } {
  let nll = 0;
  continuation.forEach((id, k) => (nll -= logProbs(rowLogits[k])[id]));
  const perplexity = continuation.length ? Math.exp(nll / continuation.length) : 1;
  return { perplexity, targetProb: target === null ? null : Math.exp(logProbs(rowLogits[0])[target]) };
}
