/**
 * `vector extract | convert | sweep`: steering vectors from contrast prompt files (or one
 * ActAdd pair), between file formats (llama.cpp GGUF, safetensors, Neuronpedia JSON), and
 * over a strength x layer grid. Flags are validated with zod; results go to stdout,
 * progress to stderr.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { basename, extname } from 'node:path';
import { z } from 'zod';
import {
  actAdd,
  actAddInterventions,
  combineSets,
  Sae,
  saeFeaturesOnPrompt,
  EXTRACT_METHODS,
  extractVectors,
  functionVector,
  READOUTS,
  readVectorSet,
  steeringSweep,
  SWEEP_SITES,
  tokenFromText,
  writeVectorFile,
  EngineError,
  type AnalysisProgress,
  type VectorSet,
} from '../engine/api';
import { intList, modelOptions, numberFlag, numberList } from './args';
import { UsageError, validate, withModel } from './common';

const SUBCOMMANDS = ['extract', 'convert', 'sweep', 'function', 'sae'] as const;

/** "A..B" as an inclusive block range. */
const blockRange = z
  .string()
  .regex(/^\s*\d+\s*\.\.\s*\d+\s*$/, 'expected a block range A..B, e.g. 4..12')
  .transform((s) => {
    const [from, to] = s.split('..').map((x) => Number(x.trim()));
    return { from, to };
  });

const extractArgsSchema = z.object({
  ...modelOptions,
  positive: z.string({ error: '--positive FILE is required (one prompt per line)' }),
  negative: z.string({ error: '--negative FILE is required (one prompt per line)' }),
  hook: z.string({ error: '--hook is required, e.g. blocks.2.hook_resid_post' }),
  method: z.enum(EXTRACT_METHODS, { error: '--method must be mean, pca or actadd' }).default('mean'),
  readout: z.enum(READOUTS).default('last'),
  answerPosition: numberFlag('answer-position').pipe(z.int().max(-1)).optional(),
  batchSize: numberFlag('batch-size').pipe(z.int().min(1).max(256)).optional(),
  out: z.string().optional(),
  label: z.string().optional(),
  modelHint: z.string().optional(),
  json: z.boolean().default(false),
});

/** ActAdd takes the pair itself, not files: one short prompt each, padded to one length. */
const actAddArgsSchema = z.object({
  ...modelOptions,
  positive: z.string({ error: '--positive TEXT is required (ActAdd takes the prompt itself)' }).min(1, '--positive must not be empty'),
  negative: z.string({ error: '--negative TEXT is required (ActAdd takes the prompt itself)' }).min(1, '--negative must not be empty'),
  hook: z.string({ error: '--hook is required, e.g. blocks.2.hook_resid_pre' }).regex(/^[^,{}]+$/, 'ActAdd reads and adds at one hook; give one name, not a list or range'),
  /** The coefficient c the plan's steps carry (--scale, as in `vector convert`). */
  scale: z.array(numberFlag('scale')).max(1, 'give one --scale (the coefficient c)').default([1]),
  at: numberFlag('at').pipe(z.int().min(0)).default(1),
  readout: z.undefined({ error: '--readout does not apply to --method actadd: it keeps every position of the pair' }).optional(),
  out: z
    .string()
    .refine((path) => extname(path).toLowerCase() === '.json', 'ActAdd writes an intervention plan: --out must be a .json file (for generate --plan)')
    .optional(),
  json: z.boolean().default(false),
});

const convertArgsSchema = z.object({
  scale: z.array(numberFlag('scale')).default([]),
  layers: blockRange.optional(),
  hook: z.string().optional(),
  modelHint: z.string().optional(),
  label: z.string().optional(),
  strength: numberFlag('strength').optional(),
  endpoint: z.enum(['vector-new', 'steer-completion']).default('vector-new'),
});

