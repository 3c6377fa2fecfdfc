/**
 * `consistency`: generate a response, then score its internal consistency (METHODS.md 4):
 * per generated token every block's lens top-1 and whether it is the token, the response's
 * IC over the layer set L', and with --answers the paper's IC over the answer set Y at the
 * answer. With --samples K (and a temperature), calibrated self-consistency: K sampled
 * paths, each path's answer and IC, the plain majority vote and the IC-weighted one.
 */
import { z } from 'zod';
import { consistencyFromSchema, consistencyOutputSchema, internalConsistency, type ConsistencyOutput, type ConsistencyResult, type GenerationResult, type GenerationSettings, type ModelHandle } from '../engine/api';
import { generationOptions, modelOptions, numberFlag } from './args';
import { promptIdsOf, readPlanFile, settingsFromFlags, UsageError, validate, withModel } from './common';

const consistencyArgsSchema = z
  .object({
    ...modelOptions,
    ...generationOptions,
    plan: z.string().optional(),
    // Split on commas only: a leading space is part of an answer (" True" is not "True").
    answers: z
      .string()
      .transform((text) => text.split(','))
      .pipe(z.array(z.string().min(1, 'an answer is empty (two commas in a row?)')).max(32))
      .optional(),
    fromLayer: z
      .string()
      .regex(/^(\d+|middle)$/, 'expected a block index (0, 1, ...) or "middle"')
      .transform((text) => (text === 'middle' ? text : Number(text)))
      .pipe(consistencyFromSchema)
      .default(0),
    samples: numberFlag('samples').pipe(z.int().min(2).max(64)).optional(),
    json: z.boolean().default(false),
  })
  .refine((a) => (a.prompt === undefined) !== (a.promptIds === undefined), { message: 'give exactly one of --prompt and --prompt-ids' })
  .refine((a) => a.samples === undefined || a.answers !== undefined, { message: '--samples votes over the answers: give --answers too', path: ['samples'] });

type Args = z.output<typeof consistencyArgsSchema>;

interface Path {
  result: GenerationResult;
  consistency: ConsistencyResult;
}

/** Generate one response with the settings and score it. */
async function scoredPath(model: ModelHandle, args: Args, promptIds: number[], plan: unknown, settings: GenerationSettings): Promise<Path> {
  const stream = model.generateVariants(promptIds, settings, [{ plan }]);
  let step = await stream.next();
  while (!step.done) step = await stream.next();
  const result = step.value[0];
  for (const warning of result.warnings) process.stderr.write(`warning: ${warning}\n`);
  const consistency = await internalConsistency(model, { plan, promptIds, generated: result.generatedIds, fromLayer: args.fromLayer, answers: args.answers });
  return { result, consistency };
}

export async function consistencyCommand(flags: Record<string, unknown>): Promise<void> {
  const args = validate(consistencyArgsSchema, flags);
  const settings = settingsFromFlags(args);
  if (args.samples !== undefined && settings.temperature === 0) throw new UsageError('--samples: greedy paths are all the same; give --temperature above 0');
  const plan = readPlanFile(args.plan);
  await withModel(args, async (model) => {
    const promptIds = promptIdsOf(model, args);
    const started = performance.now();
    const first = await scoredPath(model, args, promptIds, plan, settings);
    const output = describe(model, promptIds, first, args);
    for (const warning of output.answer?.warnings ?? []) process.stderr.write(`warning: ${warning}\n`);
    process.stderr.write(`[${model.provider}] ${first.result.generatedTokens} tokens, lens readings in ${output.forward_passes} forward passes; ${((performance.now() - started) / 1000).toFixed(2)} s\n`);
    const paths = [first];
    for (let k = 1; k < (args.samples ?? 1); k++) paths.push(await scoredPath(model, args, promptIds, plan, { ...settings, seed: settings.seed + k }));
    const vote = args.samples === undefined ? null : selfConsistency(model, paths, settings.seed);
    const full = consistencyOutputSchema.parse({ ...output, self_consistency: vote });
    if (args.json) {
      process.stdout.write(`${JSON.stringify(full)}\n`);
      return;
    }
    printText(model, full);
  });
}

