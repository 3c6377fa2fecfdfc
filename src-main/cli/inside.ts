/**
 * The "look inside" commands: the logit lens and activation patching sweeps. Each prints
 * a readable table, or with --json one object (snake_case keys, like every command).
 */
import { z } from 'zod';
import { causalTrace, findSubject, LENS_SITES, logitLens, PATCH_METRICS, PATCH_SITES, patchingSweep, TRACE_KINDS, tokenFromText, writePatchExport, type ModelHandle, type PatchAlignment } from '../engine/api';
import { intList, modelOptions, numberFlag } from './args';
import { cancelOnSigint, progressLine, validate, withModel } from './common';
import { patchingWorkLine } from '../../src-shared/patching-work';

const lensArgsSchema = z
  .object({
    ...modelOptions,
    prompt: z.string().optional(),
    promptIds: intList.optional(),
    target: z.string().optional(),
    site: z.enum(LENS_SITES).default('resid_post'),
    noFinalNorm: z.boolean().default(false),
    json: z.boolean().default(false),
  })
  .refine((a) => (a.prompt === undefined) !== (a.promptIds === undefined), { message: 'give exactly one of --prompt and --prompt-ids' });

const patchArgsSchema = z
  .object({
    ...modelOptions,
    clean: z.string().optional(),
    corrupted: z.string().optional(),
    cleanIds: intList.optional(),
    corruptedIds: intList.optional(),
    answer: z.string({ error: '--answer is required' }),
    wrong: z.string({ error: '--wrong is required' }),
    hook: z.enum(PATCH_SITES).default('resid_pre'),
    direction: z.enum(['denoising', 'noising']).default('denoising'),
    metric: z.enum(PATCH_METRICS).default('logit_diff'),
    positions: z.enum(['each', 'all']).default('each'),
    batchSize: numberFlag('batch-size').pipe(z.int().min(1).max(1024)).optional(),
    align: z
      .union([z.enum(['start', 'end']), z.string().regex(/^\s*\d+:\d+(\s*,\s*\d+:\d+)*\s*$/, 'expected start, end, or clean:corrupted position pairs, e.g. 0:0,3:4')])
      .transform((text): PatchAlignment => (text === 'start' || text === 'end' ? text : text.split(',').map((pair) => pair.split(':').map((x) => Number(x.trim())) as [number, number])))
      .optional(),
    out: z.string().optional(),
    json: z.boolean().default(false),
  })
  .refine((a) => (a.clean === undefined) !== (a.cleanIds === undefined), { message: 'give exactly one of --clean and --clean-ids' })
  .refine((a) => (a.corrupted === undefined) !== (a.corruptedIds === undefined), { message: 'give exactly one of --corrupted and --corrupted-ids' });

const traceArgsSchema = z
  .object({
    ...modelOptions,
    prompt: z.string().optional(),
    promptIds: intList.optional(),
    subject: z.string().min(1).optional(),
    subjectPositions: intList.pipe(z.tuple([z.int(), z.int()], { error: 'give two positions: START,END' })).optional(),
    answer: z.string().optional(),
    kind: z.enum(TRACE_KINDS).default('hidden'),
    window: numberFlag('window').pipe(z.int().min(1)).optional(),
    samples: numberFlag('samples').pipe(z.int().min(1).max(100)).optional(),
    seed: numberFlag('seed').pipe(z.int().min(0)).optional(),
    noiseScale: numberFlag('noise-scale').pipe(z.number().min(0)).optional(),
    json: z.boolean().default(false),
  })
  .refine((a) => (a.prompt === undefined) !== (a.promptIds === undefined), { message: 'give exactly one of --prompt and --prompt-ids' })
  .refine((a) => (a.subject === undefined) !== (a.subjectPositions === undefined), { message: 'give exactly one of --subject and --subject-positions' });

const tokenLabel = (model: ModelHandle, id: number): string => JSON.stringify(model.tokenizer.tokenText(id));

export async function lensCommand(flags: Record<string, unknown>): Promise<void> {
  const args = validate(lensArgsSchema, flags);
  await withModel(args, async (model) => {
    const ids = args.promptIds ?? model.tokenizer.encode(args.prompt ?? '');
    const target = args.target === undefined ? null : tokenFromText(model.tokenizer, args.target, '--target');
    const lens = await logitLens(model, { ids, site: args.site, finalNorm: !args.noFinalNorm, target }, { signal: cancelOnSigint(), onProgress: progressLine('lens') });
    if (args.json) {
      const output = {
        site: lens.site,
        final_norm: lens.finalNorm,
        ids: lens.ids,
        tokens: lens.ids.map((id) => model.tokenizer.tokenText(id)),
        layers: lens.layers,
        positions: lens.positions,
        top1: lens.top1,
        top1_tokens: lens.top1.map((row) => row.map((id) => model.tokenizer.tokenText(id))),
        top1_prob: lens.top1Prob,
        entropy: lens.entropy,
        kl_to_final: lens.klToFinal,
        target,
        target_prob: lens.targetProb,
        target_rank: lens.targetRank,
        final_top1: lens.final.top1,
        forward_passes: lens.forwardPasses,
      };
      process.stdout.write(`${JSON.stringify(output)}\n`);
      return;
    }
    // One line per layer: the top-1 token and its probability at each position.
    process.stdout.write(`position: ${lens.ids.map((id, p) => `${p}=${tokenLabel(model, id)}`).join(' ')}\n`);
    for (const layer of lens.layers) {
      const cells = lens.positions.map((p) => `${tokenLabel(model, lens.top1[layer][p])} ${(lens.top1Prob[layer][p] * 100).toFixed(0)}%`);
      const targetText = lens.targetProb && lens.targetRank ? `  | target p=${lens.targetProb[layer].at(-1)?.toExponential(2)} rank=${lens.targetRank[layer].at(-1)}` : '';
      process.stdout.write(`layer ${String(layer).padStart(2)}: ${cells.join('  ')}${targetText}\n`);
    }
  });
}

