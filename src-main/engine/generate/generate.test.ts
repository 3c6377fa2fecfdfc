import { describe, expect, it } from 'vitest';
import { EngineError } from '../errors';
import type { TextTokenizer } from '../model/tokenizer/types';
import { collect, generate, type GenerationEvent } from './generate';
import { logSoftmax } from './sampler';
import { generationSettingsSchema, type GenerationSettingsInput } from './settings';
import type { StepModel } from './step-model';

// ---------------------------------------------------------------------------
// Fakes: a ten-token vocabulary with two byte-fallback tokens that together spell "é".

const VOCAB = ['<eos>', '<bos>', 'a', 'b', 'c', ' ', '.', '<0xC3>', '<0xA9>', 'x'];
const EOS = 0;
const BOS = 1;
const [A, B, C, SPACE, DOT, BYTE_C3, BYTE_A9] = [2, 3, 4, 5, 6, 7, 8];

class FakeTokenizer implements TextTokenizer {
  readonly vocabSize = VOCAB.length;
  readonly bosTokenId = BOS;
  readonly eosTokenIds = [EOS];
  readonly specialTokenIds: ReadonlySet<number> = new Set([EOS, BOS]);
  readonly chatTemplate = null;

  encode(text: string, options?: { addSpecialTokens?: boolean }): number[] {
    const ids = [...text].map((char) => VOCAB.indexOf(char));
    return options?.addSpecialTokens === false ? ids : [BOS, ...ids];
  }

  /** Byte tokens decode to their byte, so a lone "<0xC3>" decodes to U+FFFD like a real tokenizer. */
  decode(ids: readonly number[], options?: { skipSpecialTokens?: boolean }): string {
    const bytes = ids
      .filter((id) => id < VOCAB.length && !(options?.skipSpecialTokens && this.specialTokenIds.has(id)))
      .flatMap((id) => {
        const byteToken = /^<0x([0-9A-F]{2})>$/.exec(VOCAB[id]);
        return byteToken ? [parseInt(byteToken[1], 16)] : [...new TextEncoder().encode(VOCAB[id])];
      });
    return new TextDecoder().decode(Uint8Array.from(bytes));
  }

  /** Throws for ids past the vocabulary, like the real tokenizers. */
  tokenText(id: number): string {
    if (id >= VOCAB.length) throw new EngineError('bad_argument', `no token with id ${id}`);
    return VOCAB[id];
  }

  applyChatTemplate(): string {
    throw new EngineError('bad_argument', 'The fake tokenizer has no chat template.');
  }
}

/** Records every call; `nextLogits` sees the whole cache and how much of it was the prompt. */
class FakeStepModel implements StepModel {
  readonly feeds: number[][] = [];
  resets = 0;
  #cache: number[] = [];

  constructor(
    readonly maxPositions: number,
    private readonly nextLogits: (cache: readonly number[], promptLength: number) => Float32Array,
    readonly vocabSize = VOCAB.length,
  ) {}

  reset(): void {
    this.#cache = [];
    this.feeds.length = 0;
    this.resets++;
  }

