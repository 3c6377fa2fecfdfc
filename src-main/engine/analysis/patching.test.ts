/**
 * Patching sweeps against what patching must give by construction: nothing when the two
 * prompts are the same, full recovery when a whole layer-0 input or the last residual is
 * restored; per-head cells equal to the same patch run alone through a plan; prompts of
 * different lengths patched at their paired positions; and batching that changes the
 * number of passes, never the numbers.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { useRandomModel } from '../../test/fixtures/random-engine';
import type { HfConfig } from '../../test/fixtures/fixture-families';
import { writePhi3Tokenizer } from '../../test/fixtures/phi3-tokenizer';
import { hookName } from '../hooks/names';
import { expectEngineError } from '../../test/expect-engine-error';
import { patchingSweep } from './patching';
import { patchResultSchema, type PatchRequestInput, type PatchResult } from '../../../src-shared/analysis-schema';

const loaded = useRandomModel('patching', { config: 'HuggingFaceTB__SmolLM2-135M-Instruct', layers: 3, dModel: 64, dMlp: 128, nHeads: 4, nKvHeads: 2, dHead: 16, seed: 9 });
// Families whose positions enter differently: learned position embeddings (GPT-2), and sliding windows shorter than the prompts (Gemma 3: blocks 0 and 1 see 5 keys).
const gpt2 = useRandomModel('patching-gpt2', { config: 'openai-community__gpt2', layers: 3, dModel: 64, dMlp: 128, nHeads: 4, nKvHeads: 4, dHead: 16, seed: 10 });
const gemma3 = useRandomModel('patching-gemma3', {
  config: 'google__gemma-3-1b-it',
  tokenizer: 'HuggingFaceTB__SmolLM2-135M-Instruct',
  layers: 3, dModel: 40, dMlp: 96, nHeads: 4, nKvHeads: 1, dHead: 16, seed: 11,
  configFields: { sliding_window: 5, sliding_window_pattern: 3, query_pre_attn_scalar: 32 },
});
// LongRoPE with original_max_position_embeddings shrunk to 8: the 9- and 10-token prompts run on the long factors, their kept prefixes too.
const phi3 = useRandomModel('patching-phi3', {
  config: JSON.parse(readFileSync(join(__dirname, '../../test/fixtures/phi3/Phi-3-mini-128k-instruct.config.json'), 'utf8')) as HfConfig,
  tokenizer: writePhi3Tokenizer,
  maxPositions: 256,
  layers: 2, dModel: 64, dMlp: 128, nHeads: 4, nKvHeads: 4, dHead: 16, seed: 12,
});
let clean: number[];
let corrupted: number[];
const ANSWER = 100;
const WRONG = 200;

beforeAll(() => {
  clean = loaded.handle.tokenizer.encode('The cat sat on the mat');
  corrupted = loaded.handle.tokenizer.encode('The dog ran to the car').slice(0, clean.length);
  expect(corrupted).toHaveLength(clean.length);
});

describe('activation patching sweep', () => {
  it('has zero effect everywhere when clean and corrupted are the same prompt', async () => {
    const result = await patchingSweep(loaded.handle, { clean, corrupted: clean, answer: ANSWER, wrong: WRONG });
    expect(result.effect.flat().every((effect) => effect === 0)).toBe(true);
    for (const value of result.value.flat()) expect(Math.abs(value - result.clean.value)).toBeLessThan(1e-4);
    expect(result.warnings[0]).toContain('nothing to restore');
    expect(patchResultSchema.parse(result)).toEqual(result); // what experiment files keep
  });

  it('fully recovers the clean run from every position of resid_pre at block 0, and from the last resid_post', async () => {
    const whole = await patchingSweep(loaded.handle, { clean, corrupted, answer: ANSWER, wrong: WRONG, positions: 'all' });
    expect(whole.columnKind).toBe('all_positions');
    expect(whole.clean.logitDiff).not.toBeCloseTo(whole.corrupted.logitDiff, 2);
    expect(whole.effect[0][0]).toBeCloseTo(1, 4);
    expect(whole.value[0][0]).toBeCloseTo(whole.clean.logitDiff, 4);

    const last = await patchingSweep(loaded.handle, { clean, corrupted, answer: ANSWER, wrong: WRONG, site: 'resid_post' });
    expect(last.effect[last.layers.length - 1][clean.length - 1]).toBeCloseTo(1, 4);
    // The last position's logits never read later positions' final residual.
    expect(last.effect[last.layers.length - 1][0]).toBeCloseTo(0, 4);
  });

  it('noising mirrors it: writing the corrupted run into the clean one gives -1', async () => {
    const result = await patchingSweep(loaded.handle, { clean, corrupted, answer: ANSWER, wrong: WRONG, positions: 'all', direction: 'noising', metric: 'prob' });
    expect(result.effect[0][0]).toBeCloseTo(-1, 4);
    expect(result.value[0][0]).toBeCloseTo(result.corrupted.answerProb, 6);
  });

  it('patches a head as the same patch run alone through a plan does', async () => {
    const result = await patchingSweep(loaded.handle, { clean, corrupted, answer: ANSWER, wrong: WRONG, site: 'z', batchSize: 5 });
    expect(result.columnKind).toBe('head');
    expect(result.columns).toEqual([0, 1, 2, 3]);
    const layer = 1;
    const head = 2;
    const hook = hookName.z(layer);
    const capture = async (ids: number[]) => (await loaded.handle.run(ids, { captures: [{ hook, positions: 'all' }] })).captures[hook].data;
    const [cleanZ, corruptedZ] = [await capture(clean), await capture(corrupted)];
    const width = cleanZ.length / clean.length;
    const rows = clean.map((_, p) => {
      const row = Array.from(corruptedZ.subarray(p * width, (p + 1) * width));
      for (let i = head * 16; i < (head + 1) * 16; i++) row[i] = cleanZ[p * width + i];
      return row;
    });
    const { logits } = await loaded.handle.run(corrupted, { interventions: [{ op: 'patch', hook, positions: 'all', source: { values: rows } }] });
    const last = logits[logits.length - 1];
    expect(result.value[layer][head]).toBeCloseTo(last[ANSWER] - last[WRONG], 4);
  });

  it('gives the same cells in one pass per cell as batched, in fewer passes', async () => {
    const request = { clean, corrupted, answer: ANSWER, wrong: WRONG, metric: 'kl' as const };
    const single = await patchingSweep(loaded.handle, { ...request, batchSize: 1 });
    const batched = await patchingSweep(loaded.handle, { ...request, batchSize: 64 });
    expect(single.cells).toBe(3 * clean.length);
    expect(single.forwardPasses).toBe(1 + single.cells);
    expect(batched.forwardPasses).toBe(1 + 3); // a pass per segment of blocks (sweep-passes.ts), here a layer each
    batched.value.flat().forEach((value, i) => expect(value).toBeCloseTo(single.value.flat()[i], 5));
  });

  it('pairs the positions of prompts of different lengths: a cell is the same patch, at its paired position, run alone', async () => {
    const longer = [corrupted[0], 300, ...corrupted.slice(1)]; // one token more, after the first
    const result = await patchingSweep(loaded.handle, { clean, corrupted: longer, answer: ANSWER, wrong: WRONG, alignment: 'end', batchSize: 7 });
    expect(result.columns).toEqual(clean.map((_, p) => p)); // every clean position has a pair, one later in the longer prompt
    expect(result.forwardPasses).toBe(2 + 3); // the baselines take a pass each, then a pass per segment (a layer each here)
    const [layer, cleanPosition] = [1, 3];
    const hook = hookName.residPre(layer);
    const cleanRows = (await loaded.handle.run(clean, { captures: [{ hook, positions: 'all' }] })).captures[hook].data;
    const row = Array.from(cleanRows.subarray(cleanPosition * 64, (cleanPosition + 1) * 64));
    const { logits } = await loaded.handle.run(longer, { interventions: [{ op: 'patch', hook, positions: [cleanPosition + 1], source: { values: [row] } }] });
    const last = logits[logits.length - 1];
    expect(result.value[layer][result.columns.indexOf(cleanPosition)]).toBeCloseTo(last[ANSWER] - last[WRONG], 4);
    // Explicit pairs: the same cell, asked for alone.
    const one = await patchingSweep(loaded.handle, { clean, corrupted: longer, answer: ANSWER, wrong: WRONG, alignment: [[cleanPosition, cleanPosition + 1]] });
    expect(one.columns).toEqual([cleanPosition]);
    expect(one.value[layer][0]).toBeCloseTo(result.value[layer][result.columns.indexOf(cleanPosition)], 5);
  });

  it('gives prompts of one length the same cells with a start alignment as without one', async () => {
    const plain = await patchingSweep(loaded.handle, { clean, corrupted, answer: ANSWER, wrong: WRONG, direction: 'noising' });
    const aligned = await patchingSweep(loaded.handle, { clean, corrupted, answer: ANSWER, wrong: WRONG, direction: 'noising', alignment: 'start' });
    expect(aligned.value).toEqual(plain.value);
    expect(aligned.forwardPasses).toBe(plain.forwardPasses);
  });

  it('names a bad alignment', async () => {
    const longer = [...corrupted, 300];
    await expectEngineError(() => patchingSweep(loaded.handle, { clean, corrupted: longer, answer: ANSWER, wrong: WRONG, alignment: [[2, 2], [1, 3]] }), 'bad_argument', 'alignment.1: pairs must increase in both positions');
    await expectEngineError(() => patchingSweep(loaded.handle, { clean, corrupted: longer, answer: ANSWER, wrong: WRONG, alignment: [[0, 99]] }), 'bad_argument', 'alignment.0: corrupted position 99 is past');
  });

  it('reports progress, stops when cancelled, and names a bad request', async () => {
    const abort = new AbortController();
    const seen: number[] = [];
    await expectEngineError(
      () => patchingSweep(loaded.handle, { clean, corrupted, answer: ANSWER, wrong: WRONG, batchSize: 4 }, { signal: abort.signal, onProgress: (progress) => (seen.push(progress.done), progress.done === 2 && abort.abort()) }),
      'cancelled',
      'patching sweep cancelled',
    );
    expect(seen).toEqual([1, 2]);
    await expectEngineError(() => patchingSweep(loaded.handle, { clean, corrupted: clean.slice(1), answer: ANSWER, wrong: WRONG }), 'bad_argument', 'corrupted: has', 'equal token length, or an alignment');
    await expectEngineError(() => patchingSweep(loaded.handle, { clean, corrupted, answer: ANSWER, wrong: 10 ** 7 }), 'bad_argument', 'wrong: token 10000000');
  });
});

/** The largest difference between two sweeps' grids (effect or value), cell by cell. */
function maxDifference(a: PatchResult, b: PatchResult, grid: 'effect' | 'value'): number {
  expect([a.layers, a.columns]).toEqual([b.layers, b.columns]);
  const other = b[grid].flat();
  return Math.max(...a[grid].flat().map((x, i) => Math.abs(x - other[i])));
}

