/**
 * Generating several variants of one prompt side by side: the loop the app, the CLI and
 * ModelHandle.generate (and so the parity tests) all run. Variants that share a block
 * schedule are rows of one PlanBatch (plan/batch.ts), so the baseline and N variants
 * advance in one forward pass per step.
 */
import type { DecodingInput, DecodingStep } from '../../../src-shared/decoding-schema';
import { patchLengthIssues } from '../../../src-shared/patch-length';
import { EngineError } from '../errors';
import { checkPrompt, Sequence, type GenerationResult, type TokenEvent } from '../generate/generate';
import { decodingReport, stepScorer } from '../generate/scorers';
import type { GenerationSettings } from '../generate/settings';
import type { LensHead } from '../graph/taps';
import { planWarnings, validatePlan, type Plan } from '../hooks/plan';
import { issueText, planScheduleBlocks } from '../hooks/schedule';
import type { ModelSpec } from '../model/spec';
import type { TextTokenizer } from '../model/tokenizer/types';
import { rowsOf, type PlanBatch } from './batch';
import type { CaptureResult } from './captures';
import type { Lease } from './compile';
import type { RowPlan } from './feeds';
import { unionPlan } from './union';

/** One variant of a generateVariants call: a plan (validated against the model) and a decoding strategy. */
export interface VariantRun {
  plan?: unknown;
  decoding?: DecodingInput;
}

export interface VariantTokenEvent {
  variant: number;
  token: TokenEvent;
  /** The layer and per-candidate scores of a lens-based strategy (LFD, DoLa); null otherwise. */
  decoding: DecodingStep | null;
  /** The variant plan's captures at the positions this step fed (the prompt at the first token). */
  captures: Record<string, CaptureResult>;
  /**
   * The logprob variants[0] (the baseline) gave this token at the same step in the same
   * context (every earlier generated token equal), so a UI can show how much a variant
   * changed it; null for the baseline itself, once it stopped, and after the first token
   * where the two differ (the contexts are no longer the same).
   */
  baselineLogprob: number | null;
}

/** What the loop needs of a loaded model; ModelHandle provides it. */
export interface BatchModel {
  spec: ModelSpec;
  tokenizer: TextTokenizer;
  /** The compiled session of a plan (the union of a group's plans) with extra lens heads. */
  acquire(plan: Plan, lenses: LensHead[]): Promise<Lease>;
  /** A batch of `rows` over a compiled plan, on a fresh KV cache. */
  openBatch(lease: Lease, rows: RowPlan[]): Promise<PlanBatch>;
  /** A plan's row: its patch rows (source prompts run once) and its active interventions. */
  rowPlan(plan: Plan, active?: ReadonlySet<number>, lensLambdas?: Map<string, number>): Promise<RowPlan>;
}

/**
 * Generate every variant from the same prompt and settings (same seed), each with its
 * own plan and decoding strategy. Variants that share a block schedule run as rows of
 * one batch: their interventions are compiled together and each row feeds values only
 * for its own, so the baseline and N variants advance in one forward pass per step.
 * Tokens of all variants interleave in the stream; returns one result per variant.
 */
