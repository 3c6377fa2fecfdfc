/**
 * Every family beyond Llama (whose cases are in parity-random.test.ts) on seeded random
 * weights at shrunk shapes of its real config, with its real tokenizer and BF16
 * safetensors as transformers saves them: the engine vs the trait-driven reference forward
 * pass (reference/forward.ts) on logits and every block's resid_post, cached greedy
 * decoding vs recomputation, a steering and a clamp edit vs the reference with the same
 * edit, the family's hook catalogue, and weight_delta on the unembedding.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine, type ModelHandle, type VariantRun, type VariantTokenEvent } from '../engine/engine';
import { collect } from '../engine/generate/generate';
import { generationSettingsSchema } from '../engine/generate/settings';
import { STREAM_START } from '../engine/graph/taps';
import { listHooks } from '../engine/hooks/names';
import { writePhi3Tokenizer } from './fixtures/phi3-tokenizer';
import { GEMMA2_CONFIG } from './fixtures/gemma2-config';
import type { HfConfig } from './fixtures/fixture-families';
import { buildRandomModel, type RandomModel, type RandomModelOptions } from './fixtures/random-model';
import { argmax, logSoftmaxAt, maxAbsDiff, referenceCapture, referenceForward, referenceLens, weightGetter, type ReferenceHook } from './reference/forward';

/** float32 engine vs float64 reference, as in parity-random.test.ts. */
const TOLERANCE = 1e-4;
const PROMPT = 'The quick brown fox jumps over the lazy dog, twice.';
const CACHED_STEPS = 30;
// hf-meta/README.md's reference encodings.
const SENTENCE = 'Hello world, the dog ran.';

interface FamilyCase {
  name: string;
  options: RandomModelOptions;
  family: string;
  sentenceIds: number[];
  /** Sites this family has beyond / instead of Llama's. */
  sites: { has: string[]; lacks: string[] };
  /** A family-specific site to steer: width of the vector (d_head: added to every head). */
  siteEdit: { hook: string; width: number };
  /** Sliding-window blocks: the prompt and the cached decoding run past the window, and dropping it changes the logits. */
  windowed?: boolean;
  /** LongRoPE: a prompt of this many tokens is shorter than original_max_position_embeddings, and decoding grows past it. */
  longropeShortPrompt?: number;
  /** Norms after attention and the MLP (Gemma): ln1_post / ln2_post are captured and edited too. */
  sandwich?: boolean;
}

/** A Phi-3 config fixture (test/fixtures/phi3: Phi3Config's fields with Phi-3-mini's values; hf-meta has no Phi-3). */
const phi3Config = (name: string): HfConfig => JSON.parse(readFileSync(join(__dirname, 'fixtures', 'phi3', `${name}.config.json`), 'utf8')) as HfConfig;

