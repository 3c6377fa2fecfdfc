/**
 * Every plan op compiled into the graph, against the TypeScript reference forward
 * (reference/forward.ts) with the same intervention written as a hook on its
 * float64 activations. A random-weight model with grouped-query attention (6 query
 * heads over 2 KV heads) and 4 blocks, so head indexing, schedules and lens layers
 * have room to go wrong.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine, type ModelHandle } from '../engine/engine';
import { parsePlanJson } from '../engine/hooks/plan';
import { generationSettingsSchema } from '../engine/generate/settings';
import { listHooks } from '../engine/hooks/names';
import type { GenerationResult } from '../engine/generate/generate';
import type { VariantRun, VariantTokenEvent } from '../engine/engine';
import { paramName } from '../engine/model/spec';
import { buildRandomModel, type RandomModel } from './fixtures/random-model';
import { argmax, maxAbsDiff, referenceCapture, referenceForward, referenceLens, weightGetter, type ReferenceHook } from './reference/forward';
import { expectEngineError } from './expect-engine-error';

const TOLERANCE = 1e-4;
const workDir = mkdtempSync(join(tmpdir(), 'tiller-interventions-'));
let engine: Engine;
let model: RandomModel;
let handle: ModelHandle;
let prompt: number[];
let otherPrompt: number[]; // same length as prompt

beforeAll(async () => {
  engine = Engine.create({ cacheDir: join(workDir, 'cache') });
  model = buildRandomModel(join(workDir, 'model'), {
    config: 'HuggingFaceTB__SmolLM2-135M-Instruct',
    layers: 4,
    dModel: 64,
    dMlp: 128,
    nHeads: 6,
    nKvHeads: 2,
    dHead: 16,
    seed: 21,
  });
  handle = await engine.loadModel(model.dir);
  prompt = handle.tokenizer.encode('The quick brown fox jumps over the lazy dog');
  otherPrompt = handle.tokenizer.encode('A slow green turtle walks under the busy cat');
  otherPrompt = otherPrompt.slice(0, prompt.length);
  expect(otherPrompt).toHaveLength(prompt.length);
});

afterAll(async () => {
  await engine.close();
  rmSync(workDir, { recursive: true, force: true });
});

const reference = (ids: number[], hook?: ReferenceHook, schedule?: number[], weights = model.weights) =>
  referenceForward(model.spec, weightGetter(weights), ids, { hook, schedule });

function expectLogitsClose(actual: Float32Array[], expected: Float32Array[], tolerance = TOLERANCE): void {
  expect(actual).toHaveLength(expected.length);
  actual.forEach((row, pos) => expect(maxAbsDiff(row, expected[pos]), `logits at position ${pos}`).toBeLessThan(tolerance));
}

/** A reference hook that edits rows of one site at some positions. */
const editAt =
  (site: string, positions: (pos: number) => boolean, edit: (row: Float64Array) => void): ReferenceHook =>
  (name, rows) => {
    if (name !== site) return;
    return rows.map((row, pos) => {
      const copy = Float64Array.from(row);
      if (positions(pos)) edit(copy);
      return copy;
    });
  };

describe('set and scale', () => {
  it('clamps MLP neurons (set on mlp.hook_post) at every position', async () => {
    const plan = { interventions: [{ op: 'set', hook: 'blocks.1.mlp.hook_post', indices: [3, 17, 90], values: [2.5, -1, 0] }] };
    const expected = reference(prompt, editAt('blocks.1.mlp.hook_post', () => true, (row) => ((row[3] = 2.5), (row[17] = -1), (row[90] = 0))));
    expectLogitsClose((await handle.run(prompt, plan)).logits, expected.logits);
  });

  it('clamps neurons at explicit positions only, one value for every index', async () => {
    const plan = { interventions: [{ op: 'set', hook: 'blocks.2.mlp.hook_post', indices: [5, 6], values: [4], positions: [2, 5] }] };
    const expected = reference(prompt, editAt('blocks.2.mlp.hook_post', (pos) => pos === 2 || pos === 5, (row) => ((row[5] = 4), (row[6] = 4))));
    expectLogitsClose((await handle.run(prompt, plan)).logits, expected.logits);
  });

  it('ablates attention heads (scale 0 on attn.hook_z), query heads of both KV groups', async () => {
    const plan = { interventions: [{ op: 'scale', hook: 'blocks.2.attn.hook_z', indices: [1, 4], values: [0] }] };
    const zeroHeads = (row: Float64Array) => [1, 4].forEach((head) => row.fill(0, head * 16, (head + 1) * 16));
    const expected = reference(prompt, editAt('blocks.2.attn.hook_z', () => true, zeroHeads));
    const actual = (await handle.run(prompt, plan)).logits;
    expectLogitsClose(actual, expected.logits);
    expect(maxAbsDiff(actual[actual.length - 1], (await handle.forward(prompt, 'last'))[0])).toBeGreaterThan(1e-3); // it does something
  });

  it('scales one head of the attention pattern at prompt positions (generated ones untouched)', async () => {
    const plan = { interventions: [{ op: 'scale', hook: 'blocks.0.attn.hook_pattern', indices: [3], values: [0.5], positions: 'prompt' }] };
    const n = prompt.length;
    const promptLength = n - 3; // the last 3 positions count as generated
    const expected = reference(prompt, editAt('blocks.0.attn.hook_pattern', (pos) => pos < promptLength, (row) => row.subarray(3 * n, 4 * n).forEach((v, k, head) => (head[k] = v * 0.5))));
    expectLogitsClose((await handle.run(prompt, plan, { promptLength })).logits, expected.logits);
  });

  it('adds a d_head vector to every head of attn.hook_q', async () => {
    const vector = Array.from({ length: 16 }, (_, i) => Math.sin(i));
    const plan = { interventions: [{ op: 'add', hook: 'blocks.1.attn.hook_q', vector, scale: 0.7, positions: 'last' }] };
    const expected = reference(prompt, editAt('blocks.1.attn.hook_q', (pos) => pos === prompt.length - 1, (row) => row.forEach((v, c) => (row[c] = v + 0.7 * vector[c % 16]))));
    expectLogitsClose((await handle.run(prompt, plan)).logits, expected.logits);
  });
});