  async feed(ids: readonly number[]): Promise<Float32Array> {
    this.feeds.push([...ids]);
    this.#cache.push(...ids);
    if (this.#cache.length > this.maxPositions) throw new Error('fed past the context limit');
    return this.nextLogits(this.#cache, this.feeds[0].length);
  }
}

/** Logits that make `id` clearly the most likely, with a runner-up so alternatives differ. */
function peaked(id: number): Float32Array {
  const logits = new Float32Array(VOCAB.length);
  logits[(id + 1) % VOCAB.length] = 1;
  logits[id] = 4;
  return logits;
}

/** A model that greedily generates `script` after any prompt, then EOS. */
const scriptedModel = (script: number[], maxPositions = 64): FakeStepModel =>
  new FakeStepModel(maxPositions, (cache, promptLength) => peaked(script[cache.length - promptLength] ?? EOS));

const tokenizer = new FakeTokenizer();
const settings = (input: GenerationSettingsInput = {}) => generationSettingsSchema.parse(input);
const streamedText = (events: GenerationEvent[]): string => events.map((event) => event.text).join('');

// ---------------------------------------------------------------------------

describe('generate', () => {
  it('greedily follows the model, feeding the prompt once and each token after it', async () => {
    const cycle = new Map([[BOS, A], [A, B], [B, C], [C, SPACE], [SPACE, A]]);
    const model = new FakeStepModel(64, (cache) => peaked(cycle.get(cache[cache.length - 1]) ?? EOS));
    const { events, result } = await collect(generate(model, tokenizer, [BOS], settings({ maxNewTokens: 8 })));

    expect(result.text).toBe('abc abc ');
    expect(result.stopReason).toBe('max_tokens');
    expect(result.ids).toEqual([BOS, ...result.generatedIds]);
    expect([result.promptTokens, result.generatedTokens]).toEqual([1, 8]);
    expect(streamedText(events)).toBe(result.text);
    expect(model.resets).toBe(1);
    expect(model.feeds).toEqual([[BOS], ...result.generatedIds.slice(0, -1).map((id) => [id])]);

    const first = events[0];
    expect([first.index, first.id, first.text, first.position]).toEqual([0, A, 'a', 1]);
    expect(first.logprob).toBeCloseTo(logSoftmax(peaked(A))[A], 6);
    expect(first.top.map((alt) => alt.id)).toEqual([A, B, EOS, BOS, C]);
    expect(first.top.map((alt) => alt.text)).toEqual(['a', 'b', '<eos>', '<bos>', 'c']);
    expect(events.map((event) => event.position)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(result.prefillMs).toBeGreaterThanOrEqual(0);
    expect(result.decodeMs).toBeGreaterThanOrEqual(0);
    expect(Number.isFinite(result.tokensPerSecond)).toBe(true);
  });

  it('stops at EOS, reporting it without adding its text', async () => {
    const { events, result } = await collect(generate(scriptedModel([A, B, EOS, C]), tokenizer, [BOS], settings()));
    expect(result.stopReason).toBe('eos');
    expect(result.generatedIds).toEqual([A, B, EOS]);
    expect(result.text).toBe('ab');
    expect(events.at(-1)).toMatchObject({ id: EOS, text: '' });
    expect(streamedText(events)).toBe(result.text);
  });

  it('runs through EOS when stopAtEos is false', async () => {
    const model = scriptedModel([A, B, EOS, C]);
    const { result } = await collect(generate(model, tokenizer, [BOS], settings({ stopAtEos: false, maxNewTokens: 4 })));
    expect(result.stopReason).toBe('max_tokens');
    expect(result.text).toBe('ab<eos>c');
  });

  it('stops at the earliest stop string, cuts it from the text and never streams it', async () => {
    const model = scriptedModel([A, B, SPACE, C, DOT]);
    const { events, result } = await collect(generate(model, tokenizer, [BOS], settings({ stopStrings: ['zz', ' c'] })));
    expect(result.stopReason).toBe('stop_string');
    expect(result.generatedIds).toEqual([A, B, SPACE, C]); // the token completing ' c' is still reported
    expect(result.text).toBe('ab');
    expect(events.map((event) => event.text)).toEqual(['a', 'b', '', '']); // ' ' held back: it might start ' c'
    expect(streamedText(events)).toBe(result.text);
  });

  it('releases text held for a stop string that does not complete', async () => {
    const model = scriptedModel([A, B, C]);
    const { events, result } = await collect(generate(model, tokenizer, [BOS], settings({ stopStrings: ['bx'], maxNewTokens: 3 })));
    expect(events.map((event) => event.text)).toEqual(['a', '', 'bc']);
    expect(result).toMatchObject({ text: 'abc', stopReason: 'max_tokens' });
  });

  it('stops when prompt + generated fill the context, never feeding past it', async () => {
    const model = scriptedModel([A, B, C, A, B, C], 5);
    const { result } = await collect(generate(model, tokenizer, [BOS, A], settings()));
    expect(result.stopReason).toBe('context_full');
    expect(result.ids).toHaveLength(5);
    expect(model.feeds.flat()).toHaveLength(4);
  });

  it('returns at once when the prompt already fills the context', async () => {
    const model = scriptedModel([A], 2);
    const { events, result } = await collect(generate(model, tokenizer, [BOS, A], settings()));
    expect(events).toEqual([]);
    expect(result).toMatchObject({ stopReason: 'context_full', generatedIds: [], text: '' });
    expect(model.feeds).toEqual([]);
  });

  it('emits a two-byte character whole, once both bytes have arrived', async () => {
    const model = scriptedModel([A, BYTE_C3, BYTE_A9, B]);
    const { events, result } = await collect(generate(model, tokenizer, [BOS], settings({ maxNewTokens: 4 })));
    expect(events.map((event) => event.text)).toEqual(['a', '', 'é', 'b']);
    expect(result.text).toBe('aéb');
  });

  // Issue 11 item 11: top[].text was the vocabulary entry while the token's text was decoded.
  it('reports alternatives as decoded text after the same context, not vocabulary entries', async () => {
    const model = scriptedModel([A, BYTE_C3]);
    const { events } = await collect(generate(model, tokenizer, [BOS], settings({ maxNewTokens: 2 })));
    // At the second step BYTE_C3 is chosen and BYTE_A9 is the runner-up: both are lone bytes of "é".
    expect(events[1].top.slice(0, 2)).toEqual([expect.objectContaining({ id: BYTE_C3, text: '\uFFFD' }), expect.objectContaining({ id: BYTE_A9, text: '\uFFFD' })]);
    expect(events[1].top.map((alt) => alt.text)).not.toContain('<0xC3>');
  });

  // Issue 11 item 11: DoLa rules tokens out with -Infinity; they were listed at logprob null.
  it('lists only alternatives that can occur', async () => {
    const model = new FakeStepModel(64, () => Float32Array.from(VOCAB, (_, id) => (id === A ? 2 : id === B ? 1 : -Infinity)));
    const { events } = await collect(generate(model, tokenizer, [BOS], settings({ maxNewTokens: 1 })));
    expect(events[0].top.map((alt) => alt.id)).toEqual([A, B]);
  });

  it('flushes an incomplete character when generation ends on it', async () => {
    const model = scriptedModel([A, BYTE_C3]);
    const { events, result } = await collect(generate(model, tokenizer, [BOS], settings({ maxNewTokens: 2 })));
    expect(result.text).toBe('a\uFFFD');
    expect(streamedText(events)).toBe(result.text);
  });

  it('samples reproducibly for a seed, and differently for another', async () => {
    const model = new FakeStepModel(64, (cache) =>
      Float32Array.from(VOCAB, (_, id) => ((cache[cache.length - 1] * 7 + id * 3) % 5) * 0.3),
    );
    const run = async (seed: number) =>
      (await collect(generate(model, tokenizer, [BOS], settings({ temperature: 1, seed, stopAtEos: false, maxNewTokens: 30 }))))
        .result.generatedIds;
    expect(await run(1)).toEqual(await run(1));
    expect(await run(1)).not.toEqual(await run(2));
  });

  it('handles ids the model has but the tokenizer lacks (padded vocabulary rows)', async () => {
    const paddedId = VOCAB.length + 2;
    const logits = new Float32Array(VOCAB.length + 4);
    logits[paddedId] = 5;
    logits[A] = 4;
    const model = new FakeStepModel(64, () => logits, logits.length);
    const { events, result } = await collect(generate(model, tokenizer, [BOS], settings({ maxNewTokens: 1 })));
    expect(events[0].top.slice(0, 2)).toMatchObject([{ id: paddedId, text: '' }, { id: A, text: 'a' }]);
    expect(result).toMatchObject({ generatedIds: [paddedId], text: '' });
  });

  it('applies the repetition penalty over the prompt and reports logprobs after it', async () => {
    const logits = Float32Array.from(VOCAB, (_, id) => (id === A ? 2 : id === B ? 1.5 : 0));
    const model = new FakeStepModel(64, () => logits);
    const first = async (repetitionPenalty: number) =>
      (await collect(generate(model, tokenizer, [BOS, A], settings({ repetitionPenalty, maxNewTokens: 1 })))).events[0];
    expect((await first(1)).id).toBe(A);
    const penalized = await first(2); // a: 2 -> 1, now below b's 1.5
    expect(penalized.id).toBe(B);
    const expectedLogits = Float32Array.from(logits, (logit, id) => (id === A ? 1 : logit));
    expect(penalized.logprob).toBeCloseTo(logSoftmax(expectedLogits)[B], 6);
  });
});

describe('generate cancellation', () => {
  it('stops after the current step when aborted between events', async () => {
    const controller = new AbortController();
    const model = scriptedModel([A, B, C, A, B]);
    const generation = generate(model, tokenizer, [BOS], settings(), { signal: controller.signal });
    await generation.next();
    await generation.next();
    controller.abort();
    const end = await generation.next();
    expect(end.done).toBe(true);
    expect(end.value).toMatchObject({ stopReason: 'cancelled', generatedIds: [A, B], text: 'ab' });
    expect(model.feeds).toEqual([[BOS], [A]]);
  });

  it('makes the step in flight the last one, flushing held-back text', async () => {
    const controller = new AbortController();
    const script = [A, BYTE_C3, BYTE_A9];
    const model = new FakeStepModel(64, (cache) => {
      if (cache.length === 2) controller.abort(); // while the model computes the second token
      return peaked(script[cache.length - 1]);
    });
    const { events, result } = await collect(generate(model, tokenizer, [BOS], settings(), { signal: controller.signal }));
    expect(result).toMatchObject({ stopReason: 'cancelled', generatedIds: [A, BYTE_C3], text: 'a\uFFFD' });
    expect(streamedText(events)).toBe(result.text);
  });

  it('does nothing when already aborted', async () => {
    const model = scriptedModel([A]);
    const { events, result } = await collect(generate(model, tokenizer, [BOS], settings(), { signal: AbortSignal.abort() }));
    expect(events).toEqual([]);
    expect(result.stopReason).toBe('cancelled');
    expect(model.feeds).toEqual([]);
  });
});

describe('generate argument checks', () => {
  it.each([
    ['an empty prompt', []],
    ['a prompt longer than the context', [BOS, A, B, C, A]],
    ['an id outside the vocabulary', [BOS, VOCAB.length]],
  ])('rejects %s', async (_, promptIds) => {
    const generation = generate(scriptedModel([A], 4), tokenizer, promptIds, settings());
    await expect(collect(generation)).rejects.toMatchObject({ name: 'EngineError', code: 'bad_argument' });
  });
});
