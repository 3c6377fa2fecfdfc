/**
 * Tiller's command line: one more client of engine/api.ts. Results go to stdout (text,
 * or one JSON object with --json); progress and timing go to stderr. Errors exit non-zero
 * with a message naming the problem.
 */
import { z } from 'zod';
import { decodingSchema, EngineError, listHooks, type CaptureResult, type Decoding, type GenerationResult, type VariantRun, type VariantTokenEvent } from '../engine/api';
import { USAGE, generateArgsSchema, hooksArgsSchema, parseCommandLine, runArgsSchema, tokenizeArgsSchema } from './args';
import { issueLines, safeParseBounded, zodIssues } from '../../src-shared/issues';
import { cancelOnSigint, outputClosed, promptIdsOf, readJsonFile, readPlanFile, settingsFromFlags, UsageError, validate, withModel } from './common';
import { consistencyCommand } from './consistency';
import { lensCommand, patchCommand, traceCommand } from './inside';
import { atlasCommand } from './atlas';
import { clampCurveCommand } from './clamp-curve';
import { replayCommand } from './replay';
import { vectorCommand } from './vector';


async function generateCommand(flags: Record<string, unknown>): Promise<void> {
  const args = validate(generateArgsSchema, flags);
  const settings = settingsFromFlags(args);

  const variants = readVariants(args);
  await withModel(args, async (model) => {
    const promptIds = promptIdsOf(model, args);

    const events: VariantTokenEvent[] = [];
    const generation = model.generateVariants(promptIds, settings, variants, { signal: cancelOnSigint() });
    // One variant streams its text as it comes; several are printed one after another at the end.
    // The prompt is echoed once the engine has accepted the request (its first token, or
    // its end), so a refused plan prints only the error.
    const streaming = !args.json && variants.length === 1;
    let echoed = false;
    const echoPrompt = (): void => {
      if (streaming && !echoed) process.stdout.write(args.prompt ?? '');
      echoed = true;
    };
    let step = await generation.next();
    while (!step.done) {
      events.push(step.value);
      echoPrompt();
      if (streaming) process.stdout.write(step.value.token.text);
      step = await generation.next();
    }
    if (outputClosed.signal.aborted) return;
    echoPrompt();
    const results = step.value;
    for (const [i, result] of results.entries()) {
      const label = variants.length > 1 ? `${variantName(variants[i], i)}: ` : '';
      for (const warning of result.warnings) process.stderr.write(`warning: ${label}${warning}\n`);
      process.stderr.write(`${streaming ? '\n' : ''}[${model.provider}] ${label}${result.promptTokens} prompt + ${result.generatedTokens} generated tokens, ${result.tokensPerSecond.toFixed(1)} tok/s, stop: ${result.stopReason}\n`);
    }
    if (!args.json && !streaming) {
      for (const [i, result] of results.entries()) process.stdout.write(`--- ${variantName(variants[i], i)}\n${args.prompt ?? ''}${result.text}\n`);
    }
    if (!args.json) return;
    const describe = (result: GenerationResult, i: number) => ({
      name: variantName(variants[i], i),
      decoding: variants[i].decoding?.strategy ?? 'greedy',
      ids: result.ids,
      text: result.text,
      prompt_tokens: result.promptTokens,
      generated_tokens: result.generatedTokens,
      stop_reason: result.stopReason,
      tokens_per_second: result.tokensPerSecond,
      prefill_ms: result.prefillMs,
      warnings: result.warnings,
      tokens: events
        .filter((e) => e.variant === i)
        .map(({ token, decoding, captures }) => ({
          id: token.id,
          text: token.text,
          logprob: token.logprob,
          top: token.top,
          ...(decoding ? { layer: decoding.layer, layer_scores: decoding.scores } : {}),
          // The plan's captures at the positions this step fed (the whole prompt at the first token).
          ...(Object.keys(captures).length ? { captures: capturesJson(captures) } : {}),
        })),
    });
    const common = { provider: model.provider, fallback_reason: model.fallbackReason };
    const output = args.variants ? { prompt_ids: promptIds, ...common, variants: results.map(describe) } : { ...describe(results[0], 0), ...common };
    process.stdout.write(`${JSON.stringify(output)}\n`);
  });
}

