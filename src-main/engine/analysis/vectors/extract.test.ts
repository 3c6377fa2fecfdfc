/**
 * Extraction against references computed here: mean differences and PCA from activations
 * captured one prompt at a time (so the batching by length is checked too), the principal
 * component by a different algorithm (power iteration on the d x d covariance), repeng's
 * sign rule, and ActAdd's padded per-position difference (function vectors:
 * function-vector.test.ts).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine, type ModelHandle } from '../../engine';
import { hookName } from '../../hooks/names';
import { buildRandomModel, type RandomModel } from '../../../test/fixtures/random-model';
import { expectEngineError } from '../../../test/expect-engine-error';
import { actAdd, actAddInterventions } from './actadd';
import { extractVectors } from './extract';
import { dot, firstPrincipalComponent, signCorrected } from './pca';

const workDir = mkdtempSync(join(tmpdir(), 'tiller-extract-'));
let engine: Engine;
let model: RandomModel;
let handle: ModelHandle;

beforeAll(async () => {
  engine = Engine.create({ cacheDir: join(workDir, 'cache'), threads: 1 });
  model = buildRandomModel(join(workDir, 'model'), { config: 'HuggingFaceTB__SmolLM2-135M-Instruct', layers: 3, dModel: 64, dMlp: 128, nHeads: 4, nKvHeads: 2, dHead: 16, seed: 11 });
  handle = await engine.loadModel(model.dir);
});

afterAll(async () => {
  await engine.close();
  rmSync(workDir, { recursive: true, force: true });
});

const positive = ['I love this sunny day', 'What a wonderful gift', 'We are so happy together', 'Joy', 'The best news ever'];
const negative = ['I hate this rainy day', 'What a terrible loss', 'We are so sad apart', 'Grief', 'The worst news ever'];
const hooks = [hookName.residPost(0), hookName.residPre(2)];

/** Activations of one prompt at one hook, every position, from an unbatched run. */
async function captured(text: string, hook: string): Promise<{ rows: Float64Array[]; own: number }> {
  const ids = handle.tokenizer.encode(text);
  const { captures } = await handle.run(ids, { captures: [{ hook, positions: 'all' }] });
  const width = captures[hook].data.length / ids.length;
  const rows = Array.from({ length: ids.length }, (_, p) => Float64Array.from(captures[hook].data.subarray(p * width, (p + 1) * width)));
  return { rows, own: handle.tokenizer.encode(text, { addSpecialTokens: false }).length };
}

const meanRows = (rows: Float64Array[]) => rows.reduce((sum, row) => sum.map((value, i) => value + row[i] / rows.length), new Float64Array(rows[0].length));
const norm = (v: ArrayLike<number>) => Math.sqrt(dot(v, v));