function describe(model: ModelHandle, promptIds: number[], { result, consistency }: Path, args: Args): Omit<ConsistencyOutput, 'self_consistency'> {
  const text = (id: number): string => model.tokenizer.tokenText(id);
  const { answer } = consistency;
  return {
    prompt_ids: promptIds,
    ids: result.generatedIds,
    text: result.text,
    stop_reason: result.stopReason,
    blocks: model.spec.nLayers,
    from_layer: args.fromLayer,
    layers: consistency.layers,
    tokens: result.generatedIds.map((id, t) => ({ id, text: text(id), lens_top1: consistency.lensTop1[t], agree: consistency.agree[t], score: consistency.scores[t] })),
    ic: consistency.score,
    answer: answer && {
      answers: answer.answers,
      answer_texts: answer.answerTexts,
      at: answer.at && { index: answer.at.index, token: answer.at.token, token_text: text(answer.at.token), readings: answer.at.readings, agree: answer.at.readings.map((id) => id === answer.at?.token), ic: answer.at.score },
      warnings: answer.warnings,
    },
    forward_passes: consistency.forwardPasses,
    provider: model.provider,
  };
}

/**
 * Calibrated self-consistency (METHODS.md 4): each path's answer a_k and IC_k; the plain
 * majority argmax_y sum_k 1[a_k = y] and the weighted argmax_y sum_k IC_k 1[a_k = y].
 * Paths without an answer do not vote; ties go to the answer listed first in Y.
 */
function selfConsistency(model: ModelHandle, paths: Path[], seed: number): NonNullable<ConsistencyOutput['self_consistency']> {
  const answers = paths[0].consistency.answer?.answers ?? [];
  const votes = answers.map((token) => {
    const voters = paths.filter((path) => path.consistency.answer?.at?.token === token);
    return { token, text: model.tokenizer.tokenText(token), count: voters.length, weight: voters.reduce((sum, path) => sum + (path.consistency.answer?.at?.score ?? 0), 0) };
  });
  const best = (key: 'count' | 'weight'): number | null => {
    const top = votes.reduce<(typeof votes)[number] | null>((winner, vote) => (vote[key] > 0 && (winner === null || vote[key] > winner[key]) ? vote : winner), null);
    return top?.token ?? null;
  };
  return {
    paths: paths.map((path, k) => ({ seed: seed + k, text: path.result.text, answer: path.consistency.answer?.at?.token ?? null, ic: path.consistency.answer?.at?.score ?? null })),
    votes,
    majority: best('count'),
    weighted: best('weight'),
  };
}

function printText(model: ModelHandle, output: ConsistencyOutput): void {
  const label = (id: number): string => JSON.stringify(model.tokenizer.tokenText(id));
  process.stdout.write(`${output.text}\n`);
  process.stdout.write(`internal consistency over blocks ${output.layers[0]}..${output.layers.at(-1)} of ${output.blocks}: IC ${output.ic === null ? '-' : output.ic.toFixed(3)}\n`);
  for (const token of output.tokens) process.stdout.write(`${label(token.id).padEnd(16)} ${token.score.toFixed(2)}  ${token.agree.map((yes) => (yes ? '#' : '.')).join('')}\n`);
  const at = output.answer?.at;
  if (at) process.stdout.write(`answer ${label(at.token)} (token ${at.index}): IC over {${output.answer?.answer_texts.map((text) => JSON.stringify(text)).join(', ')}} ${at.ic.toFixed(3)}  ${at.agree.map((yes) => (yes ? '#' : '.')).join('')}\n`);
  const vote = output.self_consistency;
  if (vote) {
    for (const path of vote.paths) process.stdout.write(`seed ${path.seed}: answer ${path.answer === null ? '-' : label(path.answer)}, IC ${path.ic === null ? '-' : path.ic.toFixed(3)}\n`);
    process.stdout.write(`majority vote: ${vote.majority === null ? '-' : label(vote.majority)}; IC-weighted vote: ${vote.weighted === null ? '-' : label(vote.weighted)}\n`);
  }
}