type CliVariant = VariantRun & { name?: string };

const variantName = (variant: CliVariant, i: number): string => variant.name ?? (i === 0 ? 'baseline' : `variant ${i}`);

/** --plan, --variants and the decoding flags as the variants to generate. */
function readVariants(args: z.output<typeof generateArgsSchema>): CliVariant[] {
  const decoding = decodingFromFlags(args);
  if (args.variants === undefined) return [{ plan: readPlanFile(args.plan), decoding }];
  const list = readJsonFile(args.variants, 'variants');
  if (!Array.isArray(list) || list.length === 0) throw new UsageError(`--variants: ${args.variants} must hold a non-empty JSON array of plans or {"name", "plan", "decoding"} objects`);
  return list.map((item: unknown, i) => {
    const isVariant = typeof item === 'object' && item !== null && ['name', 'plan', 'decoding'].some((key) => key in item);
    if (!isVariant) return { plan: item, decoding };
    const variant = item as { name?: unknown; plan?: unknown; decoding?: unknown };
    if (variant.name !== undefined && typeof variant.name !== 'string') throw new UsageError(`--variants: [${i}].name must be a string`);
    const parsed = safeParseBounded(decodingSchema, variant.decoding ?? decoding);
    if (!parsed.success) throw new UsageError(`--variants: ${issueLines(zodIssues(parsed.error.issues, [i, 'decoding']))}`);
    return { name: variant.name, plan: variant.plan ?? {}, decoding: parsed.data };
  });
}

/** The --decoding strategy with its option flags, validated by the engine's schema. */
function decodingFromFlags(args: z.output<typeof generateArgsSchema>): Decoding {
  const finalNorm = args.finalNorm ? true : args.noFinalNorm ? false : undefined;
  const layers = args.layers === undefined ? undefined : /^(low|high)$/.test(args.layers) ? args.layers : args.layers.split(',').map((x) => Number(x.trim()));
  const input =
    args.decoding === 'lfd'
      ? { strategy: 'lfd', candidateLayers: layers, lambda: args.lambda, fusion: args.fusion, plausibilityAlpha: args.alpha, applyFinalNorm: finalNorm }
      : args.decoding === 'dola'
        ? { strategy: 'dola', layers, alpha: args.alpha, repetitionPenalty: args.dolaPenalty, prematureFinalNorm: finalNorm }
        : { strategy: 'greedy' };
  const parsed = decodingSchema.safeParse(input);
  if (!parsed.success) {
    const flag: Record<string, string> = { candidateLayers: 'layers', layers: 'layers', plausibilityAlpha: 'alpha', repetitionPenalty: 'dola-penalty', applyFinalNorm: 'final-norm', prematureFinalNorm: 'final-norm' };
    throw new UsageError(parsed.error.issues.map((issue) => `--${flag[String(issue.path[0])] ?? String(issue.path[0])}: ${issue.message}`).join('\n'));
  }
  return parsed.data;
}

/** Row-major data as nested arrays of the given shape, for JSON output. */
function nested(shape: number[], data: Float32Array, offset = 0): unknown[] {
  const [size, ...rest] = shape;
  const stride = rest.reduce((a, b) => a * b, 1);
  return Array.from({ length: size }, (_, i) => (rest.length ? nested(rest, data, offset + i * stride) : data[offset + i]));
}

function capturesJson(captures: Record<string, CaptureResult>): Record<string, unknown[]> {
  return Object.fromEntries(Object.entries(captures).map(([hook, c]) => [hook, nested(c.shape, c.data)]));
}

