/**
 * Engine vs the TypeScript reference forward (reference/forward.ts, itself checked
 * against golden outputs in parity-golden.test.ts) on seeded random-weight models built
 * from real configs and tokenizers, shrunk to a few layers. Each case varies one thing the
 * engine must get right: tied/untied unembedding, GQA ratios and plain MHA, head_dim !=
 * d_model / n_heads, sharded and bf16 checkpoints, llama3 rotary scaling.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine, type ModelHandle } from '../engine/engine';
import { collect } from '../engine/generate/generate';
import { generationSettingsSchema } from '../engine/generate/settings';
import { buildRandomModel, type RandomModel, type RandomModelOptions } from './fixtures/random-model';
import { argmax, logSoftmaxAt, maxAbsDiff, referenceForward, weightGetter } from './reference/forward';

/** float32 engine vs float64 reference: the same bound the golden test uses on logits. */
const TOLERANCE = 1e-4;
const PROMPT = 'The quick brown fox jumps over the lazy dog, twice.';
const GENERATED_TOKENS = 20;

const SMOLLM2 = 'HuggingFaceTB__SmolLM2-135M-Instruct';
const TINYLLAMA = 'TinyLlama__TinyLlama-1.1B-Chat-v1.0';
const LLAMA32 = 'meta-llama__Llama-3.2-1B-Instruct';

/** Residual width 64 and two layers throughout: big enough for every head layout, fast to check. */
const CASES: { name: string; options: RandomModelOptions }[] = [
  {
    // Tied; n_heads * d_head (96) != d_model (64), so a wrong o_proj layout cannot pass.
    name: 'SmolLM2, tied, GQA 3:1',
    options: { config: SMOLLM2, layers: 2, dModel: 64, dMlp: 128, nHeads: 6, nKvHeads: 2, dHead: 16, seed: 1 },
  },
  {
    name: 'TinyLlama, untied, GQA 4:1, F32 in 2 shards',
    options: { config: TINYLLAMA, layers: 2, dModel: 64, dMlp: 160, nHeads: 8, nKvHeads: 2, dHead: 8, seed: 2, shards: 2 },
  },
  {
    name: 'TinyLlama, untied, GQA 2:1, BF16 in 3 shards',
    options: { config: TINYLLAMA, layers: 2, dModel: 64, dMlp: 128, nHeads: 4, nKvHeads: 2, dHead: 16, seed: 3, dtype: 'BF16', shards: 3 },
  },
  {
    // Llama 3.2's own rope_scaling (llama3, factor 32, theta 5e5); d_head 16 puts rotary
    // frequencies in all three llama3 bands. Its tokenizer is not redistributable, so
    // TinyLlama's stands in, with TinyLlama's vocab size and special ids.
    name: 'Llama 3.2, tied, llama3 rope scaling',
    options: { config: LLAMA32, tokenizer: TINYLLAMA, layers: 2, dModel: 64, dMlp: 128, nHeads: 4, nKvHeads: 1, dHead: 16, seed: 4 },
  },
  {
    name: 'SmolLM2, tied, MHA (n_kv_heads = n_heads)',
    options: { config: SMOLLM2, layers: 2, dModel: 64, dMlp: 128, nHeads: 4, nKvHeads: 4, dHead: 16, seed: 5 },
  },
];

let engine: Engine;
let workDir: string;

beforeAll(() => {
  workDir = mkdtempSync(join(tmpdir(), 'tiller-parity-random-'));
  engine = Engine.create({ cacheDir: join(workDir, 'cache') });
});

afterAll(async () => {
  await engine.close();
  rmSync(workDir, { recursive: true, force: true });
});

describe.each(CASES)('$name', ({ name, options }) => {
  let model: RandomModel;
  let handle: ModelHandle;
  let promptIds: number[];

  beforeAll(async () => {
    model = buildRandomModel(join(workDir, name.replace(/\W+/g, '-')), options);
    handle = await engine.loadModel(model.dir);
    promptIds = handle.tokenizer.encode(PROMPT);
  });

  afterAll(async () => {
    await handle?.unload();
  });

  it('loads the spec the config describes', () => {
    expect(handle.spec).toEqual(model.spec);
  });

  it('matches the reference logits at every position', async () => {
    expect(promptIds.length).toBeGreaterThanOrEqual(10);
    const logits = await handle.forward(promptIds, 'all');
    const reference = referenceForward(model.spec, weightGetter(model.weights), promptIds);
    logits.forEach((row, pos) => {
      expect(maxAbsDiff(row, reference.logits[pos]), `logits at position ${pos}`).toBeLessThan(TOLERANCE);
    });
  });

  it(`generates ${GENERATED_TOKENS} greedy tokens through the KV cache that the reference agrees with`, async () => {
    const settings = generationSettingsSchema.parse({ maxNewTokens: GENERATED_TOKENS, temperature: 0, stopAtEos: false });
    const { events, result } = await collect(handle.generate(promptIds, settings));
    expect(result.generatedIds).toHaveLength(GENERATED_TOKENS);
    // Re-run the uncached reference on each prefix the engine saw. Each engine choice must be
    // the reference's argmax, up to a tie within tolerance (random weights can make near-ties),
    // and its logprob must match too: a shrunk model may repeat one token, and then only the
    // logprob shows whether the cached keys and values were right.
    events.forEach(({ id, logprob }, step) => {
      const prefix = result.ids.slice(0, promptIds.length + step);
      const [logits] = referenceForward(model.spec, weightGetter(model.weights), prefix, { logits: 'last' }).logits;
      const best = argmax(logits);
      expect(logits[best] - logits[id], `step ${step}: engine chose ${id}, reference ${best}`).toBeLessThan(TOLERANCE);
      expect(Math.abs(logprob - logSoftmaxAt(logits, id)), `step ${step}: logprob of ${id}`).toBeLessThan(TOLERANCE);
    });
  });
});
