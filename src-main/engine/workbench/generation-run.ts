/**
 * One generate request in flight: every variant from the same prompt and settings
 * (ModelHandle.generateVariants), each token streamed as a 'token' event, and the whole
 * outcome as one 'done' event holding ExperimentResults, or one 'error' event.
 * Cancelling stops after the current step; the run still ends with 'done', its variants
 * marked stopReason 'cancelled' and holding the tokens made so far. Before 'done', each
 * finished variant's tokens get their lens readings (analysis/consistency.ts), and with an
 * answer set its answer's readings over Y, unless the consistency setting turns the pass off.
 */
import { randomUUID } from 'node:crypto';
import type { ModelHandle, VariantRun } from '../engine';
import { serializeError } from '../errors';
import { answerConsistency, lensTopTokens } from '../analysis/consistency';
import type { AnswerConsistency, ConsistencySettings } from '../../../src-shared/consistency';
import type { ExperimentResults, TokenRecord, Variant } from '../experiment/schema';
import type { DecodingStep } from '../../../src-shared/decoding-schema';
import type { TokenEvent } from '../generate/generate';
import type { GenerationSettings } from '../generate/settings';
import type { Plan } from '../hooks/plan';
import type { WorkbenchEvent } from './protocol';

export interface RunRequest {
  promptIds: number[];
  settings: GenerationSettings;
  variants: Variant[];
  /** Each variant's interventions as validated against the model (variant-issues.ts variantReport). */
  plans: Plan[];
  consistency: ConsistencySettings;
  /** consistency.answers as tokens (analysis/consistency.ts answerSet); null without answers. */
  answers: { ids: number[]; warnings: string[] } | null;
}

export class GenerationRun {
  readonly runId = randomUUID();
  /** Settles (never rejects) once the run's last event has been emitted. */
  readonly finished: Promise<void>;
  private readonly abort = new AbortController();

  constructor(
    handle: ModelHandle,
    request: RunRequest,
    private readonly emit: (event: WorkbenchEvent) => void,
  ) {
    this.finished = this.execute(handle, request);
  }

  cancel(): void {
    this.abort.abort();
  }

  private async execute(handle: ModelHandle, request: RunRequest): Promise<void> {
    const { promptIds, settings, variants, plans, consistency } = request;
    const ranAt = new Date().toISOString();
    const tokens: TokenRecord[][] = variants.map(() => []);
    const runs: VariantRun[] = variants.map((variant, i) => ({ plan: plans[i], decoding: variant.decoding }));
    try {
      const stream = handle.generateVariants(promptIds, settings, runs, { signal: this.abort.signal });
      let step = await stream.next();
      while (!step.done) {
        const { variant, token, decoding, baselineLogprob } = step.value;
        const record = tokenRecord(token, decoding, baselineLogprob);
        tokens[variant].push(record);
        this.emit({ type: 'token', runId: this.runId, variant, index: token.index, token: record });
        step = await stream.next();
      }
      // Internal consistency: each variant's lens readings, one pass per variant once all are
      // done (not after a cancel, nor with the pass turned off), and one more at its answer.
      const lensReadings: (number[][] | null)[] = [];
      const answers: (AnswerConsistency | null)[] = [];
      const lensPass = consistency.enabled && !this.abort.signal.aborted;
      for (const [i, list] of tokens.entries()) {
        const generated = list.map((record) => record.id);
        lensReadings.push(lensPass ? await lensTopTokens(handle, plans[i], promptIds, generated) : null);
        answers.push(lensPass && request.answers ? await answerConsistency(handle, plans[i], promptIds, generated, request.answers, consistency.fromLayer) : null);
      }
      const results: ExperimentResults = {
        ranAt,
        provider: handle.provider,
        promptIds,
        variants: step.value.map((result, i) => ({
          variantId: variants[i].id,
          tokens: lensReadings[i] ? tokens[i].map((record, t) => ({ ...record, lensTop1: lensReadings[i]?.[t] })) : tokens[i],
          text: result.text,
          stopReason: result.stopReason,
          tokensPerSecond: result.tokensPerSecond,
          ...(answers[i] ? { answerConsistency: answers[i] } : {}),
        })),
      };
      this.emit({ type: 'done', runId: this.runId, results });
    } catch (error) {
      this.emit({ type: 'error', runId: this.runId, error: serializeError(error) });
    }
  }
}

/** The saved form of a token (experiment/schema.ts tokenRecordSchema), field by field so nothing extra leaks in. */
function tokenRecord(token: TokenEvent, decoding: DecodingStep | null, baselineLogprob: number | null): TokenRecord {
  const record: TokenRecord = {
    id: token.id,
    text: token.text,
    logprob: token.logprob,
    // A filtered-out candidate (logprob -Infinity, e.g. below DoLa's plausibility cut) would
    // become null in JSON and break the saved results; it was never a possible token anyway.
    top: token.top.filter((alternative) => Number.isFinite(alternative.logprob)).map((alternative) => ({ id: alternative.id, text: alternative.text, logprob: alternative.logprob })),
  };
  // -Infinity (a token DoLa's plausibility cut removed from the baseline) has no JSON form.
  if (baselineLogprob !== null && Number.isFinite(baselineLogprob)) record.baselineLogprob = baselineLogprob;
  if (decoding) {
    // JSON keys are strings: the saved form keys scores by the layer number as text.
    record.decoding = { strategy: decoding.strategy, layer: decoding.layer, scores: Object.fromEntries(Object.entries(decoding.scores)) };
  }
  return record;
}