// Adds on the residual stream fold into the fused skip-norm's skip input (graph/taps.ts
// foldedAdds); a capture between two hooks of one residual value must still see only its own.
describe('add on the residual stream', () => {
  const vectorOf = (seed: number) => Array.from({ length: 64 }, (_, i) => Math.sin(seed + i));
  const addTo = (row: Float64Array, seed: number, scale: number) => row.forEach((v, c) => (row[c] = v + scale * vectorOf(seed)[c]));
  const hooks = ['blocks.1.hook_resid_post', 'blocks.2.hook_resid_pre', 'blocks.3.hook_resid_mid', 'blocks.3.hook_resid_post'];
  const plan = (captures: string[]) => ({
    captures: captures.map((hook) => ({ hook, positions: 'all' })),
    interventions: hooks.map((hook, i) => ({ op: 'add', hook, vector: vectorOf(i), scale: 0.5 + i, positions: i === 2 ? 'last' : 'all' })),
  });
  const seen = new Map<string, Float64Array[]>();
  const expected = () =>
    reference(prompt, (name, rows) => {
      const i = hooks.indexOf(name);
      const out = i < 0 ? rows : rows.map((row, pos) => {
        const copy = Float64Array.from(row);
        if (i !== 2 || pos === prompt.length - 1) addTo(copy, i, 0.5 + i);
        return copy;
      });
      seen.set(name, out);
      return out;
    });

  it('adds at resid_post, the next resid_pre, resid_mid and the last resid_post as the reference does', async () => {
    expectLogitsClose((await handle.run(prompt, plan([]))).logits, expected().logits);
  });

  it('captures of resid_post and the next resid_pre each hold their own adds only', async () => {
    const ref = expected();
    const { logits, captures } = await handle.run(prompt, plan(['blocks.1.hook_resid_post', 'blocks.2.hook_resid_pre', 'blocks.3.hook_resid_post']));
    expectLogitsClose(logits, ref.logits);
    for (const hook of ['blocks.1.hook_resid_post', 'blocks.2.hook_resid_pre', 'blocks.3.hook_resid_post']) {
      prompt.forEach((_, pos) => expect(maxAbsDiff(captures[hook].data.subarray(pos * 64, (pos + 1) * 64), seen.get(hook)![pos]), `${hook} at ${pos}`).toBeLessThan(TOLERANCE));
    }
    expect(maxAbsDiff(captures['blocks.1.hook_resid_post'].data, captures['blocks.2.hook_resid_pre'].data)).toBeGreaterThan(0.1);
  });
});