/** An effect to 3 decimals; one that rounds to zero prints as 0.000, not -0.000. */
const effectText = (x: number): string => (Number(x.toFixed(3)) || 0).toFixed(3);

export async function patchCommand(flags: Record<string, unknown>): Promise<void> {
  const args = validate(patchArgsSchema, flags);
  await withModel(args, async (model) => {
    const clean = args.cleanIds ?? model.tokenizer.encode(args.clean ?? '');
    const corrupted = args.corruptedIds ?? model.tokenizer.encode(args.corrupted ?? '');
    const answer = tokenFromText(model.tokenizer, args.answer, '--answer');
    const wrong = tokenFromText(model.tokenizer, args.wrong, '--wrong');
    const request = { clean, corrupted, answer, wrong, site: args.hook, direction: args.direction, metric: args.metric, positions: args.positions, batchSize: args.batchSize, alignment: args.align ?? null };
    const result = await patchingSweep(model, request, { signal: cancelOnSigint(), onProgress: progressLine('patch') });
    for (const warning of result.warnings) process.stderr.write(`warning: ${warning}\n`);
    process.stderr.write(`[${model.provider}] ${patchingWorkLine(result)}\n`);
    if (args.out) process.stderr.write(`wrote ${writePatchExport(result, args.out)} to ${args.out}\n`);
    if (args.json) {
      const output = {
        metric: result.request.metric,
        direction: result.request.direction,
        hook: result.request.site,
        layers: result.layers.length,
        positions: clean.length,
        column_kind: result.columnKind,
        columns: result.columns,
        effect: result.effect,
        value: result.value,
        clean: { value: result.clean.value, logit_diff: result.clean.logitDiff, answer_prob: result.clean.answerProb },
        corrupted: { value: result.corrupted.value, logit_diff: result.corrupted.logitDiff, answer_prob: result.corrupted.answerProb },
        forward_passes: result.forwardPasses,
        cells: result.cells,
        block_positions: result.blockPositions,
        warnings: result.warnings,
      };
      process.stdout.write(`${JSON.stringify(output)}\n`);
      return;
    }
    process.stdout.write(`normalised ${result.request.metric} effect (${result.request.direction}), layer x ${result.columnKind}; clean ${result.clean.value.toFixed(4)}, corrupted ${result.corrupted.value.toFixed(4)}\n`);
    for (const layer of result.layers) process.stdout.write(`layer ${String(layer).padStart(2)}: ${result.effect[layer].map((x) => effectText(x).padStart(7)).join(' ')}\n`);
  });
}

export async function traceCommand(flags: Record<string, unknown>): Promise<void> {
  const args = validate(traceArgsSchema, flags);
  await withModel(args, async (model) => {
    const ids = args.promptIds ?? model.tokenizer.encode(args.prompt ?? '');
    const subject = args.subjectPositions ? { start: args.subjectPositions[0], end: args.subjectPositions[1] } : findSubject(model.tokenizer, ids, args.subject ?? '');
    const answer = args.answer === undefined ? null : tokenFromText(model.tokenizer, args.answer, '--answer');
    const request = { ids, subject, answer, kind: args.kind, window: args.window, samples: args.samples, seed: args.seed, noiseScale: args.noiseScale };
    const result = await causalTrace(model, request, { signal: cancelOnSigint(), onProgress: progressLine('trace') });
    process.stderr.write(`[${model.provider}] ${result.cells} restorations x ${args.samples ?? 10} noise samples in ${result.forwardPasses} forward passes\n`);
    if (args.json) {
      const output = {
        kind: args.kind,
        ids,
        tokens: ids.map((id) => model.tokenizer.tokenText(id)),
        subject,
        answer: result.answer,
        answer_token: model.tokenizer.tokenText(result.answer),
        layers: result.layers,
        positions: result.positions,
        clean_prob: result.cleanProb,
        corrupted_prob: result.corruptedProb,
        restored_prob: result.restoredProb,
        indirect_effect: result.indirectEffect,
        noise_std: result.noiseStd,
        forward_passes: result.forwardPasses,
      };
      process.stdout.write(`${JSON.stringify(output)}\n`);
      return;
    }
    process.stdout.write(`p(${tokenLabel(model, result.answer)}): clean ${result.cleanProb.toFixed(4)}, noised subject ${result.corruptedProb.toFixed(4)}; restored ${args.kind} state, position x layer:\n`);
    for (const p of result.positions) {
      const marker = p >= subject.start && p < subject.end ? '*' : ' ';
      process.stdout.write(`${marker}${String(p).padStart(3)} ${tokenLabel(model, ids[p]).padEnd(14)} ${result.layers.map((layer) => result.restoredProb[layer][p].toFixed(3)).join(' ')}\n`);
    }
  });
}
