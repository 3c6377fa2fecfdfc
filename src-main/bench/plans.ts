/**
 * What interventions cost per decode step, for the bench: no plan vs a heavy plan (an add at
 * every block's resid_post, 16 neurons set in 2 blocks, one resid_post captured), and the
 * baseline plus three steered variants batched vs one variant.
 *
 * The two generations of a comparison are open side by side and advance one decode step
 * each in turn, so every step of one is timed next to a step of the other. On a shared
 * machine a burst of load from other processes then hits the steps being compared alike;
 * timing whole generations one after another (the first method) gave heavy/no-plan ratios
 * anywhere from 0.48 to 1.29 for the same code. Ratios are the median of the per-step
 * ratios, with their interquartile range.
 */
import { generationSettingsSchema, type ModelHandle, type VariantRun } from '../engine/api';
import { median, spreadOf, type Spread } from './stats';

export const PLAN_DECODE_TOKENS = 32;
export const PLAN_ROUNDS = 3; // after a warm-up round that compiles every graph
const PROMPT_TOKENS = 16;

export interface PlanResult {
  /** Median milliseconds per decode step (one forward pass for every variant), per workload. */
  stepMs: { noPlan: number; heavyPlan: number; oneVariant: number; fourVariants: number };
  /** noPlan / heavyPlan step time, step by step: >= 0.9 is the target. */
  heavyPlanSpeed: Spread;
  /** fourVariants / oneVariant step time, step by step: <= 1.6 is the target. */
  fourVariantsCost: Spread;
  /** Pairs of steps each ratio is over. */
  steps: number;
}

/**
 * Per workload of each pair, the milliseconds of each decode step after the first (which
 * includes the prompt's prefill), over `rounds` rounds of `tokens` steps; the two workloads
 * of a pair step in the order A B, B A, A B...: each follows itself as often as the other,
 * which matters (a workload run right after itself ran up to 1.7x faster than after another
 * on this machine). One step of a batch of n variants yields n token events.
 */
async function pairedSteps(model: ModelHandle, pairs: [VariantRun[], VariantRun[]][], rounds: number, tokens: number): Promise<[number[], number[]][]> {
  const settings = generationSettingsSchema.parse({ maxNewTokens: tokens, stopAtEos: false });
  const prompt = Array.from({ length: PROMPT_TOKENS }, (_, i) => (i * 7919 + 13) % model.spec.dVocab);
  const samples = pairs.map((): [number[], number[]] => [[], []]);
  for (let round = 0; round <= rounds; round++) {
    for (const [p, pair] of pairs.entries()) {
      const generations = pair.map((variants) => model.generateVariants(prompt, settings, variants));
      try {
        for (let step = 0; step < tokens; step++) {
          for (const k of step % 2 ? [1, 0] : [0, 1]) {
            const started = performance.now();
            for (let event = 0; event < pair[k].length; event++) await generations[k].next();
            if (round > 0 && step > 0) samples[p][k].push(performance.now() - started);
          }
        }
      } finally {
        for (const generation of generations) await generation.return([]);
      }
    }
  }
  return samples;
}

export async function benchPlans(model: ModelHandle): Promise<PlanResult> {
  const { nLayers, dModel } = model.spec;
  const vector = (seed: number) => Array.from({ length: dModel }, (_, i) => 0.01 * Math.sin(seed + i));
  const steer = (layer: number, seed: number) => ({ op: 'add', hook: `blocks.${layer}.hook_resid_post`, vector: vector(seed), scale: 4, positions: 'all' });
  const clamp = (layer: number) => ({ op: 'set', hook: `blocks.${layer}.mlp.hook_post`, indices: Array.from({ length: 16 }, (_, i) => i * 37), values: [2], positions: 'all' });
  const heavy: VariantRun = {
    plan: {
      captures: [{ hook: `blocks.${nLayers >> 1}.hook_resid_post`, positions: 'last' }],
      interventions: [...Array.from({ length: nLayers }, (_, layer) => steer(layer, layer)), clamp(3), clamp(nLayers - 4)],
    },
  };
  const four: VariantRun[] = [{}, ...[1, 2, 3].map((seed) => ({ plan: { interventions: [steer(nLayers >> 1, seed)] } }))];
  const [[noPlan, heavyPlan], [oneVariant, fourVariants]] = await pairedSteps(model, [[[{}], [heavy]], [[four[1]], four]], PLAN_ROUNDS, PLAN_DECODE_TOKENS);
  return {
    stepMs: { noPlan: median(noPlan), heavyPlan: median(heavyPlan), oneVariant: median(oneVariant), fourVariants: median(fourVariants) },
    heavyPlanSpeed: spreadOf(noPlan.map((ms, i) => ms / heavyPlan[i])),
    fourVariantsCost: spreadOf(fourVariants.map((ms, i) => ms / oneVariant[i])),
    steps: noPlan.length,
  };
}