const sweepArgsSchema = z
  .object({
    ...modelOptions,
    prompt: z.string().optional(),
    promptIds: intList.optional(),
    vector: z.string({ error: '--vector FILE is required' }),
    key: z.string().optional(),
    site: z.enum(SWEEP_SITES).default('resid_post'),
    layers: intList,
    scales: numberList('scales'),
    target: z.string().optional(),
    maxNewTokens: numberFlag('max-new-tokens').pipe(z.int().min(1).max(8192)).default(24),
    batchSize: numberFlag('batch-size').pipe(z.int().min(1).max(256)).optional(),
    json: z.boolean().default(false),
  })
  .refine((a) => (a.prompt === undefined) !== (a.promptIds === undefined), { message: 'give exactly one of --prompt and --prompt-ids' });

const headList = z
  .string()
  .regex(/^\s*\d+\.\d+(\s*,\s*\d+\.\d+)*\s*$/, 'expected heads as LAYER.HEAD, comma-separated, e.g. 1.2,3.0')
  .transform((s) => s.split(',').map((part) => {
    const [layer, head] = part.trim().split('.').map(Number);
    return { layer, head };
  }));

const functionArgsSchema = z.object({
  ...modelOptions,
  prompts: z.string({ error: '--prompts FILE is required (one in-context prompt per line)' }),
  heads: headList,
  injectLayer: numberFlag('inject-layer').pipe(z.int().min(0)).optional(),
  batchSize: numberFlag('batch-size').pipe(z.int().min(1).max(256)).optional(),
  out: z.string().optional(),
  label: z.string().optional(),
  modelHint: z.string().optional(),
  json: z.boolean().default(false),
});

const saeArgsSchema = z
  .object({
    ...modelOptions,
    sae: z.string({ error: '--sae DIR is required (an SAELens folder)' }),
    prompt: z.string().optional(),
    promptIds: intList.optional(),
    top: numberFlag('top').pipe(z.int().min(1).max(64)).default(5),
    feature: numberFlag('feature').pipe(z.int().min(0)).optional(),
    out: z.string().optional(),
    json: z.boolean().default(false),
  })
  .refine((a) => (a.feature === undefined) === (a.out === undefined), { message: 'give --feature N and --out FILE together' })
  .refine((a) => a.feature !== undefined || (a.prompt === undefined) !== (a.promptIds === undefined), { message: 'give exactly one of --prompt and --prompt-ids (or --feature N --out FILE)' });

const progressLine = (what: string) => (progress: AnalysisProgress) => process.stderr.write(`${what}: ${progress.done}/${progress.total} ${progress.unit}\n`);

export async function vectorCommand(flags: Record<string, unknown>, positionals: string[]): Promise<void> {
  const [sub, ...rest] = positionals;
  if (sub === 'extract') return extract(flags);
  if (sub === 'convert') return convert(flags, rest);
  if (sub === 'sweep') return sweep(flags);
  if (sub === 'function') return functionCommand(flags);
  if (sub === 'sae') return sae(flags);
  throw new UsageError(`vector: give a subcommand (${SUBCOMMANDS.join(', ')})${sub ? `, not "${sub}"` : ''}`);
}

/** blocks.{1..3}.hook_resid_post -> blocks.1..., blocks.2..., blocks.3...; commas separate names. */
export function expandHooks(pattern: string): string[] {
  return pattern.split(',').flatMap((part) => {
    const match = /\{(\d+)\.\.(\d+)\}/.exec(part.trim());
    if (!match) return [part.trim()];
    const [from, to] = [Number(match[1]), Number(match[2])];
    if (to < from) throw new UsageError(`--hook: the range {${from}..${to}} is empty`);
    return Array.from({ length: to - from + 1 }, (_, i) => part.trim().replace(match[0], String(from + i)));
  });
}

function promptLines(path: string, flag: string): string[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new EngineError('not_found', `--${flag}: cannot read ${path}: ${(error as Error).message}`);
  }
  // One prompt per line; "\n" inside a line stands for a newline in the prompt (llama.cpp's convention).
  const lines = text.split(/\r?\n/).filter((line) => line.trim() !== '').map((line) => line.replace(/\\n/g, '\n'));
  if (lines.length === 0) throw new UsageError(`--${flag}: ${path} holds no prompts (one per line)`);
  return lines;
}