describe('contrast extraction', () => {
  it.each(['last', 'mean', 'answer'] as const)('mean difference, %s readout, equals the reference at every hook', async (readout) => {
    const result = await extractVectors(handle, { method: 'mean', positive, negative, hooks, readout, batchSize: 2 });
    const lengths = new Set([...positive, ...negative].map((text) => handle.tokenizer.encode(text).length));
    expect(result.forwardPasses).toBeGreaterThanOrEqual(lengths.size); // grouped by length, 2 rows a pass
    expect(result.forwardPasses).toBeLessThan(positive.length + negative.length);
    for (const [h, hook] of hooks.entries()) {
      const readOf = async (text: string) => {
        const { rows, own } = await captured(text, hook);
        if (readout === 'last') return [rows[rows.length - 1]];
        if (readout === 'answer') return [rows[rows.length - 2]];
        return rows.slice(rows.length - own);
      };
      const reads = async (texts: string[]) => Promise.all(texts.map(readOf));
      const plus = await reads(positive);
      const minus = await reads(negative);
      const a = meanRows(plus.map(meanRows));
      const b = meanRows(minus.map(meanRows));
      const expected = a.map((value, i) => value - b[i]);
      const actual = result.vectors[h];
      expect(actual.hook).toBe(hook);
      actual.vector.forEach((value, i) => expect(value).toBeCloseTo(expected[i], 4));
      expect(actual.norm).toBeCloseTo(norm(expected), 4);
      const all = [...plus, ...minus].flat();
      const residualNorm = all.reduce((sum, row) => sum + norm(row), 0) / all.length;
      expect(actual.residualNorm).toBeCloseTo(residualNorm, 3);
      expect(actual.relativeNorm).toBeCloseTo(norm(expected) / residualNorm, 5);
    }
  });

  it('PCA of the differences equals the covariance eigenvector, sign-corrected toward the positives', async () => {
    const result = await extractVectors(handle, { method: 'pca', positive, negative, hooks: [hooks[1]] });
    const last = async (text: string) => (await captured(text, hooks[1])).rows.at(-1) as Float64Array;
    const plus = await Promise.all(positive.map(last));
    const minus = await Promise.all(negative.map(last));
    const differences = plus.map((row, i) => row.map((value, j) => value - minus[i][j]));
    const d = differences[0].length;
    const mean = meanRows(differences);
    const centred = differences.map((row) => row.map((value, i) => value - mean[i]));
    // Power iteration on the d x d covariance: a different road to the same component.
    const covariance = Array.from({ length: d }, (_, i) => Float64Array.from({ length: d }, (_, j) => centred.reduce((sum, row) => sum + row[i] * row[j], 0)));
    let v = Float64Array.from({ length: d }, (_, i) => Math.sin(i + 1));
    for (let iteration = 0; iteration < 3000; iteration++) {
      const next = covariance.map((row) => dot(row, v));
      const length = norm(next);
      v = Float64Array.from(next, (value) => value / length);
    }
    const above = plus.filter((row, i) => dot(row, v) > dot(minus[i], v)).length;
    if (above < plus.length - above) v = v.map((value) => -value);
    const actual = result.vectors[0];
    actual.vector.forEach((value, i) => expect(value).toBeCloseTo(v[i], 4));
    expect(actual.norm).toBeCloseTo(1, 5);
    expect(actual.explainedVariance).toBeGreaterThan(0);
    expect(actual.explainedVariance).toBeLessThanOrEqual(1);
  });

  it("flips a direction that points from the positives to the negatives (repeng's rule)", () => {
    const direction = Float32Array.from([1, 0]);
    const positives = [Float64Array.from([0, 1]), Float64Array.from([-1, 0]), Float64Array.from([-2, 5])];
    const negatives = [Float64Array.from([1, 1]), Float64Array.from([0, 0]), Float64Array.from([-3, 5])];
    const corrected = signCorrected(direction, positives, negatives);
    expect(corrected).toEqual({ direction: Float32Array.from([-1, -0]), flipped: true });
    expect(signCorrected(corrected.direction, positives, negatives).flipped).toBe(false);
  });

  it('PCA refuses what has no principal direction', async () => {
    await expectEngineError(() => firstPrincipalComponent([Float64Array.from([1, 2])]), 'bad_argument', 'at least 2 pairs');
    await expectEngineError(() => firstPrincipalComponent([Float64Array.from([1, 2]), Float64Array.from([1, 2])]), 'bad_argument', 'no principal direction');
    await expectEngineError(() => extractVectors(handle, { method: 'pca', positive, negative: negative.slice(1), hooks }), 'bad_argument', 'works on pairs');
  });

  it('refuses bad requests by field', async () => {
    await expectEngineError(() => extractVectors(handle, { positive: [], negative, hooks }), 'bad_argument', 'positive');
    await expectEngineError(() => extractVectors(handle, { positive, negative, hooks: ['blocks.9.hook_resid_post'] }), 'bad_argument', 'layer 9 is out of range');
    await expectEngineError(() => extractVectors(handle, { positive, negative, hooks: ['blocks.0.attn.hook_pattern'] }), 'bad_argument', 'one vector per position');
    await expectEngineError(() => extractVectors(handle, { positive, negative, hooks, readout: 'answer', answerPosition: -40 }), 'bad_argument', 'answer position -40');
  });
});

describe('ActAdd', () => {
  it('is the per-position difference of the pair padded with spaces to one length', async () => {
    const result = await actAdd(handle, 'Love', 'I hate it so', hooks[0]);
    const space = handle.tokenizer.encode(' ', { addSpecialTokens: false })[0];
    expect(result.positiveIds.length).toBe(result.negativeIds.length);
    expect(result.positiveIds.at(-1)).toBe(space);
    const run = async (ids: number[]) => (await handle.run(ids, { captures: [{ hook: hooks[0], positions: 'all' }] })).captures[hooks[0]].data;
    const plus = await run(result.positiveIds);
    const minus = await run(result.negativeIds);
    const d = handle.spec.dModel;
    result.rows.forEach((row, j) => row.forEach((value, i) => expect(value).toBeCloseTo(plus[j * d + i] - minus[j * d + i], 4)));
    const rowsOf = (data: Float32Array) => Array.from({ length: data.length / d }, (_, j) => data.subarray(j * d, (j + 1) * d));
    const all = [...rowsOf(plus), ...rowsOf(minus)];
    expect(result.residualNorm).toBeCloseTo(all.reduce((sum, row) => sum + norm(row), 0) / all.length, 4);
    const steps = actAddInterventions(result, 5);
    expect(steps.map((step) => step.op === 'add' && step.positions)).toEqual(result.rows.map((_, j) => [1 + j]));
  });
});
