/**
 * The generation loop, shaped like `generate()` in llama2.c's run.c: feed the prompt,
 * then repeatedly choose a token, report it, check whether to stop, and feed it back.
 *
 * Choices worth knowing:
 * - Reported logprobs (`logprob`, `top`) are log_softmax of the logits AFTER the
 *   repetition penalty and BEFORE temperature / top-k / top-p: the model's distribution as
 *   the sampler received it, independent of how adventurous the sampling was.
 * - Text is the decode of the generated ids with special tokens kept (a stop string can
 *   name one), except the EOS that ends generation, which is reported as a token but
 *   contributes no text.
 * - Each step decodes all generated ids again (O(n) per step) instead of decoding tokens
 *   one by one, because a token's text can depend on its neighbours (byte fallback,
 *   leading-space rules). Deltas are cut by length, which assumes decoding is
 *   prefix-stable once the held-back tail is complete.
 */
import { EngineError } from '../errors';
import type { TextTokenizer } from '../model/tokenizer/types';
import { SeededRng } from './rng';
import { applyRepetitionPenalty, chooseToken, logSoftmax, topAlternatives } from './sampler';
import type { GenerationSettings } from './settings';
import type { StepModel } from './step-model';

export type StopReason = 'eos' | 'stop_string' | 'max_tokens' | 'context_full' | 'cancelled';

export interface TokenAlternative {
  id: number;
  text: string; // the text this token would have added after the same context, decoded like TokenEvent.text; '' for ids past the tokenizer's vocabulary
  logprob: number;
}

/** One generated token. */
export interface TokenEvent {
  type: 'token';
  index: number; // 0 for the first generated token
  id: number;
  /** New text this token made final; '' while a character or possible stop string is incomplete. */
  text: string;
  logprob: number;
  top: TokenAlternative[]; // the 5 most likely tokens of the same distribution
  position: number; // the token's position in prompt + generated
}

export type GenerationEvent = TokenEvent;

export interface GenerationResult {
  ids: number[]; // prompt + generated
  generatedIds: number[];
  text: string; // decoded generated text, cut before a stop string
  stopReason: StopReason;
  promptTokens: number;
  generatedTokens: number;
  /** Time to first token: reset, the prompt feed and choosing the first token. */
  prefillMs: number;
  /** Time for every later token (feed + choose), excluding time the consumer held the generator. */
  decodeMs: number;
  /** Tokens after the first per second of decodeMs (like run.c's tok/s); 0 with fewer than 2 tokens. */
  tokensPerSecond: number;
  /** "path: message" for each part of the variant's plan or decoding that has no effect (ModelHandle.generateVariants). */
  warnings: string[];
}

const TOP_ALTERNATIVES = 5;
const REPLACEMENT_CHARACTER = 0xfffd; // what decoding yields for an incomplete UTF-8 sequence

/**
 * One sequence being generated: chooses each token from the step's scores, tracks text
 * and stopping, and builds the events and the result. The single-sequence loop below and
 * the engine's batched variant loop (one Sequence per batch row) both drive it.
 */
export class Sequence {
  readonly ids: number[];
  readonly generatedIds: number[] = [];
  private readonly rng: SeededRng;
  private readonly eosIds: Set<number>;
  private text = ''; // the result's text so far
  private emittedLength = 0; // how much of `text` events have carried
  private prefillMs = 0;
  private decodeMs = 0;
  stopReason: StopReason | null = null;
  /** log_softmax of the scores the last token was chosen from (what `logprob` and `top` report). */
  lastLogprobs: Float32Array | null = null;

  constructor(
    private readonly tokenizer: TextTokenizer,
    private readonly promptIds: number[],
    private readonly settings: GenerationSettings,
    private readonly maxPositions: number,
  ) {
    this.ids = [...promptIds];
    this.rng = new SeededRng(settings.seed);
    this.eosIds = new Set(tokenizer.eosTokenIds);
    // A prompt that fills the context leaves no room; stopping here keeps ids.length <= maxPositions.
    if (this.ids.length >= maxPositions) this.stopReason = 'context_full';
  }

