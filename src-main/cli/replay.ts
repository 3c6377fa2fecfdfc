/**
 * `replay FILE.tiller.json`: an experiment's saved results made again. Loads the model the
 * file names in the weight format its results were made with (model.weights; float32 for a
 * file written before formats existed), generates every variant from the saved prompt ids
 * with the saved settings, and says, variant by variant, whether the tokens equal the saved
 * ones. --weights replays in another format on purpose, and --model reads the checkpoint
 * from another path; either difference from what the file records is reported, because
 * then the tokens may differ for that reason alone.
 *
 * Exit status: 0 when every saved variant came out the same, 1 when one differs (or on an
 * error).
 */
import { z } from 'zod';
import { EngineError, WEIGHT_FORMATS, openExperiment, variantReport, weightOptions, weightOptionsLabel, type Experiment, type GenerationResult, type ModelHandle, type TokenRecord, type VariantRun, type WeightOptions } from '../engine/api';
import { modelOptions } from './args';
import { UsageError, validate, withModel } from './common';

export const replayArgsSchema = z.object({
  ...modelOptions,
  // The experiment names its model and format; the flags override them.
  model: z.string().min(1).optional(),
  weights: z.enum(WEIGHT_FORMATS).optional(),
  json: z.boolean().default(false),
});

/** One variant's replay against its saved result. */
interface VariantReplay {
  id: string;
  name: string;
  /** not_saved: the variant has no saved result (added after the run). */
  status: 'equal' | 'differs' | 'not_saved';
  savedTokens: number;
  replayedTokens: number;
  /** Index of the first generated token that differs, or null. */
  firstDifference: { index: number; saved: { id: number; text: string } | null; replayed: { id: number; text: string } | null } | null;
  /** Largest |logprob difference| over the tokens both runs chose alike. */
  maxLogprobDiff: number;
}

export interface ReplayReport {
  file: string;
  model: { path: string; recordedPath: string; fingerprintMatches: boolean };
  weights: { recorded: string; replayed: string; match: boolean };
  variants: VariantReplay[];
  /** Every saved variant came out the same. */
  equal: boolean;
  /** Why tokens may differ besides a regression: another checkpoint, another format. */
  warnings: string[];
}

export async function replayCommand(flags: Record<string, unknown>, positionals: string[]): Promise<number> {
  if (positionals.length !== 1) throw new UsageError(`replay takes one experiment file (got ${positionals.length})`);
  const [file] = positionals;
  const args = validate(replayArgsSchema, flags);
  const opened = openExperiment(file);
  for (const warning of opened.warnings) process.stderr.write(`warning: ${warning}\n`);
  const { experiment } = opened;
  const { model: recordedModel, results } = experiment;
  if (!recordedModel) throw new EngineError('bad_experiment', `${file} names no model: there is nothing to replay`);
  if (!results) throw new EngineError('bad_experiment', `${file} holds no saved results to compare with: generate and save it first`);

  const recorded = recordedModel.weights ?? weightOptions('f32');
  const requested: WeightOptions = args.weights === undefined ? recorded : weightOptions(args.weights);
  const modelArgs = {
    ...args,
    model: args.model ?? recordedModel.path,
    tokenizer: args.tokenizer ?? recordedModel.tokenizerPath,
    weights: requested.format,
    blockSize: args.blockSize ?? requested.blockSize,
    accuracyLevel: args.accuracyLevel ?? requested.accuracyLevel,
  };
  const report = await withModel(modelArgs, (model) => replay(file, experiment, model, recorded));
  for (const warning of report.warnings) process.stderr.write(`warning: ${warning}\n`);
  process.stdout.write(args.json ? `${JSON.stringify(reportJson(report))}\n` : describe(report));
  return report.equal ? 0 : 1;
}