describe('patch', () => {
  it('patching a run with its own activations is the identity', async () => {
    const plan = { interventions: [{ op: 'patch', hook: 'blocks.1.hook_resid_pre', positions: 'all', source: { prompt_ids: prompt } }] };
    expectLogitsClose((await handle.run(prompt, plan)).logits, await handle.forward(prompt), 1e-5);
  });

  it("patching every position of resid_pre at block k from a source prompt reproduces the source run's logits", async () => {
    const plan = { interventions: [{ op: 'patch', hook: 'blocks.2.hook_resid_pre', positions: 'all', source: { prompt_ids: otherPrompt } }] };
    const patched = (await handle.run(prompt, plan)).logits;
    expectLogitsClose(patched, await handle.forward(otherPrompt), 1e-5);
    expectLogitsClose(patched, reference(otherPrompt).logits);
  });

  it('patches explicit rows at explicit positions, as the reference does', async () => {
    const source = await handle.run(otherPrompt, { captures: [{ hook: 'blocks.1.hook_resid_mid', positions: [3, 4] }] });
    const rows = source.captures['blocks.1.hook_resid_mid'].data;
    const values = [Array.from(rows.subarray(0, 64)), Array.from(rows.subarray(64, 128))];
    const plan = { interventions: [{ op: 'patch', hook: 'blocks.1.hook_resid_mid', positions: [3, 4], source: { values } }] };
    const hook: ReferenceHook = (name, r) => (name === 'blocks.1.hook_resid_mid' ? r.map((row, pos) => (pos === 3 || pos === 4 ? Float64Array.from(values[pos - 3]) : row)) : undefined);
    expectLogitsClose((await handle.run(prompt, plan)).logits, reference(prompt, hook).logits);
  });
});

describe('positions in one forward pass', () => {
  const row = (value: number) => Array(64).fill(value);

  it('refuses explicit positions past the end of the run, naming the field', async () => {
    const n = prompt.length;
    await expectEngineError(() => handle.run(prompt, { captures: [{ hook: 'blocks.1.hook_resid_post', positions: [0, n] }] }), 'bad_plan', `captures[0].positions[1]: position ${n} is past the end of the run (${n} tokens: positions 0..${n - 1})`);
    await expectEngineError(() => handle.run(prompt, { interventions: [steer(1, [n + 3])] }), 'bad_plan', `interventions[0].positions[0]: position ${n + 3} is past the end of the run`);
    await expectEngineError(
      () => handle.run(prompt, { interventions: [{ op: 'scale', hook: 'blocks.0.attn.hook_z', indices: [0], values: [0], positions: [1, 40] }] }),
      'bad_plan',
      'interventions[0].positions[1]: position 40',
    );
  });

  it('refuses a patch whose rows do not match the positions it selects', async () => {
    const n = prompt.length;
    const patch = (positions: unknown, rows: number) => ({ op: 'patch', hook: 'blocks.1.hook_resid_mid', positions, source: { values: Array.from({ length: rows }, (_, i) => row(i)) } });
    await expectEngineError(() => handle.run(prompt, { interventions: [patch('all', n - 1)] }), 'bad_plan', `interventions[0].source.values: has ${n - 1} rows; positions "all" select ${n} of the run's ${n}`);
    await expectEngineError(() => handle.run(prompt, { interventions: [patch('all', n + 1)] }), 'bad_plan', `has ${n + 1} rows`);
    await expectEngineError(() => handle.run(prompt, { interventions: [patch('prompt', 2)] }, { promptLength: 4 }), 'bad_plan', 'has 2 rows; positions "prompt" select 4');
    await expectEngineError(() => handle.run(prompt, { interventions: [patch('generated', n)] }, { promptLength: 4 }), 'bad_plan', `has ${n} rows; positions "generated" select ${n - 4}`);
    await expectEngineError(() => handle.run(prompt, { interventions: [patch('last', 2)] }), 'bad_plan', 'interventions[0].source.values: has 2 rows; positions "last" select 1');
    await expectEngineError(
      () => handle.run(prompt, { interventions: [{ op: 'patch', hook: 'blocks.1.hook_resid_mid', positions: 'all', source: { prompt_ids: otherPrompt.slice(0, 3) } }] }),
      'bad_plan',
      'interventions[0].source.prompt_ids: has 3 tokens',
    );
    // Rows that match are applied, row j at the j-th selected position.
    const { logits } = await handle.run(prompt, { interventions: [patch('generated', n - 4)] }, { promptLength: 4 });
    const hook: ReferenceHook = (name, r) => (name === 'blocks.1.hook_resid_mid' ? r.map((x, pos) => (pos >= 4 ? Float64Array.from(row(pos - 4)) : x)) : undefined);
    expectLogitsClose(logits, reference(prompt, hook).logits);
  });
});