  /** Stop before the next token (a cancelled run). */
  cancel(): void {
    this.stopReason ??= 'cancelled';
  }

  /**
   * Choose the next token from `scores` (the model's logits, or a decoding strategy's
   * scores), taking `stepMs` for the step. Sets stopReason when this is the last token.
   * `penalized`: the scores already carry a repetition penalty.
   */
  choose(scores: Float32Array, stepMs: number, signal?: AbortSignal, options: { penalized?: boolean } = {}): TokenEvent {
    const { settings, tokenizer, generatedIds, ids } = this;
    // A strategy that applies its own repetition penalty (DoLa) says so: never penalize twice.
    const penalizedLogits = options.penalized ? scores : applyRepetitionPenalty(scores, ids, settings.repetitionPenalty);
    const logprobs = logSoftmax(penalizedLogits);
    this.lastLogprobs = logprobs;
    const id = chooseToken(penalizedLogits, settings, this.rng);
    ids.push(id);
    generatedIds.push(id);

    // Decide whether it is the last one, before emitting, so the last event can flush held-back text.
    const isStoppingEos = settings.stopAtEos && this.eosIds.has(id);
    const decoded = tokenizer.decode(isStoppingEos ? generatedIds.slice(0, -1) : generatedIds);
    const stopStringAt = findStopString(decoded, settings.stopStrings);
    this.text = stopStringAt >= 0 ? decoded.slice(0, stopStringAt) : decoded;
    this.stopReason = isStoppingEos
      ? 'eos'
      : stopStringAt >= 0
        ? 'stop_string'
        : generatedIds.length >= settings.maxNewTokens
          ? 'max_tokens'
          : ids.length >= this.maxPositions
            ? 'context_full'
            : signal?.aborted
              ? 'cancelled'
              : null;

    const emitEnd = this.stopReason ? this.text.length : safeToEmitLength(this.text, settings.stopStrings);
    const delta = this.text.slice(this.emittedLength, emitEnd);
    this.emittedLength = Math.max(this.emittedLength, emitEnd);
    // Decoded like the chosen token's text (" Once", not the vocabulary entry "▁Once"),
    // after the same few tokens of context.
    const context = ids.slice(Math.max(0, ids.length - 1 - ALTERNATIVE_CONTEXT), -1);
    const top = topAlternatives(logprobs, TOP_ALTERNATIVES).map((alt) => ({ ...alt, text: textAfter(tokenizer, context, alt.id) }));
    if (generatedIds.length === 1) this.prefillMs = stepMs;
    else this.decodeMs += stepMs;
    return { type: 'token', index: generatedIds.length - 1, id, text: delta, logprob: logprobs[id], top, position: ids.length - 1 };
  }

  result(): GenerationResult {
    const { generatedIds, decodeMs } = this;
    return {
      ids: this.ids,
      generatedIds,
      text: this.text,
      stopReason: this.stopReason ?? 'cancelled',
      promptTokens: this.promptIds.length,
      generatedTokens: generatedIds.length,
      prefillMs: this.prefillMs,
      decodeMs,
      tokensPerSecond: generatedIds.length > 1 && decodeMs > 0 ? ((generatedIds.length - 1) * 1000) / decodeMs : 0,
      warnings: [],
    };
  }
}

/**
 * Generate from `promptIds`, yielding one event per token and returning the result.
 * Aborting `signal` stops after the current step with stopReason 'cancelled' (no throw).
 * Settings are trusted: parse them with generationSettingsSchema at the boundary.
 */
