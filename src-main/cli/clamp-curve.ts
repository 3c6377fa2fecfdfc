/**
 * The clamp-curve command: one MLP neuron set to each of a list of values at every
 * position, and p(concept token) at the last position (and averaged over every position
 * with --average). Prints a table, or with --json one object (snake_case keys, like every
 * command); the forward passes used go to stderr.
 */
import { z } from 'zod';
import { clampCurve, tokenFromText, type ClampReading } from '../engine/api';
import { intList, modelOptions, numberFlag, numberList } from './args';
import { cancelOnSigint, progressLine, validate, withModel } from './common';

const clampCurveArgsSchema = z
  .object({
    ...modelOptions,
    prompt: z.string().optional(),
    promptIds: intList.optional(),
    layer: z.string({ error: '--layer is required' }).pipe(numberFlag('layer')).pipe(z.int().min(0)),
    neuron: z.string({ error: '--neuron is required' }).pipe(numberFlag('neuron')).pipe(z.int().min(0)),
    token: z.string({ error: '--token is required' }).min(1, '--token must name a token'),
    values: numberList('values').optional(),
    absolute: z.boolean().default(false),
    reference: z.string().min(1).optional(),
    average: z.boolean().default(false),
    batchSize: numberFlag('batch-size').pipe(z.int().min(1).max(1024)).optional(),
    json: z.boolean().default(false),
  })
  .refine((a) => (a.prompt === undefined) !== (a.promptIds === undefined), { message: 'give exactly one of --prompt and --prompt-ids' })
  .refine((a) => !a.absolute || a.values !== undefined, { message: '--absolute needs --values' });

const readingJson = (reading: ClampReading) => ({ prob: reading.prob, rank: reading.rank, mean_prob: reading.meanProb });

export async function clampCurveCommand(flags: Record<string, unknown>): Promise<void> {
  const args = validate(clampCurveArgsSchema, flags);
  await withModel(args, async (model) => {
    const ids = args.promptIds ?? model.tokenizer.encode(args.prompt ?? '');
    const token = tokenFromText(model.tokenizer, args.token, '--token');
    const request = {
      ids,
      layer: args.layer,
      neuron: args.neuron,
      token,
      values: args.values,
      scale: args.absolute ? ('absolute' as const) : ('max_activation' as const),
      reference: args.reference === undefined ? null : model.tokenizer.encode(args.reference),
      average: args.average,
      batchSize: args.batchSize,
    };
    const started = performance.now();
    const result = await clampCurve(model, request, { signal: cancelOnSigint(), onProgress: progressLine('clamp curve') });
    process.stderr.write(`[${model.provider}] ${result.points.length} clamp values, ${result.forwardPasses} forward passes in ${((performance.now() - started) / 1000).toFixed(2)} s\n`);
    for (const warning of result.warnings) process.stderr.write(`warning: ${warning}\n`);
    const tokenText = model.tokenizer.tokenText(token);
    if (args.json) {
      const output = {
        hook: result.hook,
        neuron: request.neuron,
        token,
        token_text: tokenText,
        scale: request.scale,
        max_activation: result.maxActivation,
        max_position: result.maxPosition,
        baseline: readingJson(result.baseline),
        points: result.points.map((point) => ({ value: point.value, ...readingJson(point) })),
        forward_passes: result.forwardPasses,
        warnings: result.warnings,
      };
      process.stdout.write(`${JSON.stringify(output)}\n`);
      return;
    }
    const line = (label: string, reading: ClampReading): string =>
      `${label.padStart(12)}  p ${reading.prob.toExponential(3)}  rank ${String(reading.rank + 1).padStart(6)}${reading.meanProb === null ? '' : `  mean p ${reading.meanProb.toExponential(3)}`}\n`;
    process.stdout.write(`${result.hook}[${request.neuron}], p(${JSON.stringify(tokenText)}); largest activation ${result.maxActivation.toFixed(4)} at position ${result.maxPosition}\n`);
    process.stdout.write(line('unclamped', result.baseline));
    for (const point of result.points) process.stdout.write(line(point.value.toPrecision(4), point));
  });
}