describe('schedule', () => {
  it('the identity schedule is the baseline', async () => {
    const plan = { interventions: [{ op: 'schedule', blocks: [0, 1, 2, 3] }] };
    expectLogitsClose((await handle.run(prompt, plan)).logits, await handle.forward(prompt), 1e-5);
  });

  it.each([
    ['skips block 2', [0, 1, 3]],
    ['repeats block 1', [0, 1, 1, 2, 3]],
    ['reorders and repeats', [1, 0, 3, 3]],
  ])('%s, as the reference does', async (_name, blocks) => {
    const plan = { interventions: [{ op: 'schedule', blocks }] };
    expectLogitsClose((await handle.run(prompt, plan)).logits, reference(prompt, undefined, blocks).logits);
  });

  it('generates through a repeated block with one KV-cache slot per schedule position', async () => {
    const blocks = [0, 1, 1, 3];
    const settings = generationSettingsSchema.parse({ maxNewTokens: 12, stopAtEos: false });
    const { results } = await generateAll([{ plan: { interventions: [{ op: 'schedule', blocks }] } }], settings);
    await expectGreedyAgrees(results[0], (ids) => reference(ids, undefined, blocks).logits);
  });

  it('applies the interventions and weight edits of a repeated block at each of its runs', async () => {
    const blocks = [0, 1, 1, 3];
    const u = [Array.from({ length: 64 }, (_, i) => 0.2 * Math.cos(i))];
    const v = [Array.from({ length: 128 }, (_, i) => 0.2 * Math.sin(i))];
    const plan = {
      interventions: [
        { op: 'schedule', blocks },
        { op: 'set', hook: 'blocks.1.mlp.hook_post', indices: [3, 17], values: [2.5, -1] },
        { op: 'weight_delta', param: 'blocks.1.mlp.down_proj', u, v },
      ],
    };
    const weights = new Map(model.weights);
    const down = Float32Array.from(weights.get('blocks.1.mlp.down_proj.weight')!);
    u[0].forEach((uo, o) => v[0].forEach((vi, i) => (down[o * 128 + i] += uo * vi)));
    weights.set('blocks.1.mlp.down_proj.weight', down);
    const expected = reference(prompt, editAt('blocks.1.mlp.hook_post', () => true, (row) => ((row[3] = 2.5), (row[17] = -1))), blocks, weights);
    expectLogitsClose((await handle.run(prompt, plan)).logits, expected.logits);
  });

  it('refuses a capture of a skipped block other than its residual hooks, naming the schedule', async () => {
    await expectEngineError(
      () => handle.run(prompt, { captures: [{ hook: 'blocks.2.attn.hook_z' }], interventions: [{ op: 'schedule', blocks: [0, 1, 3] }] }),
      'bad_plan',
      'captures[0].hook: blocks.2.attn.hook_z is in block 2, which the schedule [0, 1, 3] skips',
    );
  });

  it.each([
    ['after the last lower block', [0, 1, 3], 'blocks.2', 1],
    ['after the last lower block in schedule order, not the highest', [1, 0, 3], 'blocks.2', 1],
    ['the embedding when no lower block runs', [2, 3], 'blocks.0', null],
  ])('a skipped block passes the stream on: its residual hooks read the stream %s', async (_name, blocks, block, run) => {
    const hooks = ['hook_resid_pre', 'hook_resid_mid', 'hook_resid_post'].map((site) => `${block}.${site}`);
    const layer = Number(block.split('.')[1]);
    const plan = { captures: hooks.map((hook) => ({ hook, positions: 'all' })), interventions: [{ op: 'schedule', blocks }, { op: 'lens', layers: [layer] }] };
    const { captures, lens, logits } = await handle.run(prompt, plan);
    let embed: Float64Array[] = [];
    const expected = reference(prompt, (name, rows) => void (name === 'hook_embed' && (embed = rows)), blocks);
    const stream = run === null ? embed : expected.residPost[run];
    expectLogitsClose(logits, expected.logits);
    for (const hook of hooks) prompt.forEach((_, pos) => expect(maxAbsDiff(captures[hook].data.subarray(pos * 64, (pos + 1) * 64), stream[pos]), `${hook} at ${pos}`).toBeLessThan(TOLERANCE));
    lens[layer].forEach((row, pos) => expect(maxAbsDiff(row, referenceLens(model.spec, weightGetter(model.weights), stream[pos])), `lens at ${pos}`).toBeLessThan(TOLERANCE));
  });

  it('accepts interventions and weight edits in a skipped block, which change nothing, and warns about each', async () => {
    const blocks = [0, 1, 3];
    const base = { interventions: [{ op: 'schedule', blocks }, steer(2)] };
    const noOps = [
      { op: 'scale', hook: 'blocks.2.attn.hook_z', indices: [1], values: [0] },
      { op: 'add', hook: 'blocks.2.hook_resid_post', vector: Array(64).fill(3) },
      { op: 'patch', hook: 'blocks.2.hook_resid_pre', positions: 'all', source: { prompt_ids: otherPrompt } },
      { op: 'weight_delta', param: 'blocks.2.attn.o_proj', u: Array(64).fill(0.5), v: Array(96).fill(0.5) },
    ];
    const plain = await handle.run(prompt, base);
    const withNoOps = await handle.run(prompt, { interventions: [...base.interventions, ...noOps] });
    expect(withNoOps.logits).toEqual(plain.logits);
    expect(plain.warnings).toEqual([]);
    const skips = 'is in block 2, which the schedule [0, 1, 3] skips: no effect';
    expect(withNoOps.warnings).toEqual([
      `interventions[2]: blocks.2.attn.hook_z ${skips}`,
      `interventions[3]: blocks.2.hook_resid_post ${skips}`,
      `interventions[4]: blocks.2.hook_resid_pre ${skips}`,
      `interventions[5]: blocks.2.attn.o_proj ${skips}`,
    ]);
  });
});