async function extract(flags: Record<string, unknown>): Promise<void> {
  if (flags.method === 'actadd') return actAddCommand(flags);
  const args = validate(extractArgsSchema, flags);
  const positive = promptLines(args.positive, 'positive');
  const negative = promptLines(args.negative, 'negative');
  const hooks = expandHooks(args.hook);
  await withModel(args, async (model) => {
    const request = { method: args.method, positive, negative, hooks, readout: args.readout, answerPosition: args.answerPosition, batchSize: args.batchSize };
    const result = await extractVectors(model, request, { onProgress: progressLine('extract') });
    process.stderr.write(`[${model.provider}] ${result.pairs} pairs, ${result.forwardPasses} forward passes\n`);
    if (args.out) {
      const label = args.label ?? basename(args.positive).replace(/\.[^.]*$/, '');
      const provenance = {
        method: result.method,
        readout: result.readout,
        pairs: String(result.pairs),
        positive: basename(args.positive),
        negative: basename(args.negative),
        norms: JSON.stringify(Object.fromEntries(result.vectors.map((v) => [v.hook, { norm: v.norm, residual_norm: v.residualNorm }]))),
      };
      writeVectorFile(args.out, new Map(result.vectors.map((v) => [v.hook, v.vector])), { model: args.modelHint ?? model.spec.family, label, strength: 1, provenance });
      process.stderr.write(`wrote ${result.vectors.length} vector(s) to ${args.out}\n`);
    }
    const rows = result.vectors.map((v) => ({ hook: v.hook, norm: v.norm, residual_norm: v.residualNorm, relative_norm: v.relativeNorm, ...(v.explainedVariance === undefined ? {} : { explained_variance: v.explainedVariance, flipped: v.flipped }) }));
    if (args.json) {
      process.stdout.write(`${JSON.stringify({ method: result.method, readout: result.readout, pairs: result.pairs, forward_passes: result.forwardPasses, vectors: rows })}\n`);
      return;
    }
    for (const row of rows) process.stdout.write(`${row.hook}  norm ${row.norm.toPrecision(4)}  residual ${row.residual_norm.toPrecision(4)}  relative ${row.relative_norm.toPrecision(3)}${row.explained_variance === undefined ? '' : `  explained ${(row.explained_variance * 100).toFixed(1)}%`}\n`);
  });
}

/**
 * ActAdd (METHODS.md 7.1): the per-position difference of one padded pair, written as the
 * plan that injects it front-aligned at --at (generate --plan FILE applies it).
 */
async function actAddCommand(flags: Record<string, unknown>): Promise<void> {
  const args = validate(actAddArgsSchema, flags);
  await withModel(args, async (model) => {
    const result = await actAdd(model, args.positive, args.negative, args.hook);
    const rows = result.rows.map((row, j) => {
      const norm = Math.hypot(...row);
      const [positive, negative] = [result.positiveIds[j], result.negativeIds[j]].map((id) => model.tokenizer.tokenText(id));
      return { position: args.at + j, positive, negative, norm, relative_norm: result.residualNorm > 0 ? norm / result.residualNorm : 0 };
    });
    if (args.out) {
      writeFileSync(args.out, `${JSON.stringify({ interventions: actAddInterventions(result, args.scale[0], args.at) })}\n`);
      process.stderr.write(`wrote ${rows.length} ActAdd step(s) at ${result.hook}, positions ${args.at}..${args.at + rows.length - 1}, to ${args.out}\n`);
    }
    if (args.json) {
      process.stdout.write(`${JSON.stringify({ method: 'actadd', hook: result.hook, scale: args.scale[0], rows })}\n`);
      return;
    }
    for (const row of rows) process.stdout.write(`position ${row.position}  ${JSON.stringify(row.positive)} - ${JSON.stringify(row.negative)}  norm ${row.norm.toPrecision(4)}  relative ${row.relative_norm.toPrecision(3)}\n`);
  });
}