const CASES: FamilyCase[] = [
  {
    // hf-meta keeps no Mistral tokenizer: TinyLlama's (the Llama-2 SentencePiece vocabulary of 32000, Mistral's size) stands in.
    // A window of 8 against a 15-token prompt and 30 cached steps: every query past position 7 loses keys.
    name: 'Mistral (sliding window 8 in every block, GQA 2:1)',
    options: { config: 'mistralai__Mistral-7B-v0.1', tokenizer: 'TinyLlama__TinyLlama-1.1B-Chat-v1.0', layers: 2, dModel: 64, dMlp: 128, nHeads: 4, nKvHeads: 2, dHead: 16, seed: 34, dtype: 'BF16', configFields: { sliding_window: 8 } },
    family: 'mistral',
    sentenceIds: [1, 15043, 3186, 29892, 278, 11203, 6350, 29889],
    sites: { has: ['attn.hook_rot_q', 'mlp.hook_pre_linear'], lacks: ['hook_pos_embed', 'attn.q_norm.hook_normalized'] },
    siteEdit: { hook: 'blocks.1.attn.hook_rot_q', width: 16 },
    windowed: true,
  },
  {
    // hf-meta keeps no Gemma files: a Gemma2Config fixture (fixtures/gemma2-config.ts) with TinyLlama's tokenizer.
    // d_model 48: sqrt(48) rounds to 6.9375 in bf16, the normalizer transformers multiplies by; n_heads * d_head = 64 != d_model.
    // Windows of 4 in blocks 0 and 2 (block 1 global), caps small enough to bend the scores and logits, query_pre_attn_scalar != d_head.
    name: 'Gemma 2 (scaled embedding, (1 + w) norms, sandwich norms, soft caps, local/global blocks, GELU-tanh, tied)',
    options: {
      config: GEMMA2_CONFIG,
      tokenizer: 'TinyLlama__TinyLlama-1.1B-Chat-v1.0',
      layers: 3, dModel: 48, dMlp: 96, nHeads: 4, nKvHeads: 2, dHead: 16, seed: 35, dtype: 'BF16',
      configFields: { sliding_window: 4, query_pre_attn_scalar: 24, attn_logit_softcapping: 2, final_logit_softcapping: 1.5 },
    },
    family: 'gemma2',
    sentenceIds: [1, 15043, 3186, 29892, 278, 11203, 6350, 29889],
    sites: { has: ['ln1_post.hook_scale', 'ln1_post.hook_normalized', 'ln2_post.hook_normalized', 'attn.hook_rot_q', 'mlp.hook_pre_linear'], lacks: ['attn.q_norm.hook_normalized', 'hook_pos_embed'] },
    siteEdit: { hook: 'blocks.1.ln1_post.hook_normalized', width: 48 },
    windowed: true,
    sandwich: true,
  },
  {
    // hf-meta keeps Gemma 3 1B's config but no tokenizer: SmolLM2's stands in (its vocabulary size and special ids replace Gemma's).
    // MQA (1 KV head) as in the 1B; sliding_window_pattern 3 over 3 blocks: blocks 0 and 1 local (window 5, base 10000), block 2
    // global (base 1e6); sqrt(40) rounds to 6.3125 in bf16; the final soft cap on (the 1B has none: Gemma3ForCausalLM applies it when set).
    name: 'Gemma 3 (q/k (1 + w) norms, local rotary base, 2 local : 1 global, MQA, sandwich norms, final soft cap)',
    options: {
      config: 'google__gemma-3-1b-it',
      tokenizer: 'HuggingFaceTB__SmolLM2-135M-Instruct',
      layers: 3, dModel: 40, dMlp: 96, nHeads: 4, nKvHeads: 1, dHead: 16, seed: 36, dtype: 'BF16',
      configFields: { sliding_window: 5, sliding_window_pattern: 3, query_pre_attn_scalar: 32, final_logit_softcapping: 1.5 },
    },
    family: 'gemma3',
    sentenceIds: [19556, 905, 28, 260, 2767, 7674, 30],
    sites: { has: ['attn.q_norm.hook_normalized', 'attn.k_norm.hook_normalized', 'ln2_post.hook_scale', 'ln2_post.hook_normalized', 'attn.hook_rot_k'], lacks: ['hook_pos_embed'] },
    siteEdit: { hook: 'blocks.0.attn.k_norm.hook_normalized', width: 16 },
    windowed: true,
    sandwich: true,
  },
  {
    name: 'GPT-2 (LayerNorm, learned positions, Conv1D, fused c_attn, gelu_new, tied)',
    options: { config: 'openai-community__gpt2', layers: 3, dModel: 64, dMlp: 256, nHeads: 4, nKvHeads: 4, dHead: 16, seed: 31, dtype: 'BF16' },
    family: 'gpt2',
    sentenceIds: [15496, 995, 11, 262, 3290, 4966, 13],
    sites: { has: ['hook_pos_embed'], lacks: ['attn.hook_rot_q', 'attn.hook_rot_k', 'mlp.hook_pre_linear'] },
    siteEdit: { hook: 'hook_pos_embed', width: 64 },
  },
  {
    name: 'Qwen2.5 (q/k/v biases, GQA 2:1, tied, rope_theta 1e6)',
    options: { config: 'Qwen__Qwen2.5-0.5B-Instruct', layers: 2, dModel: 64, dMlp: 128, nHeads: 4, nKvHeads: 2, dHead: 16, seed: 32, dtype: 'BF16' },
    family: 'qwen2',
    sentenceIds: [9707, 1879, 11, 279, 5562, 10613, 13],
    sites: { has: ['attn.hook_rot_q', 'mlp.hook_pre_linear'], lacks: ['hook_pos_embed', 'attn.q_norm.hook_normalized'] },
    // On q: the same vector added to every key would shift all of a query's scores alike (softmax-invariant).
    siteEdit: { hook: 'blocks.1.attn.hook_rot_q', width: 16 },
  },
  {
    // head_dim 32 with 4 heads over d_model 64: head_dim is its own field, not d_model / heads.
    name: 'Qwen3 (per-head q/k RMSNorm, head_dim from config, GQA 2:1, tied)',
    options: { config: 'Qwen__Qwen3-0.6B', layers: 2, dModel: 64, dMlp: 128, nHeads: 4, nKvHeads: 2, dHead: 32, seed: 33, dtype: 'BF16' },
    family: 'qwen3',
    sentenceIds: [9707, 1879, 11, 279, 5562, 10613, 13],
    sites: { has: ['attn.q_norm.hook_normalized', 'attn.k_norm.hook_normalized', 'attn.hook_rot_k'], lacks: ['hook_pos_embed'] },
    siteEdit: { hook: 'blocks.0.attn.q_norm.hook_normalized', width: 32 },
  },
  {
    // Phi-3-mini-4k attends through a window of 2047 of its 4096 positions; a window of 8 here, as
    // Mistral's, against the 12-token prompt and 30 cached steps. No rope_scaling. Phi-3's
    // tokenizer: Llama-2's plus its chat tokens (fixtures/phi3-tokenizer.ts).
    name: 'Phi-3-mini-4k (fused qkv_proj and gate_up_proj, sliding window 8)',
    options: {
      config: phi3Config('Phi-3-mini-4k-instruct'),
      tokenizer: writePhi3Tokenizer,
      configFields: { sliding_window: 8 },
      ...{ layers: 2, dModel: 64, dMlp: 128, nHeads: 4, nKvHeads: 4, dHead: 16, seed: 35, dtype: 'BF16' as const },
    },
    family: 'phi3',
    // TinyLlama's reference ids without the BOS: Phi-3's tokenizer_config has add_bos_token false.
    sentenceIds: [15043, 3186, 29892, 278, 11203, 6350, 29889],
    sites: { has: ['attn.hook_rot_q', 'mlp.hook_pre_linear'], lacks: ['hook_pos_embed', 'attn.q_norm.hook_normalized'] },
    siteEdit: { hook: 'blocks.1.attn.hook_rot_q', width: 16 },
    windowed: true,
  },
  {
    // max_position_embeddings 131072 -> 256 shrinks original_max_position_embeddings 4096 -> 8, so the
    // prompt runs on LongRoPE's long factors; partial_rotary_factor 0.5 (Phi-4-mini's feature; Phi-3-mini
    // turns every dim) rotates 8 of each head's 16 dims. Phi-3's tokenizer: Llama-2's plus its chat tokens.
    name: 'Phi-3-mini-128k (fused qkv_proj and gate_up_proj, LongRoPE short and long factors, partial rotary)',
    options: {
      config: phi3Config('Phi-3-mini-128k-instruct'),
      tokenizer: writePhi3Tokenizer,
      configFields: { partial_rotary_factor: 0.5 },
      maxPositions: 256,
      ...{ layers: 2, dModel: 64, dMlp: 128, nHeads: 4, nKvHeads: 4, dHead: 16, seed: 34, dtype: 'BF16' as const },
    },
    family: 'phi3',
    sentenceIds: [15043, 3186, 29892, 278, 11203, 6350, 29889],
    sites: { has: ['attn.hook_rot_q', 'mlp.hook_pre_linear'], lacks: ['hook_pos_embed', 'attn.q_norm.hook_normalized'] },
    siteEdit: { hook: 'blocks.1.attn.hook_rot_q', width: 16 },
    longropeShortPrompt: 5,
  },
];