describe('weight_delta', () => {
  const edited = (param: string, u: number[][], v: number[][]): Map<string, Float32Array> => {
    const weights = new Map(model.weights);
    const w = Float32Array.from(weights.get(`${param}.weight`)!);
    const inFeatures = v[0].length;
    u.forEach((uk, k) => uk.forEach((uo, o) => v[k].forEach((vi, i) => (w[o * inFeatures + i] += uo * vi))));
    weights.set(`${param}.weight`, w);
    return weights;
  };
  const factor = (rows: number, length: number, seed: number) => Array.from({ length: rows }, (_, k) => Array.from({ length }, (_, i) => 0.3 * Math.sin(seed + 7 * k + i)));

  it('a rank-2 delta on mlp.down_proj equals editing the weight', async () => {
    const [u, v] = [factor(2, 64, 1), factor(2, 128, 2)];
    const plan = { interventions: [{ op: 'weight_delta', param: 'blocks.1.mlp.down_proj', u, v }] };
    expectLogitsClose((await handle.run(prompt, plan)).logits, reference(prompt, undefined, undefined, edited('blocks.1.mlp.down_proj', u, v)).logits);
  });

  it('two deltas on one weight add up, as one delta of their combined rank', async () => {
    const [u, v] = [factor(2, 64, 5), factor(2, 128, 6)];
    const split = { interventions: [0, 1].map((k) => ({ op: 'weight_delta', param: 'blocks.2.mlp.down_proj', u: [u[k]], v: [v[k]] })) };
    const merged = { interventions: [{ op: 'weight_delta', param: 'blocks.2.mlp.down_proj', u, v }] };
    expectLogitsClose((await handle.run(prompt, split)).logits, (await handle.run(prompt, merged)).logits, 1e-5);
    expectLogitsClose((await handle.run(prompt, split)).logits, reference(prompt, undefined, undefined, edited('blocks.2.mlp.down_proj', u, v)).logits);
  });

  it('a rank-1 delta on attn.q_proj (flat lists) equals editing the weight', async () => {
    const [u, v] = [factor(1, 96, 3)[0], factor(1, 64, 4)[0]];
    const plan = { interventions: [{ op: 'weight_delta', param: 'blocks.3.attn.q_proj', u, v }] };
    expect(paramName.q(3)).toBe('blocks.3.attn.q_proj.weight');
    expectLogitsClose((await handle.run(prompt, plan)).logits, reference(prompt, undefined, undefined, edited('blocks.3.attn.q_proj', [u], [v])).logits);
  });
});

describe('lens', () => {
  it('gives intermediate logits = final norm + head applied to each block output, at every position', async () => {
    const { lens } = await handle.run(prompt, { interventions: [{ op: 'lens', layers: [0, 2] }] });
    const { residPost } = reference(prompt);
    for (const layer of [0, 2]) {
      lens[layer].forEach((row, pos) => {
        expect(maxAbsDiff(row, referenceLens(model.spec, weightGetter(model.weights), residPost[layer][pos])), `lens ${layer} at ${pos}`).toBeLessThan(TOLERANCE);
      });
    }
  });
});

describe('captures', () => {
  it('captures every hook kind as the reference computes it, TransformerLens-shaped', async () => {
    const hooks = listHooks(model.spec)
      .map((info) => info.name)
      .filter((name) => !name.startsWith('blocks.') || name.startsWith('blocks.1.'));
    const { captures } = await handle.run(prompt, { captures: hooks.map((hook) => ({ hook, positions: 'all' })) });
    const seen = new Map<string, Float64Array[]>();
    reference(prompt, (name, rows) => void seen.set(name, rows));
    const n = prompt.length;
    for (const hook of hooks) {
      const capture = captures[hook];
      const rows = seen.get(hook)!;
      expect(rows, hook).toBeDefined();
      // Attention scores and patterns are [head, q_pos, k_pos]; every other site starts with pos.
      if (/attn\.hook_(attn_scores|pattern)$/.test(hook)) expect(capture.shape, hook).toEqual([6, n, n]);
      else expect(capture.shape[0], hook).toBe(n);
      expect(maxAbsDiff(capture.data, referenceCapture(hook, rows, 6)), hook).toBeLessThan(TOLERANCE);
    }
    expect(captures['blocks.1.attn.hook_z'].dims).toEqual(['pos', 'head', 'd_head']);
    expect(captures['blocks.1.attn.hook_k'].shape).toEqual([n, 2, 16]);
  });
});