async function convert(flags: Record<string, unknown>, paths: string[]): Promise<void> {
  const args = validate(convertArgsSchema, flags);
  if (paths.length < 2) throw new UsageError('vector convert: give IN... OUT (at least one input and the output file)');
  const inputs = paths.slice(0, -1);
  const out = paths[paths.length - 1];
  if (args.scale.length > 0 && args.scale.length !== inputs.length) throw new UsageError(`--scale: give one per input (${inputs.length}), got ${args.scale.length}`);
  const sets = inputs.map((path) => withHook(readVectorSet(path), path, args.hook));
  for (const [i, set] of sets.entries()) for (const warning of set.warnings) process.stderr.write(`warning: ${inputs[i]}: ${warning}\n`);
  const sums = combineSets(sets.map((set, i) => ({ set, scale: args.scale[i] ?? 1 })), args.layers);
  if (sums.size === 0) throw new UsageError(`no vectors${args.layers ? ` in blocks ${args.layers.from}..${args.layers.to}` : ''} to write`);
  const first = sets[0];
  writeVectorFile(out, sums, {
    model: args.modelHint ?? first.model ?? 'unknown',
    label: args.label ?? first.label ?? basename(inputs[0]).replace(/\.[^.]*$/, ''),
    strength: args.strength ?? first.strength ?? 1,
    neuronpediaEndpoint: args.endpoint,
    provenance: { converted_from: inputs.map((path) => basename(path)).join(', ') },
  });
  process.stderr.write(`wrote ${sums.size} vector(s) (${[...sums.keys()].join(', ')}) to ${out}\n`);
}

/** A set whose only vector names no hook gets --hook; any other unnamed vector is an error. */
function withHook(set: VectorSet, path: string, hook: string | undefined): VectorSet {
  const unnamed = set.vectors.filter((entry) => entry.hook === null);
  if (unnamed.length === 0) return set;
  if (hook && set.vectors.length === 1) return { ...set, vectors: [{ ...set.vectors[0], hook }] };
  const keys = unnamed.map((entry) => entry.key ?? 'a bare list').join(', ');
  throw new UsageError(`${path}: ${unnamed.length} vector(s) name no hook (${keys}); ${set.vectors.length === 1 ? 'give --hook' : 'save them keyed by hook name'}`);
}

async function sweep(flags: Record<string, unknown>): Promise<void> {
  const args = validate(sweepArgsSchema, flags);
  const set = readVectorSet(args.vector);
  await withModel(args, async (model) => {
    const site = (layer: number) => `blocks.${layer}.hook_${args.site}`;
    // A file keyed by hook gives each layer its own vector; otherwise one vector serves all.
    const perLayer = args.layers.map((layer) => set.vectors.find((entry) => entry.hook === site(layer)));
    let vectors: number[][];
    if (args.key === undefined && perLayer.every(Boolean)) vectors = perLayer.map((entry) => Array.from(entry?.vector ?? []));
    else {
      const chosen = args.key === undefined ? (set.vectors.length === 1 ? set.vectors[0] : undefined) : set.vectors.find((entry) => entry.key === args.key);
      if (!chosen) throw new UsageError(`--vector: ${args.vector} holds ${set.vectors.length} vectors (${set.vectors.map((entry) => entry.key).join(', ')}) and not one at each of ${args.layers.map(site).join(', ')}; choose one with --key`);
      vectors = [Array.from(chosen.vector)];
    }
    const promptIds = args.promptIds ?? model.tokenizer.encode(args.prompt ?? '');
    const target = args.target === undefined ? null : tokenFromText(model.tokenizer, args.target, '--target');
    const settings = { maxNewTokens: args.maxNewTokens, temperature: 0, topK: 0, topP: 1, repetitionPenalty: 1, seed: 0, stopAtEos: true, stopStrings: [] };
    const result = await steeringSweep(model, { promptIds, site: args.site, layers: args.layers, scales: args.scales, vectors, settings, target, batchSize: args.batchSize }, { onProgress: progressLine('sweep') });
    process.stderr.write(`[${model.provider}] ${args.layers.length * args.scales.length} cells, ${result.forwardPasses} forward passes\n`);
    const cellJson = (cell: { text: string; perplexity: number; targetProb: number | null }) => ({ text: cell.text, perplexity: cell.perplexity, target_prob: cell.targetProb });
    if (args.json) {
      const cells = result.cells.map((row) => row.map((cell) => ({ layer: cell.layer, scale: cell.scale, ...cellJson(cell) })));
      process.stdout.write(`${JSON.stringify({ hooks: result.hooks, layers: result.layers, scales: result.scales, target, baseline: cellJson(result.baseline), cells, forward_passes: result.forwardPasses })}\n`);
      return;
    }
    process.stdout.write(`baseline  ppl ${result.baseline.perplexity.toFixed(2)}  ${JSON.stringify(result.baseline.text)}\n`);
    for (const cell of result.cells.flat()) {
      const targetText = cell.targetProb === null ? '' : `  p(target) ${cell.targetProb.toExponential(2)}`;
      process.stdout.write(`layer ${cell.layer} scale ${cell.scale}  ppl ${cell.perplexity.toFixed(2)}${targetText}  ${JSON.stringify(cell.text)}\n`);
    }
  });
}