let engine: Engine;
let workDir: string;

beforeAll(() => {
  workDir = mkdtempSync(join(tmpdir(), 'tiller-families-'));
  engine = Engine.create({ cacheDir: join(workDir, 'cache') });
});

afterAll(async () => {
  await engine.close();
  rmSync(workDir, { recursive: true, force: true });
});

/** A reference hook that replaces the rows of one site by edit(row, pos). */
const editRows =
  (site: string, edit: (row: Float64Array, pos: number) => void): ReferenceHook =>
  (name, rows) => {
    if (name !== site) return;
    return rows.map((row, pos) => {
      const copy = Float64Array.from(row);
      edit(copy, pos);
      return copy;
    });
  };

describe.each(CASES)('$name', ({ name, options, family, sentenceIds, sites, siteEdit, windowed, longropeShortPrompt, sandwich }) => {
  let model: RandomModel;
  let handle: ModelHandle;
  let promptIds: number[];
  const reference = (ids: number[], hook?: ReferenceHook, logits: 'all' | 'last' = 'all', schedule?: number[]) =>
    referenceForward(model.spec, weightGetter(model.weights), ids, { hook, logits, schedule });
  const lastLogits = (logits: Float32Array[]): Float32Array => logits[logits.length - 1];
  const expectClose = (actual: Float32Array[], expected: Float32Array[], tolerance = TOLERANCE): void => {
    expect(actual).toHaveLength(expected.length);
    actual.forEach((row, pos) => expect(maxAbsDiff(row, expected[pos]), `logits at position ${pos}`).toBeLessThan(tolerance));
  };

  beforeAll(async () => {
    model = buildRandomModel(join(workDir, name.replace(/\W+/g, '-')), options);
    handle = await engine.loadModel(model.dir);
    promptIds = handle.tokenizer.encode(PROMPT);
  });

  afterAll(async () => {
    await handle?.unload();
  });

  it('loads the spec and traits the config describes, and tokenizes as the real tokenizer', () => {
    expect(handle.spec).toEqual(model.spec);
    expect(handle.spec.family).toBe(family);
    expect(handle.tokenizer.encode(SENTENCE)).toEqual(sentenceIds);
  });

  it('lists the family-specific hook sites', () => {
    const blockSites = new Set(listHooks(handle.spec).map((hook) => hook.name.replace(/^blocks\.\d+\./, '')));
    for (const site of sites.has) expect(blockSites.has(site), site).toBe(true);
    for (const site of sites.lacks) expect(blockSites.has(site), site).toBe(false);
  });

  it("matches the reference logits at every position and every block's resid_post", async () => {
    expect(promptIds.length).toBeGreaterThanOrEqual(10);
    const captures = Array.from({ length: model.spec.nLayers }, (_, layer) => ({ hook: `blocks.${layer}.hook_resid_post`, positions: 'all' as const }));
    const result = await handle.run(promptIds, { captures });
    const expected = reference(promptIds);
    result.logits.forEach((row, pos) => expect(maxAbsDiff(row, expected.logits[pos]), `logits at position ${pos}`).toBeLessThan(TOLERANCE));
    for (let layer = 0; layer < model.spec.nLayers; layer++) {
      const capture = result.captures[`blocks.${layer}.hook_resid_post`];
      expect(capture.shape).toEqual([promptIds.length, model.spec.dModel]);
      expect(maxAbsDiff(capture.data, expected.residPost[layer].flatMap((row) => [...row])), `resid_post of block ${layer}`).toBeLessThan(TOLERANCE);
    }
  });

  it.runIf(windowed)('attends within the window: the same model without it gives other logits past the window', async () => {
    const window = Math.max(...model.spec.traits.slidingWindow.map((w) => w ?? 0));
    expect(promptIds.length).toBeGreaterThan(window);
    const unwindowed = { ...model.spec, traits: { ...model.spec.traits, slidingWindow: model.spec.traits.slidingWindow.map(() => null) } };
    const full = referenceForward(unwindowed, weightGetter(model.weights), promptIds, { logits: 'last' }).logits[0];
    const [engine] = await handle.forward(promptIds, 'last');
    expect(maxAbsDiff(engine, full)).toBeGreaterThan(1e-3);
  });

  it(`decodes ${CACHED_STEPS} greedy tokens through the KV cache exactly as recomputing every prefix`, async () => {
    const settings = generationSettingsSchema.parse({ maxNewTokens: CACHED_STEPS, temperature: 0, stopAtEos: false });
    const { events, result } = await collect(handle.generate(promptIds, settings));
    expect(result.generatedIds).toHaveLength(CACHED_STEPS);
    for (const [step, { id, logprob }] of events.entries()) {
      const prefix = result.ids.slice(0, promptIds.length + step);
      const [recomputed] = await handle.forward(prefix, 'last');
      // The cached choice is the recomputed argmax, up to a tie within float32 noise.
      expect(recomputed[argmax(recomputed)] - recomputed[id], `step ${step}: cached ${id}, recomputed ${argmax(recomputed)}`).toBeLessThan(1e-5);
      expect(Math.abs(logprob - logSoftmaxAt(recomputed, id)), `step ${step}: logprob of ${id}`).toBeLessThan(TOLERANCE);
    }
    // And the last step against the reference, which has no cache at all.
    const [finalReference] = reference(result.ids.slice(0, -1), undefined, 'last').logits;
    expect(finalReference[argmax(finalReference)] - finalReference[result.ids[result.ids.length - 1]]).toBeLessThan(TOLERANCE);
  });

  it.runIf(longropeShortPrompt !== undefined)('recomputes the cache with the long factors when decoding grows past original_max_position_embeddings', async () => {
    const short = promptIds.slice(0, longropeShortPrompt);
    const scaling = model.spec.ropeScaling;
    expect(scaling?.type === 'longrope' && short.length <= scaling.originalMaxPositions && short.length + CACHED_STEPS > scaling.originalMaxPositions).toBe(true);
    const settings = generationSettingsSchema.parse({ maxNewTokens: CACHED_STEPS, temperature: 0, stopAtEos: false });
    const { events, result } = await collect(handle.generate(short, settings));
    for (const [step, { id, logprob }] of events.entries()) {
      const prefix = result.ids.slice(0, short.length + step);
      const [expected] = reference(prefix, undefined, 'last').logits;
      expect(expected[argmax(expected)] - expected[id], `step ${step}: cached ${id}, reference ${argmax(expected)}`).toBeLessThan(TOLERANCE);
      expect(Math.abs(logprob - logSoftmaxAt(expected, id)), `step ${step}: logprob of ${id}`).toBeLessThan(TOLERANCE);
    }
  });

  it('steers (add at resid_post) as the reference does with the same edit', async () => {
    const layer = model.spec.nLayers - 2;
    const vector = Array.from({ length: model.spec.dModel }, (_, i) => Math.cos(i * 0.7));
    const plan = { interventions: [{ op: 'add', hook: `blocks.${layer}.hook_resid_post`, vector, scale: 3 }] };
    const expected = reference(promptIds, editRows(`blocks.${layer}.hook_resid_post`, (row) => row.forEach((v, i) => (row[i] = v + 3 * vector[i]))));
    const steered = (await handle.run(promptIds, plan)).logits;
    steered.forEach((row, pos) => expect(maxAbsDiff(row, expected.logits[pos]), `logits at position ${pos}`).toBeLessThan(TOLERANCE));
    expect(maxAbsDiff(lastLogits(steered), (await handle.forward(promptIds, 'last'))[0])).toBeGreaterThan(1e-2); // it does something
  });

  it('clamps MLP neurons (set at mlp.hook_post) as the reference does', async () => {
    const plan = { interventions: [{ op: 'set', hook: 'blocks.0.mlp.hook_post', indices: [1, 7, 40], values: [3, -2, 0] }] };
    const expected = reference(promptIds, editRows('blocks.0.mlp.hook_post', (row) => ((row[1] = 3), (row[7] = -2), (row[40] = 0))));
    const clamped = (await handle.run(promptIds, plan)).logits;
    clamped.forEach((row, pos) => expect(maxAbsDiff(row, expected.logits[pos]), `logits at position ${pos}`).toBeLessThan(TOLERANCE));
  });

  it('steers at its family-specific site as the reference does', async () => {
    const vector = Array.from({ length: siteEdit.width }, (_, i) => Math.sin(i + 1));
    const plan = { interventions: [{ op: 'add', hook: siteEdit.hook, vector, scale: 2 }] };
    const expected = reference(promptIds, editRows(siteEdit.hook, (row) => row.forEach((v, i) => (row[i] = v + 2 * vector[i % siteEdit.width]))));
    const steered = (await handle.run(promptIds, plan)).logits;
    expectClose(steered, expected.logits);
    expect(maxAbsDiff(lastLogits(steered), (await handle.forward(promptIds, 'last'))[0])).toBeGreaterThan(1e-3);
  });

  it.runIf(sandwich)('captures and edits the post-attention and post-MLP norms (ln1_post, ln2_post) as the reference does', async () => {
    const hooks = ['blocks.0.ln1_post.hook_scale', 'blocks.0.ln1_post.hook_normalized', 'blocks.1.ln2_post.hook_scale', 'blocks.1.ln2_post.hook_normalized'];
    const { captures } = await handle.run(promptIds, { captures: hooks.map((hook) => ({ hook, positions: 'all' })) });
    const seen = new Map<string, Float64Array[]>();
    reference(promptIds, (site, rows) => void seen.set(site, rows));
    for (const hook of hooks) expect(maxAbsDiff(captures[hook].data, referenceCapture(hook, seen.get(hook)!, model.spec.nHeads)), hook).toBeLessThan(TOLERANCE);
    // Halve what block 0's MLP adds (double its post-norm's scale) and clamp two dims of block 1's normed attention output.
    const plan = {
      interventions: [
        { op: 'scale', hook: 'blocks.0.ln2_post.hook_scale', indices: [0], values: [2] },
        { op: 'set', hook: 'blocks.1.ln1_post.hook_normalized', indices: [0, 5], values: [1, -1] },
      ],
    };
    const expected = reference(promptIds, (site, rows) => {
      if (site === 'blocks.0.ln2_post.hook_scale') return rows.map((row) => row.map((x) => 2 * x));
      if (site === 'blocks.1.ln1_post.hook_normalized') return rows.map((row) => Float64Array.from(row, (x, i) => (i === 0 ? 1 : i === 5 ? -1 : x)));
    });
    const edited = (await handle.run(promptIds, plan)).logits;
    expectClose(edited, expected.logits);
    expect(maxAbsDiff(lastLogits(edited), (await handle.forward(promptIds, 'last'))[0])).toBeGreaterThan(1e-3);
  });

  it('captures and edits the norm scales, the attention scores and unembed.hook_in as the reference does', async () => {
    const { nHeads, dModel } = model.spec;
    const hooks = ['blocks.0.ln1.hook_scale', 'blocks.1.ln2.hook_scale', 'ln_final.hook_scale', 'blocks.1.attn.hook_attn_scores', 'unembed.hook_in'];
    const { captures } = await handle.run(promptIds, { captures: hooks.map((hook) => ({ hook, positions: 'all' })) });
    const seen = new Map<string, Float64Array[]>();
    reference(promptIds, (site, rows) => void seen.set(site, rows));
    for (const hook of hooks) expect(maxAbsDiff(captures[hook].data, referenceCapture(hook, seen.get(hook)!, nHeads)), hook).toBeLessThan(TOLERANCE);
    expect(captures['ln_final.hook_scale'].shape).toEqual([promptIds.length, 1]);
    expect(captures['blocks.1.attn.hook_attn_scores'].shape).toEqual([nHeads, promptIds.length, promptIds.length]);

    // Double block 0's ln2 scale, flatten head 1's scores in block 1 (uniform attention over the
    // keys the mask allows: the mask holds after the edit) and shift the unembedding's input.
    const vector = Array.from({ length: dModel }, (_, i) => Math.cos(i));
    const plan = {
      interventions: [
        { op: 'scale', hook: 'blocks.0.ln2.hook_scale', indices: [0], values: [2] },
        { op: 'set', hook: 'blocks.1.attn.hook_attn_scores', indices: [1], values: [0] },
        { op: 'add', hook: 'unembed.hook_in', vector, scale: 0.5 },
      ],
    };
    const n = promptIds.length;
    const expected = reference(promptIds, (site, rows) => {
      if (site === 'blocks.0.ln2.hook_scale') return rows.map((row) => row.map((x) => 2 * x));
      if (site === 'blocks.1.attn.hook_attn_scores') return rows.map((row) => Float64Array.from(row).fill(0, n, 2 * n));
      if (site === 'unembed.hook_in') return rows.map((row) => row.map((x, i) => x + 0.5 * vector[i]));
    });
    const edited = (await handle.run(promptIds, plan)).logits;
    expectClose(edited, expected.logits);
    expect(maxAbsDiff(lastLogits(edited), (await handle.forward(promptIds, 'last'))[0])).toBeGreaterThan(1e-3);
  });

  it('ablates a head (scale 0 at attn.hook_z) as the reference does', async () => {
    const { dHead } = model.spec;
    const plan = { interventions: [{ op: 'scale', hook: 'blocks.1.attn.hook_z', indices: [1], values: [0] }] };
    const expected = reference(promptIds, editRows('blocks.1.attn.hook_z', (row) => row.fill(0, dHead, 2 * dHead)));
    expectClose((await handle.run(promptIds, plan)).logits, expected.logits);
  });

  it("patching resid_pre at every position from another prompt reproduces that prompt's logits", async () => {
    const other = handle.tokenizer.encode('A slow green turtle walks under the busy cat, again and again.').slice(0, promptIds.length);
    expect(other).toHaveLength(promptIds.length);
    const plan = { interventions: [{ op: 'patch', hook: 'blocks.1.hook_resid_pre', positions: 'all', source: { prompt_ids: other } }] };
    expectClose((await handle.run(promptIds, plan)).logits, reference(other).logits);
  });

  it('skips block 0 (schedule) and reads the logit lens of the last block as the reference does', async () => {
    const last = model.spec.nLayers - 1;
    const schedule = Array.from({ length: model.spec.nLayers - 1 }, (_, i) => i + 1);
    const plan = { interventions: [{ op: 'schedule', blocks: schedule }, { op: 'lens', layers: [last] }] };
    const result = await handle.run(promptIds, plan);
    const expected = reference(promptIds, undefined, 'all', schedule);
    expectClose(result.logits, expected.logits);
    // The lens of the last block's output is the model's own logits (final norm, then the head).
    expectClose(result.lens[last], expected.logits);
    const lensRows = expected.residPost[expected.residPost.length - 1].map((row) => Float32Array.from(referenceLens(model.spec, weightGetter(model.weights), row)));
    expectClose(result.lens[last], lensRows);
  });

  it("reads the lens of hidden state 0 (the stream entering the blocks, DoLa's layer 0) as the reference does", async () => {
    const plan = { captures: [], interventions: [] };
    const lenses = [{ name: 'lens.start', hook: STREAM_START, finalNorm: true, fuse: false }];
    const positions = promptIds.map((_, i) => i);
    const { outputs } = await handle.runRows(plan, [{ plan, patches: new Map() }], [promptIds], { lenses, logitsAt: positions });
    let embedded: Float64Array[] = [];
    reference(promptIds, (site, rows) => void (site === 'blocks.0.hook_resid_pre' && (embedded = rows)));
    const data = outputs['lens.start'].data as Float32Array;
    const { dVocab } = model.spec;
    const lensRows = positions.map((pos) => data.slice(pos * dVocab, (pos + 1) * dVocab));
    expectClose(lensRows, embedded.map((row) => Float32Array.from(referenceLens(model.spec, weightGetter(model.weights), row))));
  });

  it('decodes with LFD (lambda 0 equals greedy) and DoLa from hidden state 0', async () => {
    const settings = generationSettingsSchema.parse({ maxNewTokens: 4, stopAtEos: false });
    const run = async (variants: VariantRun[]) => {
      const events: VariantTokenEvent[] = [];
      const stream = handle.generateVariants(promptIds, settings, variants);
      for (;;) {
        const next = await stream.next();
        if (next.done) return { events, results: next.value };
        events.push(next.value);
      }
    };
    const lfd = await run([{}, { decoding: { strategy: 'lfd', lambda: 0 } }]);
    expect(lfd.results[1].generatedIds).toEqual(lfd.results[0].generatedIds);
    const dola = await run([{ decoding: { strategy: 'dola', layers: [0] } }]);
    expect(dola.events.map((e) => e.decoding?.layer)).toEqual([0, 0, 0, 0]);
  });

  it('edits the unembedding alone with weight_delta on unembed (the tied embedding untouched)', async () => {
    const { dModel, dVocab } = model.spec;
    const token = 11; // present in every vocabulary here
    const u = Array.from({ length: dVocab }, (_, i) => (i === token ? 1 : 0));
    const v = Array.from({ length: dModel }, (_, i) => Math.sin(i));
    const plan = { interventions: [{ op: 'weight_delta', param: 'unembed', u, v }] };
    const edited = (await handle.run(promptIds, plan)).logits;
    // The reference with the same edit: its own unembedding W_U + u v^T (row `token` plus v), the embedding untouched.
    const unembed = Float32Array.from(model.weights.get(model.spec.tiedEmbeddings ? 'embed.weight' : 'unembed.weight') ?? []);
    v.forEach((x, i) => (unembed[token * dModel + i] += x));
    const editedWeights = new Map([...model.weights, ['unembed.weight', unembed]]);
    const expected = referenceForward({ ...model.spec, tiedEmbeddings: false }, weightGetter(editedWeights), promptIds);
    expectClose(edited, expected.logits);
    // The embedding (hook_embed) is unchanged: the edit is the head's own copy.
    const embed = await handle.run(promptIds, { captures: [{ hook: 'hook_embed', positions: 'last' }], interventions: plan.interventions });
    const plain = await handle.run(promptIds, { captures: [{ hook: 'hook_embed', positions: 'last' }] });
    expect(maxAbsDiff(embed.captures.hook_embed.data, plain.captures.hook_embed.data)).toBe(0);
  });
});