// ---------------------------------------------------------------------------- generation

async function generateAll(variants: VariantRun[], settings = generationSettingsSchema.parse({ maxNewTokens: 20, stopAtEos: false })) {
  const events: VariantTokenEvent[] = [];
  const stream = handle.generateVariants(prompt, settings, variants);
  for (;;) {
    const next = await stream.next();
    if (next.done) return { events, results: next.value };
    events.push(next.value);
  }
}

/** Each greedy token is the argmax of an uncached recomputation of its prefix (up to a near-tie). */
async function expectGreedyAgrees(result: GenerationResult, logitsOf: (ids: number[]) => Float32Array[] | Promise<Float32Array[]>): Promise<void> {
  for (const [step, id] of result.generatedIds.entries()) {
    const prefix = result.ids.slice(0, prompt.length + step);
    const rows = await logitsOf(prefix);
    const last = rows[rows.length - 1];
    expect(last[argmax(last)] - last[id], `step ${step}: chose ${id}, recomputation ${argmax(last)}`).toBeLessThan(TOLERANCE);
  }
}

const steer = (scale: number, positions: unknown = 'all') => ({
  op: 'add',
  hook: 'blocks.1.hook_resid_post',
  vector: Array.from({ length: 64 }, (_, i) => Math.cos(i)),
  scale,
  positions,
});