async function sae(flags: Record<string, unknown>): Promise<void> {
  const args = validate(saeArgsSchema, flags);
  await withModel(args, async (model) => {
    const opened = Sae.open(args.sae);
    try {
      opened.checkModel(model.spec);
      const { hook, dSae, architecture } = opened.info;
      process.stderr.write(`${architecture} SAE at ${hook}, ${dSae} features\n`);
      if (args.feature !== undefined && args.out !== undefined) {
        const vector = opened.featureDirection(args.feature);
        const provenance = { kind: 'sae', sae: basename(args.sae), feature: String(args.feature), architecture };
        writeVectorFile(args.out, new Map([[hook, vector]]), { model: opened.info.model ?? model.spec.family, label: `${basename(args.sae)} feature ${args.feature}`, strength: 1, provenance });
        process.stderr.write(`wrote feature ${args.feature}'s decoder row (${hook}) to ${args.out}\n`);
      }
      if (args.prompt === undefined && args.promptIds === undefined) return;
      const ids = args.promptIds ?? model.tokenizer.encode(args.prompt ?? '');
      const { tokens } = await saeFeaturesOnPrompt(model, opened, ids, args.top);
      if (args.json) {
        process.stdout.write(`${JSON.stringify({ sae: { hook, d_sae: dSae, architecture }, tokens })}\n`);
        return;
      }
      for (const token of tokens) process.stdout.write(`${JSON.stringify(token.text).padEnd(14)} ${token.features.map((f) => `#${f.feature} ${f.activation.toFixed(3)}`).join('  ')}\n`);
    } finally {
      opened.close();
    }
  });
}

async function functionCommand(flags: Record<string, unknown>): Promise<void> {
  const args = validate(functionArgsSchema, flags);
  const prompts = promptLines(args.prompts, 'prompts');
  await withModel(args, async (model) => {
    const result = await functionVector(model, { prompts, heads: args.heads, layer: args.injectLayer, batchSize: args.batchSize }, { onProgress: progressLine('function vector') });
    process.stderr.write(`[${model.provider}] ${prompts.length} prompts x ${args.heads.length} heads, ${result.forwardPasses} forward passes\n`);
    if (args.out) {
      const provenance = { kind: 'function', prompts: basename(args.prompts), heads: args.heads.map((h) => `${h.layer}.${h.head}`).join(',') };
      writeVectorFile(args.out, new Map([[result.hook, result.vector]]), { model: args.modelHint ?? model.spec.family, label: args.label ?? basename(args.prompts).replace(/\.[^.]*$/, ''), strength: 1, provenance });
      process.stderr.write(`wrote the function vector (${result.hook}) to ${args.out}\n`);
    }
    const heads = result.heads.map((h) => ({ layer: h.layer, head: h.head, norm: h.norm }));
    if (args.json) process.stdout.write(`${JSON.stringify({ hook: result.hook, norm: result.norm, residual_norm: result.residualNorm, relative_norm: result.relativeNorm, heads, forward_passes: result.forwardPasses })}\n`);
    else process.stdout.write(`${result.hook}  norm ${result.norm.toPrecision(4)}  relative ${result.relativeNorm.toPrecision(3)}  (${heads.map((h) => `${h.layer}.${h.head}: ${h.norm.toPrecision(3)}`).join(', ')})\n`);
  });
}