async function runCommand(flags: Record<string, unknown>): Promise<void> {
  const args = validate(runArgsSchema, flags);
  const plan = readPlanFile(args.plan);
  await withModel(args, async (model) => {
    const ids = args.promptIds ?? model.tokenizer.encode(args.prompt ?? '');
    const { logits, captures, lens, warnings } = await model.run(ids, plan);
    for (const warning of warnings) process.stderr.write(`warning: ${warning}\n`);
    const argmax = (row: Float32Array): number => row.reduce((best, v, i) => (v > row[best] ? i : best), 0);
    const output = {
      ids,
      argmax_per_pos: logits.map(argmax),
      logits_last: Array.from(logits[logits.length - 1]),
      captures: capturesJson(captures),
      capture_dims: Object.fromEntries(Object.entries(captures).map(([hook, c]) => [hook, { dims: c.dims, shape: c.shape, positions: c.positions }])),
      // Logit lens of each lens-op block at the last position: argmax and logits.
      lens_last: Object.fromEntries(Object.entries(lens).map(([layer, rows]) => [layer, { argmax: argmax(rows[rows.length - 1]), logits: Array.from(rows[rows.length - 1]) }])),
      provider: model.provider,
      warnings,
    };
    process.stdout.write(`${JSON.stringify(output)}\n`);
  });
}

async function tokenizeCommand(flags: Record<string, unknown>): Promise<void> {
  const args = validate(tokenizeArgsSchema, flags);
  await withModel(args, async (model) => {
    const ids = model.tokenizer.encode(args.text, { addSpecialTokens: !args.noSpecial });
    if (args.json) process.stdout.write(`${JSON.stringify({ ids })}\n`);
    else process.stdout.write(`${ids.map((id) => `${id}\t${JSON.stringify(model.tokenizer.tokenText(id))}`).join('\n')}\n`);
  });
}

/** The hook points a plan can name, with their TransformerLens dims and sizes. */
async function hooksCommand(flags: Record<string, unknown>): Promise<void> {
  const args = validate(hooksArgsSchema, flags);
  await withModel(args, async (model) => {
    const hooks = listHooks(model.spec);
    if (args.json) {
      process.stdout.write(`${JSON.stringify(hooks)}\n`);
      return;
    }
    const width = Math.max(...hooks.map((hook) => hook.name.length));
    for (const hook of hooks) {
      const shape = hook.dims.map((dim, i) => `${dim}=${hook.shape[i]}`).join(', ');
      const indexed = hook.indexUnit ? `  set/scale index: ${hook.indexUnit} 0..${hook.nIndex - 1}` : '';
      process.stdout.write(`${hook.name.padEnd(width)}  [${shape}]${indexed}\n`);
    }
  });
}

/** Each command; one that resolves to a number sets the exit status (replay: 1 when the outputs differ). */
const COMMANDS: Record<string, (flags: Record<string, unknown>, positionals: string[]) => Promise<void | number>> = {
  atlas: atlasCommand,
  consistency: consistencyCommand,
  'clamp-curve': clampCurveCommand,
  generate: generateCommand,
  hooks: hooksCommand,
  lens: lensCommand,
  patch: patchCommand,
  trace: traceCommand,
  replay: replayCommand,
  run: runCommand,
  tokenize: tokenizeCommand,
  vector: vectorCommand,
};

async function main(argv: string[]): Promise<number> {
  try {
    const { command, positionals, flags } = parseCommandLine(argv);
    if (flags.help || command === undefined) {
      process.stdout.write(USAGE);
      return command === undefined && !flags.help ? 2 : 0;
    }
    const run = COMMANDS[command];
    if (!run) throw new UsageError(`unknown command "${command}" (commands: ${Object.keys(COMMANDS).join(', ')})`);
    const code = (await run(flags, positionals)) ?? 0;
    return outputClosed.signal.aborted ? 0 : code;
  } catch (error) {
    if (outputClosed.signal.aborted) return 0;
    if (error instanceof UsageError || (error instanceof TypeError && 'code' in error && String(error.code).startsWith('ERR_PARSE_ARGS'))) {
      process.stderr.write(`error: ${error.message}\n\n${USAGE}`);
      return 2;
    }
    if (error instanceof EngineError) {
      process.stderr.write(`error (${error.code}): ${error.message}\n`);
      return 1;
    }
    process.stderr.write(`internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    return 1;
  }
}

// A reader that closes early (`| head`) is not an error: stop quietly, as Unix tools do.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE' && error.code !== 'ERR_STREAM_DESTROYED') throw error;
  outputClosed.abort();
});

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