describe('generation with plans', () => {
  it('applies prompt and generated interventions consistently with the KV cache for 50 greedy steps', async () => {
    const plan = {
      interventions: [steer(1.5, 'generated'), { op: 'set', hook: 'blocks.2.mlp.hook_post', indices: [7, 8], values: [3, -3], positions: 'prompt' }],
    };
    const settings = generationSettingsSchema.parse({ maxNewTokens: 50, stopAtEos: false });
    const { results } = await generateAll([{ plan }], settings);
    expect(results[0].generatedIds).toHaveLength(50);
    await expectGreedyAgrees(results[0], async (ids) => (await handle.run(ids, plan, { promptLength: prompt.length })).logits);
  });

  it('runs variants batched with results equal to each run alone (1e-5)', async () => {
    const variants: VariantRun[] = [
      {},
      { plan: { interventions: [steer(2)] } },
      { plan: { interventions: [{ op: 'set', hook: 'blocks.1.mlp.hook_post', indices: [1, 2, 3], values: [5, 5, 5] }] } },
      { plan: { interventions: [{ op: 'scale', hook: 'blocks.0.attn.hook_z', indices: [0, 5], values: [0] }, { op: 'weight_delta', param: 'blocks.2.mlp.up_proj', u: Array(128).fill(0.01), v: Array(64).fill(0.02) }] } },
      { plan: { interventions: [{ op: 'patch', hook: 'blocks.2.hook_resid_pre', positions: [1, 2], source: { prompt_ids: otherPrompt } }] } },
    ];
    const together = await generateAll(variants);
    for (const [i, variant] of variants.entries()) {
      const alone = await generateAll([variant]);
      expect(together.results[i].generatedIds, `variant ${i}`).toEqual(alone.results[0].generatedIds);
      const logprobs = (events: VariantTokenEvent[], v: number) => events.filter((e) => e.variant === v).map((e) => e.token.logprob);
      expect(maxAbsDiff(logprobs(together.events, i), logprobs(alone.events, 0)), `variant ${i} logprobs`).toBeLessThan(1e-5);
    }
    expect(new Set(together.results.map((r) => r.generatedIds.join(','))).size).toBeGreaterThan(1);
    // Each variant's token carries the baseline's logprob of it at the same step while the
    // contexts are the same (up to and including the first differing token), and none after.
    const baselineEvents = together.events.filter((e) => e.variant === 0);
    expect(baselineEvents.every((e) => e.baselineLogprob === null)).toBe(true);
    let checkedAfterDivergence = 0;
    for (const [i] of variants.entries()) {
      if (i === 0) continue;
      const events = together.events.filter((e) => e.variant === i);
      const firstDiffering = events.findIndex((e, step) => baselineEvents[step].token.id !== e.token.id);
      for (const [step, event] of events.entries()) {
        const baseline = baselineEvents[step];
        if (firstDiffering !== -1 && step > firstDiffering) {
          expect(event.baselineLogprob, `variant ${i} step ${step}`).toBeNull();
          checkedAfterDivergence += 1;
          continue;
        }
        expect(event.baselineLogprob).not.toBeNull();
        if (baseline.token.id === event.token.id) expect(event.baselineLogprob).toBeCloseTo(baseline.token.logprob, 6);
        else expect(event.baselineLogprob!).toBeLessThanOrEqual(baseline.token.logprob + 1e-6); // greedy: the baseline's own token was its most likely
      }
    }
    expect(checkedAfterDivergence).toBeGreaterThan(0);
  });

  it('warns when a patch over all positions has a source prompt of another length than the prompt', async () => {
    const patch = (ids: number[]) => ({ plan: { interventions: [{ op: 'patch' as const, hook: 'blocks.2.hook_resid_pre', positions: 'all' as const, source: { prompt_ids: ids } }] } });
    const longer = [...otherPrompt, otherPrompt[0], otherPrompt[1]];
    const { results } = await generateAll([{}, patch(otherPrompt), patch(longer)], generationSettingsSchema.parse({ maxNewTokens: 3, stopAtEos: false }));
    expect(results.map((result) => result.warnings.length)).toEqual([0, 0, 1]);
    const n = prompt.length;
    expect(results[2].warnings[0]).toBe(
      `interventions[0].positions: The source prompt has ${n + 2} tokens and the prompt ${n} tokens. Over all positions, the tokens generated at positions ${n}–${n + 1} would take the source prompt's activations there, and later ones none. Explicit positions 0-${n - 1} patch only those both have.`,
    );
  });

  it('runs variants with different schedules side by side', async () => {
    const variants: VariantRun[] = [{}, { plan: { interventions: [{ op: 'schedule', blocks: [0, 2, 3] }] } }];
    const together = await generateAll(variants);
    const baseline = await generateAll([{}]);
    expect(together.results[0].generatedIds).toEqual(baseline.results[0].generatedIds);
    await expectGreedyAgrees(together.results[1], (ids) => reference(ids, undefined, [0, 2, 3]).logits);
  });

  it('"last" steers the last prompt position and then each generated token as it is fed: explicit [P - 1, P, P + 1, ...]', async () => {
    const every = Array.from({ length: 21 }, (_, i) => prompt.length - 1 + i);
    const { events, results } = await generateAll([{}, { plan: { interventions: [steer(3, 'last')] } }, { plan: { interventions: [steer(3, every)] } }]);
    expect(results[1].generatedIds).toHaveLength(20);
    expect(results[2].generatedIds).toEqual(results[1].generatedIds);
    const logprobs = (v: number) => events.filter((e) => e.variant === v).map((e) => e.token.logprob);
    expect(maxAbsDiff(logprobs(1), logprobs(2))).toBeLessThan(1e-6);
    expect(maxAbsDiff(logprobs(0), logprobs(1))).toBeGreaterThan(1e-3); // the steering does something
    // And neither is "all": the earlier prompt positions stay unsteered.
    const all = await generateAll([{ plan: { interventions: [steer(3, 'all')] } }]);
    expect(maxAbsDiff(all.events.map((e) => e.token.logprob), logprobs(1))).toBeGreaterThan(1e-3);
  });

  it('runs two variants that edit the same weight in one batch', async () => {
    const delta = (scale: number) => ({ op: 'weight_delta', param: 'blocks.2.mlp.up_proj', u: Array(128).fill(0.01 * scale), v: Array(64).fill(0.02) });
    const variants: VariantRun[] = [{ plan: { interventions: [delta(1)] } }, { plan: { interventions: [delta(-3)] } }];
    const together = await generateAll(variants);
    for (const [i, variant] of variants.entries()) expect(together.results[i].generatedIds, `variant ${i}`).toEqual((await generateAll([variant])).results[0].generatedIds);
  });

  it('streams the variant plan captures with each token', async () => {
    const plan = { captures: [{ hook: 'blocks.3.hook_resid_post', positions: 'last' }] };
    const { events } = await generateAll([{ plan }], generationSettingsSchema.parse({ maxNewTokens: 3, stopAtEos: false }));
    expect(events.map((e) => e.captures['blocks.3.hook_resid_post'].positions)).toEqual([[prompt.length - 1], [prompt.length], [prompt.length + 1]]);
  });
});