async function replay(file: string, experiment: Experiment, model: ModelHandle, recorded: WeightOptions): Promise<ReplayReport> {
  const recordedModel = experiment.model!;
  const results = experiment.results!;
  const warnings: string[] = [];
  const fingerprintMatches = model.fingerprint === recordedModel.fingerprint;
  if (!fingerprintMatches) warnings.push(`the checkpoint at ${model.path} is not the one the experiment was made with (its fingerprint differs)`);
  const weights = { recorded: weightOptionsLabel(recorded), replayed: weightOptionsLabel(model.weights), match: weightOptionsLabel(recorded) === weightOptionsLabel(model.weights) };
  if (!weights.match) warnings.push(`the results were made with ${weights.recorded} weights; this replay uses ${weights.replayed}, so tokens may differ for that reason alone`);

  // The checks Workbench.generate runs: a variant with errors is refused, warnings run.
  const runs: VariantRun[] = experiment.variants.map((variant, i) => {
    const { plan, issues } = variantReport(model.spec, variant);
    const errors = issues.filter((issue) => issue.severity !== 'warning');
    if (errors.length > 0 || plan === null) throw new EngineError('bad_plan', `variant ${i} (${variant.name}): ${errors.map((issue) => `${issue.path}: ${issue.message}`).join('; ')}`);
    return { plan, decoding: variant.decoding };
  });
  const tokens: { id: number; text: string; logprob: number }[][] = runs.map(() => []);
  const stream = model.generateVariants(results.promptIds, experiment.settings, runs);
  let step = await stream.next();
  while (!step.done) {
    tokens[step.value.variant].push(step.value.token);
    step = await stream.next();
  }
  const finished: GenerationResult[] = step.value;

  const variants = experiment.variants.map((variant, i): VariantReplay => {
    const saved = results.variants.find((result) => result.variantId === variant.id);
    const replayed = tokens[i];
    const base = { id: variant.id, name: variant.name, replayedTokens: replayed.length };
    if (!saved) return { ...base, status: 'not_saved', savedTokens: 0, firstDifference: null, maxLogprobDiff: 0 };
    // A cancelled run saved only the tokens made before the stop: compare those.
    const compared = saved.stopReason === 'cancelled' ? replayed.slice(0, saved.tokens.length) : replayed;
    const comparison = compare(saved.tokens, compared);
    if (comparison.firstDifference === null && saved.stopReason !== 'cancelled' && finished[i].stopReason !== saved.stopReason) {
      warnings.push(`${variant.name}: stopped for ${finished[i].stopReason}, the saved run for ${saved.stopReason}`);
    }
    return { ...base, status: comparison.firstDifference === null ? 'equal' : 'differs', savedTokens: saved.tokens.length, ...comparison };
  });
  const orphans = results.variants.filter((result) => !experiment.variants.some((variant) => variant.id === result.variantId));
  if (orphans.length > 0) warnings.push(`${orphans.length} saved result(s) belong to no variant of the experiment and were not compared`);
  return {
    file,
    model: { path: model.path, recordedPath: recordedModel.path, fingerprintMatches },
    weights,
    variants,
    equal: variants.every((variant) => variant.status !== 'differs'),
    warnings,
  };
}

/** Token by token: the first index where the ids (or the lengths) differ, and the logprob drift before it. */
function compare(saved: TokenRecord[], replayed: { id: number; text: string; logprob: number }[]): Pick<VariantReplay, 'firstDifference' | 'maxLogprobDiff'> {
  let maxLogprobDiff = 0;
  const length = Math.max(saved.length, replayed.length);
  for (let index = 0; index < length; index++) {
    const [a, b] = [saved[index], replayed[index]];
    if (!a || !b || a.id !== b.id) {
      const token = (t: { id: number; text: string } | undefined) => (t ? { id: t.id, text: t.text } : null);
      return { firstDifference: { index, saved: token(a), replayed: token(b) }, maxLogprobDiff };
    }
    maxLogprobDiff = Math.max(maxLogprobDiff, Math.abs(a.logprob - b.logprob));
  }
  return { firstDifference: null, maxLogprobDiff };
}

/** The report as the CLI's JSON spells it (snake_case, as every command's output). */
function reportJson(report: ReplayReport): Record<string, unknown> {
  return {
    file: report.file,
    model: { path: report.model.path, recorded_path: report.model.recordedPath, fingerprint_matches: report.model.fingerprintMatches },
    weights: report.weights,
    variants: report.variants.map((v) => ({ id: v.id, name: v.name, status: v.status, saved_tokens: v.savedTokens, replayed_tokens: v.replayedTokens, first_difference: v.firstDifference, max_logprob_diff: v.maxLogprobDiff })),
    equal: report.equal,
    warnings: report.warnings,
  };
}

function describe(report: ReplayReport): string {
  const lines = [`${report.file}: ${report.weights.replayed} weights of ${report.model.path}`];
  const token = (t: { id: number; text: string } | null) => (t ? `${JSON.stringify(t.text)} (id ${t.id})` : 'nothing (ended)');
  for (const v of report.variants) {
    if (v.status === 'not_saved') lines.push(`  ${v.name}: no saved result to compare (${v.replayedTokens} tokens generated)`);
    else if (v.status === 'equal') lines.push(`  ${v.name}: equal, ${v.savedTokens} tokens (logprobs within ${v.maxLogprobDiff.toExponential(1)})`);
    else lines.push(`  ${v.name}: DIFFERS at generated token ${v.firstDifference!.index}: saved ${token(v.firstDifference!.saved)}, replayed ${token(v.firstDifference!.replayed)}`);
  }
  lines.push(report.equal ? 'every saved variant came out the same' : 'the replay differs from the saved results');
  return `${lines.join('\n')}\n`;
}
