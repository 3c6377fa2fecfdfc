/** What every command shares: flag validation, a loaded model for the length of the command, the prompt, settings and plan flags. */
import { readFileSync } from 'node:fs';
import type { z } from 'zod';
import { DEFAULT_ACCURACY_LEVEL, DEFAULT_BLOCK_SIZE, Engine, EngineError, conversionLine, generationSettingsSchema, weightOptionsLabel, weightOptionsSchema, type AnalysisProgress, type ExecutionProvider, type GenerationSettings, type ModelHandle, type WeightFormat, type WeightOptions } from '../engine/api';
import { parseJson } from '../../src-shared/json-syntax';
import { describeIssues } from './args';

/** A command-line mistake: printed with the usage text, exit code 2. */
export class UsageError extends Error {}

export function validate<S extends z.ZodType>(schema: S, flags: Record<string, unknown>): z.output<S> {
  const result = schema.safeParse(flags);
  if (!result.success) throw new UsageError(describeIssues(result.error));
  return result.data;
}

interface ModelArgs {
  model: string;
  tokenizer?: string;
  ep: ExecutionProvider;
  threads?: number;
  weights: WeightFormat;
  blockSize?: number;
  accuracyLevel?: number;
}

/** The weight options the flags ask for, checked by the engine's schema (block size, accuracy level). */
function weightsOf(args: ModelArgs): WeightOptions {
  const parsed = weightOptionsSchema.safeParse({ format: args.weights, blockSize: args.blockSize ?? DEFAULT_BLOCK_SIZE, accuracyLevel: args.accuracyLevel ?? DEFAULT_ACCURACY_LEVEL });
  if (!parsed.success) throw new UsageError(parsed.error.issues.map((issue) => `--${issue.path[0] === 'blockSize' ? 'block-size' : 'accuracy-level'}: ${issue.message}`).join('\n'));
  return parsed.data;
}

/**
 * The model of --model loaded for `use`; `loadOther` loads another (atlas compare's
 * --other) in the same engine and weight format.
 */
export async function withModel<T>(args: ModelArgs, use: (model: ModelHandle, loadOther: (path: string) => Promise<ModelHandle>) => Promise<T>): Promise<T> {
  const weights = weightsOf(args);
  const engine = Engine.create({ executionProvider: args.ep, threads: args.threads });
  const load = async (path: string, tokenizerPath?: string): Promise<ModelHandle> => {
    const model = await engine.loadModel(path, { tokenizerPath, weights, onProgress: conversionLine(weightOptionsLabel(weights), (text) => process.stderr.write(text)) });
    if (model.fallbackReason) process.stderr.write(`note: ${model.fallbackReason}\n`);
    if (weights.format !== 'f32') process.stderr.write(`weights: ${weightOptionsLabel(weights)}, cache ${(model.cacheBytes / 1e6).toFixed(1)} MB\n`);
    return model;
  };
  try {
    return await use(await load(args.model, args.tokenizer), (path) => load(path));
  } finally {
    await engine.close();
  }
}

/** Progress on stderr, one line per step (at most one a second with `throttleMs`), so a long analysis shows it is moving. */
export function progressLine(what: string, throttleMs = 0): (progress: AnalysisProgress) => void {
  let last = -Infinity;
  return (progress) => {
    const now = performance.now();
    if (now - last < throttleMs && progress.done < progress.total) return;
    last = now;
    process.stderr.write(`${what}: ${progress.done}/${progress.total} ${progress.unit}\n`);
  };
}

/** An analysis's signal, aborted by Ctrl-C: the analysis stops after its current pass. */
/**
 * Aborted when stdout's reader goes away (`| head`): a command stops as on Ctrl+C and the
 * CLI exits 0 without a word, as Unix tools do. Exiting at once instead would tear the
 * process down under an onnxruntime run in flight, which aborts natively.
 */
export const outputClosed = new AbortController();

export function cancelOnSigint(): AbortSignal {
  const abort = new AbortController();
  process.once('SIGINT', () => abort.abort());
  return AbortSignal.any([abort.signal, outputClosed.signal]);
}

/** The generation flags (generate, consistency) as settings, validated by the engine's schema. */
export function settingsFromFlags(args: {
  maxNewTokens?: number;
  temperature?: number;
  topK?: number;
  topP?: number;
  repetitionPenalty?: number;
  seed?: number;
  noStop: boolean;
  stop: string[];
}): GenerationSettings {
  const parsed = generationSettingsSchema.safeParse({
    maxNewTokens: args.maxNewTokens,
    temperature: args.temperature,
    topK: args.topK,
    topP: args.topP,
    repetitionPenalty: args.repetitionPenalty,
    seed: args.seed,
    stopAtEos: !args.noStop,
    stopStrings: args.noStop ? [] : args.stop,
  });
  if (!parsed.success) throw new UsageError(describeIssues(parsed.error));
  return parsed.data;
}

/** --prompt-ids as given, or --prompt encoded (as the chat template's user turn with --chat). */
export function promptIdsOf(model: ModelHandle, args: { prompt?: string; promptIds?: number[]; chat?: boolean }): number[] {
  const { tokenizer } = model;
  if (args.promptIds) return args.promptIds;
  if (args.chat) return tokenizer.encode(tokenizer.applyChatTemplate([{ role: 'user', content: args.prompt ?? '' }], { addGenerationPrompt: true }), { addSpecialTokens: false });
  return tokenizer.encode(args.prompt ?? '');
}

export function readPlanFile(path: string | undefined): unknown {
  return path === undefined ? {} : readJsonFile(path, 'plan');
}

export function readJsonFile(path: string, what: 'plan' | 'variants'): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new EngineError('not_found', `${what} file ${path} cannot be read`);
  }
  const parsed = parseJson(text);
  if (!parsed.ok) throw new EngineError('bad_plan', `${what} file ${path}: ${parsed.message}`, { line: parsed.line, column: parsed.column });
  return parsed.value;
}