export async function* generate(
  model: StepModel,
  tokenizer: TextTokenizer,
  promptIds: number[],
  settings: GenerationSettings,
  options: { signal?: AbortSignal } = {},
): AsyncGenerator<GenerationEvent, GenerationResult> {
  checkPrompt(promptIds, model);
  const { signal } = options;
  const sequence = new Sequence(tokenizer, promptIds, settings, model.maxPositions);
  if (signal?.aborted) sequence.cancel();
  if (sequence.stopReason) return sequence.result();

  let stepStart = performance.now();
  model.reset();
  let logits = await model.feed(promptIds);
  for (;;) {
    yield sequence.choose(logits, performance.now() - stepStart, signal);
    if (sequence.stopReason) return sequence.result();
    // Aborted while the consumer held this event: stop without a flush; held-back text
    // (an incomplete character or stop-string prefix) then appears only in result.text.
    if (signal?.aborted) {
      sequence.cancel();
      return sequence.result();
    }
    stepStart = performance.now();
    logits = await model.feed([sequence.generatedIds[sequence.generatedIds.length - 1]]);
  }
}

/** Drain a generation: every event, then the result. */
export async function collect(
  generation: AsyncGenerator<GenerationEvent, GenerationResult>,
): Promise<{ events: GenerationEvent[]; result: GenerationResult }> {
  const events: GenerationEvent[] = [];
  for (;;) {
    const step = await generation.next();
    if (step.done) return { events, result: step.value };
    events.push(step.value);
  }
}

export function checkPrompt(promptIds: number[], model: Pick<StepModel, 'maxPositions' | 'vocabSize'>): void {
  if (promptIds.length === 0) {
    throw new EngineError('bad_argument', 'The prompt is empty: generation needs at least one token (e.g. BOS).');
  }
  if (promptIds.length > model.maxPositions) {
    throw new EngineError(
      'bad_argument',
      `The prompt has ${promptIds.length} tokens but the model's context holds ${model.maxPositions}.`,
      { promptTokens: promptIds.length, maxPositions: model.maxPositions },
    );
  }
  const badIndex = promptIds.findIndex((id) => !Number.isInteger(id) || id < 0 || id >= model.vocabSize);
  if (badIndex >= 0) {
    throw new EngineError(
      'bad_argument',
      `Prompt token ${badIndex} is ${promptIds[badIndex]}, outside the vocabulary [0, ${model.vocabSize}).`,
      { index: badIndex, id: promptIds[badIndex], vocabSize: model.vocabSize },
    );
  }
}

// ---------------------------------------------------------------------------
// Text streaming

/** Where the earliest stop string starts in `text`, or -1. */
/** Tokens of context an alternative's text is decoded after: enough for SentencePiece's leading space and byte pieces. */
const ALTERNATIVE_CONTEXT = 4;

/**
 * The text `id` adds after `context`, as decode() makes it. Models often pad their
 * vocabulary past the tokenizer's (Qwen: 151936 vs 151665 entries); those ids have no
 * text, and decode() drops them.
 */
function textAfter(tokenizer: TextTokenizer, context: number[], id: number): string {
  if (id >= tokenizer.vocabSize) return '';
  const before = tokenizer.decode(context);
  const after = tokenizer.decode([...context, id]);
  return after.startsWith(before) ? after.slice(before.length) : tokenizer.decode([id]);
}

function findStopString(text: string, stopStrings: readonly string[]): number {
  let earliest = -1;
  for (const stop of stopStrings) {
    const at = text.indexOf(stop);
    if (at >= 0 && (earliest < 0 || at < earliest)) earliest = at;
  }
  return earliest;
}

/**
 * How much of `text` can be emitted now without ever being taken back. Held back: trailing
 * U+FFFD (an incomplete UTF-8 character from byte-fallback tokens, so it is emitted whole),
 * then the longest suffix that begins some stop string (it may yet be cut from the result).
 */
function safeToEmitLength(text: string, stopStrings: readonly string[]): number {
  let end = text.length;
  while (end > 0 && text.charCodeAt(end - 1) === REPLACEMENT_CHARACTER) end--;
  for (let start = Math.max(0, end - longestLength(stopStrings) + 1); start < end; start++) {
    const tail = text.slice(start, end);
    if (stopStrings.some((stop) => stop.startsWith(tail))) return start;
  }
  return end;
}

function longestLength(strings: readonly string[]): number {
  return strings.reduce((longest, s) => Math.max(longest, s.length), 0);
}