export async function* generateVariants(
  model: BatchModel,
  promptIds: number[],
  settings: GenerationSettings,
  variants: VariantRun[],
  options: { signal?: AbortSignal } = {},
): AsyncGenerator<VariantTokenEvent, GenerationResult[]> {
  if (variants.length === 0) throw new EngineError('bad_argument', 'no variants to generate');
  checkPrompt(promptIds, { maxPositions: model.spec.nCtx, vocabSize: model.spec.dVocab });
  // Errors name the variant only when there are several ("variant 0" means nothing to a caller that sent one plan).
  const label = (i: number): string => (variants.length > 1 ? `variant ${i}: ` : '');
  const plans = variants.map((variant, i) => validateVariantPlan(model.spec, variant.plan, label(i)));
  // The checks validateVariant shares: errors refuse the request, warnings go with each result.
  const warnings = plans.map((plan, i) => {
    const decoding = decodingReport(model.spec, variants[i].decoding, planScheduleBlocks(plan));
    if (decoding.errors.length > 0) {
      const list = decoding.errors.map((issue) => `decoding.${issueText(issue)}`).join('; ');
      throw new EngineError('bad_plan', `${label(i)}${list}`, { issues: decoding.errors.map((issue) => ({ ...issue, path: `decoding.${issue.path}` })) });
    }
    const patches = patchLengthIssues(plan.interventions, promptIds.length);
    return [...planWarnings(plan).map(issueText), ...patches.map(issueText), ...decoding.warnings.map((issue) => `decoding.${issueText(issue)}`)];
  });
  const scorers = variants.map((variant) => stepScorer(model.spec, variant.decoding));
  const sequences = variants.map(() => new Sequence(model.tokenizer, promptIds, settings, model.spec.nCtx));
  // Per variant: it has generated a token the baseline did not (at the same step), so their contexts differ from then on.
  const diverged = variants.map(() => false);
  const groups: VariantGroup[] = [];
  try {
    for (const members of groupBySchedule(plans)) {
      const union = unionPlan(members.map((i) => plans[i]));
      const lenses = uniqueLenses(members.flatMap((i) => scorers[i].lenses));
      const rows = await Promise.all(members.map((i, r) => model.rowPlan(union.plan, union.active[r], scorers[i].lambdas)));
      const lease = await model.acquire(union.plan, lenses);
      try {
        groups.push({ members, batch: await model.openBatch(lease, rows), lease, lenses });
      } catch (error) {
        lease.done();
        throw error;
      }
    }
    const { signal } = options;
    if (signal?.aborted) sequences.forEach((sequence) => sequence.cancel());
    let fed = (group: VariantGroup) => group.members.map(() => promptIds);
    while (sequences.some((sequence) => !sequence.stopReason)) {
      for (const group of groups) {
        if (group.members.every((i) => sequences[i].stopReason)) continue;
        const started = performance.now();
        const ids = fed(group);
        const { logits, outputs, run } = await group.batch.feed(ids, promptIds.length, [ids[0].length - 1], group.lenses.map((lens) => lens.name));
        const feedMs = performance.now() - started; // shared by the rows; each adds its own scoring
        for (const [r, i] of group.members.entries()) {
          const sequence = sequences[i];
          if (sequence.stopReason) continue;
          const rowStarted = performance.now();
          const lens = (name: string) => rowsOf(outputs[name].data as Float32Array, r, 1, model.spec.dVocab)[0];
          const { scores, step } = scorers[i].score(logits[r][0], lens, sequence.ids);
          const token = sequence.choose(scores, feedMs + performance.now() - rowStarted, signal, { penalized: scorers[i].penalized });
          // The baseline is the first row of the first group, so its step is already chosen.
          // Its logprob of this token compares like with like only while both saw the same
          // tokens: after the first differing token the contexts differ, and nothing is reported.
          const step0 = sequence.generatedIds.length - 1;
          const comparable = i > 0 && !diverged[i] && sequences[0].generatedIds.length === step0 + 1;
          const baselineLogprob = comparable ? (sequences[0].lastLogprobs?.[token.id] ?? null) : null;
          if (i > 0 && sequences[0].generatedIds[step0] !== token.id) diverged[i] = true;
          yield { variant: i, token, decoding: step, captures: group.batch.captures(plans[i], r, outputs, run), baselineLogprob };
        }
      }
      if (signal?.aborted) sequences.forEach((sequence) => sequence.cancel());
      // Rows that stopped keep feeding their last token so the batch stays in step; nothing reads them.
      fed = (group) => group.members.map((i) => [sequences[i].ids[sequences[i].ids.length - 1]]);
    }
    return sequences.map((sequence, i) => ({ ...sequence.result(), warnings: warnings[i] }));
  } finally {
    for (const group of groups) {
      await group.batch.release();
      group.lease.done();
    }
  }
}

interface VariantGroup {
  members: number[]; // variant indices, one batch row each
  batch: PlanBatch;
  lease: Lease;
  lenses: LensHead[];
}

function validateVariantPlan(spec: ModelSpec, plan: unknown, label: string): Plan {
  try {
    return validatePlan(spec, plan ?? {});
  } catch (error) {
    if (error instanceof EngineError) throw new EngineError(error.code, `${label}${error.message}`, error.details);
    throw error;
  }
}

/** Variants with the same block schedule can share a graph; different schedules cannot. */
function groupBySchedule(plans: Plan[]): number[][] {
  const groups = new Map<string, number[]>();
  plans.forEach((plan, i) => {
    const key = JSON.stringify(planScheduleBlocks(plan));
    groups.set(key, [...(groups.get(key) ?? []), i]);
  });
  return [...groups.values()];
}

function uniqueLenses(lenses: LensHead[]): LensHead[] {
  return [...new Map(lenses.map((lens) => [lens.name, lens])).values()];
}