describe('lens-based decoding', () => {
  it('LFD with lambda = 0 equals greedy decoding, and reports a candidate layer each step', async () => {
    for (const fusion of ['logprob', 'logit', 'hidden'] as const) {
      const { events, results } = await generateAll([{}, { decoding: { strategy: 'lfd', lambda: 0, fusion } }]);
      expect(results[1].generatedIds, fusion).toEqual(results[0].generatedIds);
      const steps = events.filter((e) => e.variant === 1).map((e) => e.decoding);
      expect(steps.every((step) => step?.strategy === 'lfd' && [2, 3].includes(step.layer) && Object.keys(step.scores).length === 2)).toBe(true);
    }
  });

  it('LFD with lambda > 0 changes the distribution', async () => {
    const { events } = await generateAll([{}, { decoding: { strategy: 'lfd', lambda: 0.8 } }]);
    const logprobs = (v: number) => events.filter((e) => e.variant === v).map((e) => e.token.logprob);
    expect(maxAbsDiff(logprobs(0), logprobs(1))).toBeGreaterThan(1e-3);
  });

  it('DoLa with one candidate layer equals the static formula computed from captured lens logits', async () => {
    const decoding = { strategy: 'dola' as const, layers: [2], prematureFinalNorm: true, alpha: 0.1, repetitionPenalty: 1.2 };
    const { events, results } = await generateAll([{ decoding }], generationSettingsSchema.parse({ maxNewTokens: 10, stopAtEos: false }));
    expect(events.every((e) => e.decoding?.layer === 2)).toBe(true);
    for (const [step, id] of results[0].generatedIds.entries()) {
      const prefix = results[0].ids.slice(0, prompt.length + step);
      const { logits, lens } = await handle.run(prefix, { interventions: [{ op: 'lens', layers: [1] }] }); // hidden state 2 = block 1's output
      const final = logSoftmax64(logits[logits.length - 1]);
      const premature = logSoftmax64(lens[1][lens[1].length - 1]);
      const threshold = Math.max(...final) + Math.log(0.1);
      const scores = final.map((logq, x) => (logq >= threshold ? logq - premature[x] : -Infinity));
      for (const seen of new Set(prefix)) scores[seen] = scores[seen] > 0 ? scores[seen] / 1.2 : scores[seen] * 1.2;
      const best = argmax(scores);
      expect(scores[best] - scores[id], `step ${step}: DoLa chose ${id}, formula ${best}`).toBeLessThan(TOLERANCE);
    }
  });

  it('DoLa may use hidden state 0, the embedding output, as its premature layer', async () => {
    const { events } = await generateAll([{ decoding: { strategy: 'dola', layers: [0] } }], generationSettingsSchema.parse({ maxNewTokens: 3, stopAtEos: false }));
    expect(events.map((e) => e.decoding?.layer)).toEqual([0, 0, 0]);
  });

  it('refuses LFD candidate layer 0 naming the decoding field and layer, as validation does', async () => {
    const error = await expectEngineError(() => generateAll([{}, { decoding: { strategy: 'lfd', candidateLayers: [2, 0] } }]), 'bad_plan', 'variant 1: decoding.candidateLayers[1]: LFD candidate layer 0 is outside 1..3');
    expect(error.message).not.toContain('lens:');
  });

  it('DoLa with a bucket picks a layer from the bucket at each step', async () => {
    const { events } = await generateAll([{ decoding: { strategy: 'dola', layers: 'high' } }]);
    expect(events.every((e) => e.decoding !== null && [2].includes(e.decoding.layer))).toBe(true);
  });
});

function logSoftmax64(row: Float32Array): number[] {
  const max = Math.max(...row);
  const logSum = Math.log(row.reduce((sum, x) => sum + Math.exp(x - max), 0));
  return Array.from(row, (x) => x - max - logSum);
}

describe('bad plans', () => {
  it('names the problem', async () => {
    await expectEngineError(() => handle.run(prompt, { interventions: [{ op: 'add', hook: 'blocks.1.hook_resid_post', vector: [1, 2, 3] }] }), 'bad_plan', 'interventions[0].vector: has 3 values; blocks.1.hook_resid_post needs d_model = 64');
    await expectEngineError(() => handle.run(prompt, { captures: [{ hook: 'blocks.1.hook_nonsense' }] }), 'bad_plan', 'captures[0].hook: ', 'hook_nonsense');
    await expectEngineError(() => handle.run(prompt, { interventions: [{ op: 'set', hook: 'blocks.1.mlp.hook_post', indices: [128], values: [1] }] }), 'bad_plan', 'indices[0]: 128 is out of range: blocks.1.mlp.hook_post has 128 neurons');
    await expectEngineError(() => handle.run(prompt, { interventions: [{ op: 'lens', layers: [4] }] }), 'bad_plan', 'block 4 is out of range');
    expect(() => parsePlanJson('{"interventions": [', model.spec)).toThrow(/not valid JSON at line 1, column 20/);
    await expectEngineError(
      () => generateAll([{}, { plan: { interventions: [{ op: 'scale', hook: 'blocks.0.attn.hook_z', indices: [6], values: [0] }] } }]),
      'bad_plan',
      'variant 1: ',
      'indices[0]: 6 is out of range',
    );
  });
});