describe('reusing the base run (its prefix and the blocks below a segment)', () => {
  const prompts = (ids: number[]) => ({ clean: ids, corrupted: ids.map((id, p) => (p === 2 || p === 6 ? id + 1000 : id)) });
  const models = [
    { name: 'Llama (SmolLM2)', loaded, ids: () => clean },
    { name: 'GPT-2 (learned positions)', loaded: gpt2, ids: () => [15496, 995, 11, 262, 3290, 4966, 13, 314, 1101] },
    { name: 'Gemma 3 (windows of 5)', loaded: gemma3, ids: () => [19556, 905, 28, 260, 2767, 7674, 30, 411, 906] },
    { name: 'Phi-3 (LongRoPE long factors)', loaded: phi3, ids: () => [15043, 3186, 29892, 278, 11203, 6350, 29889, 450, 1063] },
  ];

  for (const { name, loaded: model, ids } of models) {
    it(`gives the sweep without it, to float32 rounding, in fewer fed positions: ${name}`, async () => {
      const { clean: c, corrupted: r } = prompts(ids());
      const longer = [r[0], 3000, ...r.slice(1)]; // the corrupted prompt one token longer, paired from the end
      const requests: PatchRequestInput[] = [
        { clean: c, corrupted: r, answer: ANSWER, wrong: WRONG, batchSize: 5 },
        { clean: c, corrupted: r, answer: ANSWER, wrong: WRONG, direction: 'noising', metric: 'kl', batchSize: 4 },
        { clean: c, corrupted: longer, answer: ANSWER, wrong: WRONG, alignment: 'end', batchSize: 7 },
        { clean: c, corrupted: longer, answer: ANSWER, wrong: WRONG, alignment: 'end', direction: 'noising', site: 'attn_out', batchSize: 6 },
        // Every position at once: the base (corrupted) prompt's first position has no pair, so the cells start after it.
        { clean: c, corrupted: longer, answer: ANSWER, wrong: WRONG, alignment: 'end', positions: 'all', site: 'mlp_out' },
      ];
      for (const request of requests) {
        const reused = await patchingSweep(model.handle, request);
        const full = await patchingSweep(model.handle, request, {}, { reuseBaseRun: false });
        // Equal up to float32 rounding (batches of other sizes, a prefix computed in the baseline pass).
        // The effect divides the metric by the runs' gap, and its rounding with it.
        const gap = Math.abs(reused.clean.value - reused.corrupted.value);
        expect(gap).toBeGreaterThan(1e-3); // the prompts differ: effects are not all 0
        expect(maxDifference(reused, full, 'value')).toBeLessThanOrEqual(1e-5);
        expect(maxDifference(reused, full, 'effect') * Math.min(1, gap)).toBeLessThanOrEqual(1e-5);
        const fullPass = (request.direction === 'noising' ? request.clean : request.corrupted).length * model.handle.spec.nLayers;
        expect(full.blockPositions).toBe(full.cells * fullPass);
        expect(reused.blockPositions).toBeLessThan(full.cells * fullPass);
      }
    });
  }

  it('skips only the blocks below each segment where every cell patches the first position: per head', async () => {
    const request: PatchRequestInput = { clean, corrupted, answer: ANSWER, wrong: WRONG, site: 'z' };
    const reused = await patchingSweep(loaded.handle, request);
    // 3 layers, a segment each: the 4 head cells of layer L run the whole prompt through blocks L..2.
    expect(reused.blockPositions).toBe(4 * clean.length * (3 + 2 + 1));
    expect(reused.forwardPasses).toBe(1 + 3);
    const full = await patchingSweep(loaded.handle, request, {}, { reuseBaseRun: false });
    expect(maxDifference(reused, full, 'value')).toBeLessThanOrEqual(1e-5);
    expect(maxDifference(reused, full, 'effect') * Math.min(1, Math.abs(full.clean.value - full.corrupted.value))).toBeLessThanOrEqual(1e-5);
  });
});
